/**
 * The Node storages: a checkpoint folder keeps the previous complete generation through a
 * crash at any point and cleans up what an interrupted save left; a model folder is replaced
 * whole or not at all.
 */

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileFormatError } from '../../src/errors.js';
import { removeAbandoned } from '../../src/node/atomic.js';
import { CHECKPOINT_POINTER, checkpointFolder, cleanCheckpointFolder, modelFolder } from '../../src/node/folders.js';
import { deadPid } from '../processes.js';

let scratch = '';
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ckaad-folders-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const files = (text: string) => new Map([['a.bin', new TextEncoder().encode(text)], ['b.json', new TextEncoder().encode(`{"v":"${text}"}`)]]);
const text = (bytes: Uint8Array | null) => (bytes === null ? null : new TextDecoder().decode(bytes));

describe('checkpointFolder', () => {
  it('reads nothing before the first save, then the last complete save', async () => {
    const storage = checkpointFolder(join(scratch, 'c1'));
    expect(await storage.read('a.bin')).toBeNull();
    await storage.write(files('one'));
    await storage.write(files('two'));
    expect(text(await storage.read('a.bin'))).toBe('two');
    expect(text(await storage.read('b.json'))).toBe('{"v":"two"}');
    expect(await storage.read('missing')).toBeNull();
    const entries = (await readdir(join(scratch, 'c1'))).sort();
    expect(entries).toHaveLength(2);
    expect(entries[0]).toBe(CHECKPOINT_POINTER);
    expect(entries[1]).toMatch(/^gen-00000002-[0-9a-f]+$/);
  });

  it('a save that dies half-way leaves the previous generation in force; the next save cleans up', async () => {
    const dir = join(scratch, 'c2');
    const storage = checkpointFolder(dir);
    await storage.write(files('good'));
    // Killed while writing its files (staging folder left), and killed after renaming the
    // generation but before moving the pointer (orphan generation left).
    await mkdir(join(dir, '.gen-00000002-cafe.tmp'));
    await writeFile(join(dir, '.gen-00000002-cafe.tmp', 'a.bin'), 'partial');
    await mkdir(join(dir, 'gen-00000002-deadbeef'));
    await writeFile(join(dir, 'gen-00000002-deadbeef', 'a.bin'), 'orphan');
    await writeFile(join(dir, 'user-notes.txt'), 'not ours');
    expect(text(await storage.read('a.bin'))).toBe('good');
    await storage.write(files('next'));
    expect(text(await storage.read('a.bin'))).toBe('next');
    const entries = (await readdir(dir)).sort();
    expect(entries.filter((e) => e.startsWith('gen-') || e.startsWith('.gen-'))).toHaveLength(1);
    expect(entries).toContain('user-notes.txt'); // only our own names are removed
  });

  it('rejects a broken pointer and a checkpoint of ckaad 0.1, naming the file', async () => {
    const dir = join(scratch, 'c3');
    await mkdir(dir);
    await writeFile(join(dir, CHECKPOINT_POINTER), '{ nope');
    await expect(checkpointFolder(dir).read('a.bin')).rejects.toThrow(/current\.json: not valid JSON/);
    await writeFile(join(dir, CHECKPOINT_POINTER), '{"format": "ckaad-checkpoint-folder", "generation": "../../etc"}');
    await expect(checkpointFolder(dir).read('a.bin')).rejects.toThrow(FileFormatError);
    const old = join(scratch, 'c4');
    await mkdir(old);
    await writeFile(join(old, 'checkpoint.json'), '{"format": "ckaad-checkpoint", "version": 1}');
    await expect(checkpointFolder(old).read('checkpoint.json')).rejects.toThrow(/checkpoint of ckaad 0\.1/);
  });
});

describe('modelFolder', () => {
  it('writes all files at once and reads them back; a failed write leaves the old model', async () => {
    const dir = join(scratch, 'm1');
    const storage = modelFolder(dir);
    await storage.write(new Map([['model.json', new TextEncoder().encode('{"format": "ckaad-model"}')]]));
    expect(text(await storage.read('model.json'))).toBe('{"format": "ckaad-model"}');
    // Not allowed to replace it without overwrite: the folder is unchanged.
    await expect(storage.write(new Map([['model.json', new Uint8Array(1)]]))).rejects.toThrow(/overwrite/);
    expect(await readFile(join(dir, 'model.json'), 'utf8')).toBe('{"format": "ckaad-model"}');
    expect((await readdir(scratch)).filter((e) => e.startsWith('.m1.'))).toEqual([]);
  });
});

