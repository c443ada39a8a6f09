import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../../src/errors.js';
import { readChestXray } from '../../../src/node/readers/chest-xray.js';
import { readOct2017 } from '../../../src/node/readers/oct.js';
import { tempDir, writeImage } from '../../data/helpers.js';

let root: string;
let cleanup: () => Promise<void>;

async function makeSplits(classes: Record<string, number>, splits = ['train', 'test']): Promise<void> {
  for (const split of splits) {
    for (const [cls, n] of Object.entries(classes)) {
      for (let i = 0; i < n; i++) await writeImage(join(root, split, cls, `${cls}-${i}.jpeg`));
    }
  }
}

beforeEach(async () => ({ dir: root, cleanup } = await tempDir()));
afterEach(async () => cleanup());

describe('readChestXray', () => {
  it('lists train/test with NORMAL as normal, and val/ when present', async () => {
    await makeSplits({ NORMAL: 2, PNEUMONIA: 3 });
    let ds = await readChestXray(root);
    expect(ds.name).toBe('chest-xray');
    expect(ds.classes).toEqual(['NORMAL', 'PNEUMONIA']);
    expect(ds.train.map((s) => [s.className, s.label])).toEqual([
      ['NORMAL', 0], ['NORMAL', 0], ['PNEUMONIA', 1], ['PNEUMONIA', 1], ['PNEUMONIA', 1],
    ]);
    expect(ds.train[0].path).toBe(join(root, 'train', 'NORMAL', 'NORMAL-0.jpeg'));
    expect(ds.test).toHaveLength(5);
    expect(ds.validation).toBeUndefined();

    await makeSplits({ NORMAL: 1, PNEUMONIA: 1 }, ['val']);
    ds = await readChestXray(root);
    expect(ds.validation).toHaveLength(2);
  });

  it('can treat the other class as normal (labels follow the chosen class)', async () => {
    await makeSplits({ NORMAL: 1, PNEUMONIA: 1 });
    const ds = await readChestXray(root, { normalClass: 'pneumonia' });
    expect(ds.normalClass).toBe('PNEUMONIA');
    expect(ds.test.map((s) => [s.className, s.label])).toEqual([['NORMAL', 1], ['PNEUMONIA', 0]]);
  });

  it('matches class folders case-insensitively', async () => {
    await makeSplits({ normal: 1, pneumonia: 1 });
    const ds = await readChestXray(root);
    expect(ds.train.map((s) => s.className)).toEqual(['NORMAL', 'PNEUMONIA']);
  });

  it('names the folder for missing, empty and unexpected classes', async () => {
    await makeSplits({ NORMAL: 1, PNEUMONIA: 1 });
    await rm(join(root, 'test', 'PNEUMONIA'), { recursive: true });
    let e = await readChestXray(root).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(join(root, 'test', 'PNEUMONIA'));
    expect((e as Error).message).toMatch(/missing class folder/);

    await mkdir(join(root, 'test', 'PNEUMONIA'));
    e = await readChestXray(root).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/no images/);

    await writeImage(join(root, 'test', 'PNEUMONIA', 'a.jpeg'));
    await writeImage(join(root, 'train', 'COVID', 'a.jpeg'));
    e = await readChestXray(root).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'train', 'COVID'));
    expect((e as Error).message).toMatch(/unexpected class folder 'COVID' \(expected NORMAL, PNEUMONIA\)/);
  });

  it('rejects an unknown normal class and a missing split', async () => {
    await makeSplits({ NORMAL: 1, PNEUMONIA: 1 });
    await expect(readChestXray(root, { normalClass: 'HEALTHY' })).rejects.toThrow(InvalidArgumentError);
    await rename(join(root, 'test'), join(root, 'testing'));
    await expect(readChestXray(root)).rejects.toThrow(/test: folder not found|folder not found/);
  });
});

describe('readOct2017', () => {
  it('lists the four classes with NORMAL first and sorted files', async () => {
    await makeSplits({ NORMAL: 2, CNV: 1, DME: 1, DRUSEN: 2 });
    const ds = await readOct2017(root);
    expect(ds.name).toBe('oct2017');
    expect(ds.classes).toEqual(['NORMAL', 'CNV', 'DME', 'DRUSEN']);
    expect(ds.train.map((s) => s.className)).toEqual(['NORMAL', 'NORMAL', 'CNV', 'DME', 'DRUSEN', 'DRUSEN']);
    expect(ds.train.filter((s) => s.label === 1)).toHaveLength(4);
  });

  it('requires every class in every split', async () => {
    await makeSplits({ NORMAL: 1, CNV: 1, DME: 1 });
    const e = await readOct2017(root).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'train', 'DRUSEN'));
  });
});
