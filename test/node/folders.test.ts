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
import { CHECKPOINT_POINTER, checkpointFolder, modelFolder } from '../../src/node/folders.js';

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
