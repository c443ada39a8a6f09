/**
 * Record files and SHA-256 on Node: records read back by index (consecutive or not), files
 * written in lockstep appear only when complete, and a failed write leaves nothing behind.
 */

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openRecordFile, writeRecordFiles } from '../../src/node/record-file.js';
import { sha256Hex, sha256HexAsync } from '../../src/node/sha256.js';
import { tempDir } from '../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('ckaad-records-')));
afterAll(() => cleanup());

describe('record files', () => {
  it('read records by index, consecutive or not, and refuse bad indices and closed files', async () => {
    const path = join(dir, 'five.bin');
    await writeFile(path, Uint8Array.from({ length: 15 }, (_, i) => i));
    const file = openRecordFile(path, 3, 5);
    expect(Array.from(file.read([1, 2]))).toEqual([3, 4, 5, 6, 7, 8]);
    expect(Array.from(file.read([4, 0]))).toEqual([12, 13, 14, 0, 1, 2]);
    expect(() => file.read([5])).toThrow(/indices: expected integers in \[0, 5\)/);
    const long = openRecordFile(path, 3, 6);
    expect(() => long.read([5])).toThrow(/file shorter than expected/);
    long.close();
    file.close();
    expect(() => file.read([0])).toThrow(/closed/);
  });

  it('writes several files in lockstep, each whole or not at all', async () => {
    const paths = [join(dir, 'a.rgb'), join(dir, 'a.mask')];
    await writeRecordFiles(paths, [
      [Uint8Array.of(1, 2), Uint8Array.of(9)],
      [Uint8Array.of(3, 4), Uint8Array.of(8)],
    ]);
    expect(Array.from(openRecordFile(paths[0], 2, 2).read([0, 1]))).toEqual([1, 2, 3, 4]);
    expect(Array.from(openRecordFile(paths[1], 1, 2).read([1]))).toEqual([8]);

    async function* failing(): AsyncGenerator<Uint8Array[]> {
      yield [Uint8Array.of(1), Uint8Array.of(2)];
      throw new Error('stopped');
    }
    const other = [join(dir, 'b.rgb'), join(dir, 'b.mask')];
    await expect(writeRecordFiles(other, failing())).rejects.toThrow('stopped');
    const names = await readdir(dir);
    expect(names.filter((n) => n.startsWith('b.') || n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('sha256Hex', () => {
  it('hashes text, bytes and sequences of both as if concatenated', async () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(Uint8Array.of(97, 98, 99))).toBe(abc);
    expect(sha256Hex(['a', Uint8Array.of(98), 'c'])).toBe(abc);
    async function* parts() {
      yield 'ab';
      yield Uint8Array.of(99);
    }
    expect(await sha256HexAsync(parts())).toBe(abc);
  });
});
