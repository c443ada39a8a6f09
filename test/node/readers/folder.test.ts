import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError } from '../../../src/errors.js';
import { readFolderDataset } from '../../../src/node/readers/folder.js';
import { tempDir, writeImage, writeMask } from '../../data/helpers.js';

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  await writeImage(join(root, 'normal', 'a.png'));
  await writeImage(join(root, 'normal', 'b.jpg'));
  await writeImage(join(root, 'anomalous', 'crack', 'c1.png'));
  await writeImage(join(root, 'anomalous', 'loose.png'));
  await writeImage(join(root, 'test', 'normal', 'n1.png'));
  await writeImage(join(root, 'test', 'anomalous', 'crack', 't1.png'));
  await writeImage(join(root, 'test', 'anomalous', 'dent', 't2.png'));
  await writeMask(join(root, 'test', 'masks', 'crack', 't1_mask.png'));
});
afterEach(async () => cleanup());

describe('readFolderDataset', () => {
  it('lists normal/, anomalous/<type>/, test/ and masks', async () => {
    const ds = await readFolderDataset(root);
    expect(ds.classes).toEqual(['normal', 'anomalous', 'crack', 'dent']);
    expect(ds.train.map((s) => [s.className, s.label])).toEqual([
      ['normal', 0], ['normal', 0], ['anomalous', 1], ['crack', 1],
    ]);
    expect(ds.test).toEqual([
      { path: join(root, 'test', 'normal', 'n1.png'), label: 0, className: 'normal' },
      { path: join(root, 'test', 'anomalous', 'crack', 't1.png'), label: 1, className: 'crack', maskPath: join(root, 'test', 'masks', 'crack', 't1_mask.png') },
      { path: join(root, 'test', 'anomalous', 'dent', 't2.png'), label: 1, className: 'dent' },
    ]);
  });

  it('works with normal/ only', async () => {
    await rm(join(root, 'anomalous'), { recursive: true });
    await rm(join(root, 'test'), { recursive: true });
    const ds = await readFolderDataset(root);
    expect(ds.train).toHaveLength(2);
    expect(ds.test).toEqual([]);
    expect(ds.classes).toEqual(['normal']);
  });

  it('names the missing pieces', async () => {
    await writeImage(join(root, 'test', 'anomalous', 'crack', 't3.png'));
    let e = await readFolderDataset(root).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(join(root, 'test', 'masks', 'crack', 't3_mask.png'));

    await rm(join(root, 'test', 'anomalous'), { recursive: true });
    e = await readFolderDataset(root).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'test', 'anomalous'));

    await rm(join(root, 'normal'), { recursive: true });
    e = await readFolderDataset(root).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'normal'));
    await expect(readFolderDataset(join(root, 'absent'))).rejects.toThrow(/folder not found/);
  });

  it("rejects an anomaly type called 'normal'", async () => {
    await writeImage(join(root, 'anomalous', 'normal', 'x.png'));
    await expect(readFolderDataset(root)).rejects.toThrow(/cannot be called 'normal'/);
  });
});
