import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../../src/errors.js';
import { FASHION_MNIST_CLASSES, idxPixels, readIdxDataset, readIdxImages, readIdxLabels } from '../../../src/node/readers/idx.js';
import { resizeBilinear } from '../../../src/data/resize.js';
import { tempDir } from '../../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

function idx3(count: number, rows: number, cols: number, fill: (i: number) => number): Buffer {
  const b = Buffer.alloc(16 + count * rows * cols);
  b.writeUInt32BE(0x00000803, 0);
  b.writeUInt32BE(count, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 0; i < count * rows * cols; i++) b[16 + i] = fill(i);
  return b;
}
function idx1(labels: number[]): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(0x00000801, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((v, i) => (b[8 + i] = v));
  return b;
}

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  // Train files gzipped, test files plain: both must be accepted.
  await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx3(5, 4, 3, (i) => i % 256)));
  await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx1([0, 1, 2, 1, 9])));
  await writeFile(join(dir, 't10k-images-idx3-ubyte'), idx3(2, 4, 3, (i) => 255 - i));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx1([1, 3]));
});
afterEach(async () => cleanup());

describe('IDX reader', () => {
  it('reads gzipped and plain files with a chosen normal class', async () => {
    const ds = await readIdxDataset(dir, { normalClass: 1 });
    expect(ds.trainImages).toMatchObject({ count: 5, rows: 4, cols: 3 });
    expect(ds.trainImages.data[13]).toBe(13);
    expect(ds.testImages.data[0]).toBe(255);
    expect(ds.normalClass).toBe('1');
    expect(ds.train.map((s) => [s.index, s.className, s.label])).toEqual([
      [0, '0', 1], [1, '1', 0], [2, '2', 1], [3, '1', 0], [4, '9', 1],
    ]);
    expect(ds.test.map((s) => s.label)).toEqual([0, 1]);
  });

  it('accepts class names (Fashion-MNIST) and rejects unknown ones', async () => {
    const ds = await readIdxDataset(dir, { normalClass: 'Trouser', classNames: FASHION_MNIST_CLASSES });
    expect(ds.train[1].className).toBe('Trouser');
    expect(ds.train[4].className).toBe('Ankle boot');
    await expect(readIdxDataset(dir, { normalClass: 'Hat', classNames: FASHION_MNIST_CLASSES })).rejects.toThrow(InvalidArgumentError);
    await expect(readIdxDataset(dir, { normalClass: 10 })).rejects.toThrow(/label value in \[0, 10\)/);
  });

  it('rejects bad magic, truncation, count mismatches and out-of-range labels', async () => {
    const p = join(dir, 'x-images');
    await writeFile(p, idx1([1, 2]));
    await expect(readIdxImages(p)).rejects.toThrow(/magic 0x00000801, expected an IDX3 image file/);
    await writeFile(p, idx3(3, 2, 2, () => 0).subarray(0, 20));
    await expect(readIdxImages(p)).rejects.toThrow(/truncated/);
    await writeFile(p, gzipSync(idx3(1, 2, 2, () => 0)).subarray(0, 15));
    await expect(readIdxImages(p)).rejects.toThrow(/corrupt or truncated gzip/);
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx1([1, 3, 4]));
    const e = await readIdxDataset(dir, { normalClass: 0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as Error).message).toMatch(/3 labels for 2 images/);
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx1([1, 12]));
    await expect(readIdxDataset(dir, { normalClass: 0 })).rejects.toThrow(/label 12 at index 1/);
    await expect(readIdxLabels(join(dir, 'absent'))).rejects.toThrow(/file not found/);
  });

  it('turns selected images into resized RGB pixels', async () => {
    const ds = await readIdxDataset(dir, { normalClass: 0 });
    const px = idxPixels(ds.trainImages, [2, 0], 6);
    expect(px.length).toBe(2 * 6 * 6 * 3);
    const gray = resizeBilinear({ data: ds.trainImages.data.subarray(24, 36), width: 3, height: 4, channels: 1 }, 6, 6).data;
    for (let i = 0; i < 36; i++) expect([px[3 * i], px[3 * i + 1], px[3 * i + 2]]).toEqual([gray[i], gray[i], gray[i]]);
    expect(() => idxPixels(ds.trainImages, [5], 6)).toThrow(InvalidArgumentError);
  });

  const FASHION = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(join(FASHION, 't10k-images-idx3-ubyte.gz')))('reads the Debian Fashion-MNIST files', async () => {
    const ds = await readIdxDataset(FASHION, { normalClass: 'Sneaker', classNames: FASHION_MNIST_CLASSES, name: 'fashion-mnist' });
    expect(ds.trainImages).toMatchObject({ count: 60000, rows: 28, cols: 28 });
    expect(ds.testImages.count).toBe(10000);
    expect(ds.test.filter((s) => s.label === 0)).toHaveLength(1000);
  });
});
