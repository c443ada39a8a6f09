import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../../src/errors.js';
import { readMvtec } from '../../../src/node/readers/mvtec.js';
import { tempDir, writeImage, writeMask } from '../../data/helpers.js';

let root: string;
let cleanup: () => Promise<void>;

/** A tiny MVTec AD category laid out like the real thing. */
async function makeCategory(category: string): Promise<void> {
  const c = join(root, category);
  for (const n of ['000', '001', '002']) await writeImage(join(c, 'train', 'good', `${n}.png`));
  for (const n of ['000', '001']) await writeImage(join(c, 'test', 'good', `${n}.png`));
  for (const defect of ['scratch', 'broken_large']) {
    for (const n of ['000', '001']) {
      await writeImage(join(c, 'test', defect, `${n}.png`));
      await writeMask(join(c, 'ground_truth', defect, `${n}_mask.png`));
    }
  }
}

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  await makeCategory('bottle');
});
afterEach(async () => cleanup());

describe('readMvtec', () => {
  it('lists train/good, test classes and pairs masks by name', async () => {
    const ds = await readMvtec(root, { category: 'bottle' });
    expect(ds.name).toBe('mvtec-ad');
    expect(ds.normalClass).toBe('good');
    expect(ds.classes).toEqual(['good', 'broken_large', 'scratch']);
    expect(ds.train.map((s) => s.path)).toEqual(['000', '001', '002'].map((n) => join(root, 'bottle', 'train', 'good', `${n}.png`)));
    expect(ds.train.every((s) => s.label === 0 && s.className === 'good' && s.maskPath === undefined)).toBe(true);
    expect(ds.test).toHaveLength(6);
    const good = ds.test.filter((s) => s.className === 'good');
    expect(good.every((s) => s.label === 0 && s.maskPath === undefined)).toBe(true);
    const scratch = ds.test.filter((s) => s.className === 'scratch');
    expect(scratch.map((s) => [s.label, s.maskPath])).toEqual([
      [1, join(root, 'bottle', 'ground_truth', 'scratch', '000_mask.png')],
      [1, join(root, 'bottle', 'ground_truth', 'scratch', '001_mask.png')],
    ]);
    expect(ds.validation).toBeUndefined();
  });

  it('rejects an unknown category, listing the available ones', async () => {
    await makeCategory('cable');
    const e = await readMvtec(root, { category: 'bottel' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as Error).message).toMatch(/'bottle', 'cable'/);
    await expect(readMvtec(root, { category: '' })).rejects.toThrow(InvalidArgumentError);
  });

  it('names the missing mask', async () => {
    await rm(join(root, 'bottle', 'ground_truth', 'scratch', '001_mask.png'));
    const e = await readMvtec(root, { category: 'bottle' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(join(root, 'bottle', 'ground_truth', 'scratch', '001_mask.png'));
  });

  it('names missing and empty folders', async () => {
    await rm(join(root, 'bottle', 'train'), { recursive: true });
    let e = await readMvtec(root, { category: 'bottle' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(join(root, 'bottle', 'train'));
    expect((e as Error).message).toMatch(/folder not found/);

    await mkdir(join(root, 'bottle', 'train', 'good'), { recursive: true });
    e = await readMvtec(root, { category: 'bottle' }).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'bottle', 'train', 'good'));
    expect((e as Error).message).toMatch(/no images/);

    await writeImage(join(root, 'bottle', 'train', 'good', '000.png'));
    await mkdir(join(root, 'bottle', 'test', 'crack'));
    e = await readMvtec(root, { category: 'bottle' }).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'bottle', 'test', 'crack'));
  });

  it('rejects a training folder other than good', async () => {
    await writeImage(join(root, 'bottle', 'train', 'scratch', '000.png'));
    await expect(readMvtec(root, { category: 'bottle' })).rejects.toThrow(/only train\/good/);
  });
});
