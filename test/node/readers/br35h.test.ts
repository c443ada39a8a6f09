import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../../src/errors.js';
import { readBr35h } from '../../../src/node/readers/br35h.js';
import { tempDir, writeImage } from '../../data/helpers.js';

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  // Like the real set: y0.jpg … in yes/, no0.jpg … in no/, unlabelled pred/ alongside.
  for (let i = 0; i < 12; i++) await writeImage(join(root, 'yes', `y${i}.jpg`), 4, 4, i);
  for (let i = 0; i < 10; i++) await writeImage(join(root, 'no', `no${i}.jpg`), 4, 4, i);
  await writeImage(join(root, 'pred', 'pred0.jpg'), 4, 4);
});
afterEach(async () => cleanup());

describe('readBr35h', () => {
  it("reproduces the reference split: sorted names, first ⌊0.8·n⌋ of each class for training", async () => {
    const ds = await readBr35h(root);
    expect(ds.classes).toEqual(['no', 'yes']);
    expect(ds.normalClass).toBe('no');
    // String order, not numeric: no0, no1, no10?, … here no0…no9 → no0,no1,…,no9; yes: y0,y1,y10,y11,y2,…
    const trainYes = ds.train.filter((s) => s.className === 'yes').map((s) => s.path.split('/').pop());
    expect(trainYes).toEqual(['y0.jpg', 'y1.jpg', 'y10.jpg', 'y11.jpg', 'y2.jpg', 'y3.jpg', 'y4.jpg', 'y5.jpg', 'y6.jpg']); // ⌊9.6⌋
    const testYes = ds.test.filter((s) => s.className === 'yes').map((s) => s.path.split('/').pop());
    expect(testYes).toEqual(['y7.jpg', 'y8.jpg', 'y9.jpg']);
    expect(ds.train.filter((s) => s.className === 'no')).toHaveLength(8);
    expect(ds.test.filter((s) => s.className === 'no')).toHaveLength(2);
    expect(ds.train.every((s) => s.label === (s.className === 'yes' ? 1 : 0))).toBe(true);
    expect([...ds.train, ...ds.test].some((s) => s.path.includes('pred'))).toBe(false);
  });

  it('splits 80/20 per class (1500 → 1200/300 in the real set; 15 → 12/3 here) and honours trainFraction', async () => {
    for (let i = 10; i < 15; i++) await writeImage(join(root, 'no', `no${i}.jpg`), 4, 4, i);
    for (let i = 12; i < 15; i++) await writeImage(join(root, 'yes', `y${i}.jpg`), 4, 4, i);
    const ds = await readBr35h(root);
    for (const c of ['no', 'yes']) {
      expect(ds.train.filter((s) => s.className === c)).toHaveLength(12);
      expect(ds.test.filter((s) => s.className === c)).toHaveLength(3);
    }
    const half = await readBr35h(root, { trainFraction: 0.5 });
    expect(half.train.filter((s) => s.className === 'yes')).toHaveLength(7); // ⌊7.5⌋
  });

  it('validates options and folders', async () => {
    await expect(readBr35h(root, { normalClass: 'maybe' })).rejects.toThrow(InvalidArgumentError);
    await expect(readBr35h(root, { trainFraction: 1 })).rejects.toThrow(/trainFraction/);
    await rm(join(root, 'no'), { recursive: true });
    const e = await readBr35h(root).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(join(root, 'no'));
  });
});