describe('what killed runs left beside a folder (removeAbandoned)', () => {
  it('a save killed with SIGKILL half-way: the next save of that model removes its staging folder', async () => {
    const { spawnSync } = await import('node:child_process');
    const target = join(scratch, 'killed', 'model');
    await mkdir(join(scratch, 'killed'));
    // A separate process starts a save (its staging folder with a partial file) and is killed.
    const script = [
      `import { mkdir, writeFile } from 'node:fs/promises';`,
      `import { temporarySibling } from ${JSON.stringify(join(process.cwd(), 'src/node/atomic.ts'))};`,
      `const staging = await temporarySibling(${JSON.stringify(target)});`,
      `await mkdir(staging); await writeFile(staging + '/autoencoder.safetensors', 'partial');`,
      `process.kill(process.pid, 'SIGKILL');`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    const left = await readdir(join(scratch, 'killed'));
    expect(left).toEqual([expect.stringMatching(/^\.model\.\d+-[0-9a-f]{12}\.tmp$/)]);
    await modelFolder(target).write(files('new'));
    expect((await readdir(join(scratch, 'killed'))).sort()).toEqual(['model']);
  });

  it("removes only our names of dead processes; keeps a live process's and anything else", async () => {
    const dir = join(scratch, 'mixed');
    await mkdir(join(dir, 'out'), { recursive: true });
    const dead = await deadPid();
    const names = {
      dead: `.out.${dead}-0123456789ab.tmp`,
      deadAside: `.out.${dead}-0123456789ab.tmp.old`,
      legacy: '.out.0123456789ab.tmp', // 0.2.0's staging name
      live: `.out.${process.pid}-0123456789ab.tmp`,
      user: '.out.mine.tmp',
      other: `.other.${dead}-0123456789ab.tmp`,
    };
    for (const name of Object.values(names)) await mkdir(join(dir, name));
    const removed = await removeAbandoned(join(dir, 'out'));
    expect(removed.sort()).toEqual([names.dead, names.deadAside, names.legacy].sort());
    expect((await readdir(dir)).sort()).toEqual(['out', names.live, names.user, names.other].sort());
  });

  it('a folder swap cut between its two renames is completed: the new folder, else the old one, takes the name', async () => {
    const dir = join(scratch, 'swap');
    await mkdir(dir);
    const dead = await deadPid();
    const staging = join(dir, `.m.${dead}-0123456789ab.tmp`);
    await mkdir(staging);
    await writeFile(join(staging, 'model.json'), 'new');
    await mkdir(`${staging}.old`);
    await writeFile(join(`${staging}.old`, 'model.json'), 'old');
    await removeAbandoned(join(dir, 'm'));
    expect(await readdir(dir)).toEqual(['m']);
    expect(await readFile(join(dir, 'm', 'model.json'), 'utf8')).toBe('new');
    // Only the aside copy left (the new folder never got complete): the previous one comes back.
    await rm(join(dir, 'm'), { recursive: true });
    await mkdir(`${staging}.old`);
    await writeFile(join(`${staging}.old`, 'model.json'), 'old');
    await removeAbandoned(join(dir, 'm'));
    expect(await readdir(dir)).toEqual(['m']);
    expect(await readFile(join(dir, 'm', 'model.json'), 'utf8')).toBe('old');
  });

  it('cleanCheckpointFolder removes abandoned generations, staging folders and pointer temporaries, not the current generation', async () => {
    const root = join(scratch, 'ckpt-clean');
    await checkpointFolder(root).write(files('one'));
    const [current] = (await readdir(root)).filter((n) => n.startsWith('gen-'));
    const dead = await deadPid();
    const leftovers = ['.gen-00000002-abcd1234.tmp', 'gen-00000000-deadbeef', `.${CHECKPOINT_POINTER}.${dead}-0123456789ab.tmp`];
    for (const name of leftovers) await mkdir(join(root, name));
    expect((await cleanCheckpointFolder(root)).sort()).toEqual([...leftovers].sort());
    expect((await readdir(root)).sort()).toEqual([CHECKPOINT_POINTER, current]);
    expect(text(await checkpointFolder(root).read('a.bin'))).toBe('one');
  });
});
