import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { decodeImage } from '../../src/node/images.js';
import { batchStream, decodeStream, loadImages, masksToTensor, pixelsToTensor, preprocessBatch, type SkippedImage } from '../../src/node/stream.js';
import { encode, gradient, tempDir, writeImage, writeMask } from '../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let paths: string[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  ({ dir, cleanup } = await tempDir());
  paths = [];
  for (let i = 0; i < 7; i++) {
    const p = join(dir, `img${i}.png`);
    await writeImage(p, 12 + i, 10, i); // different sizes and contents
    paths.push(p);
  }
});
afterAll(async () => cleanup());

describe('decodeStream', () => {
  it('yields every file resized, in input order, whatever finishes first', async () => {
    const seen: number[] = [];
    for await (const d of decodeStream(paths, { size: 8, prefetch: 3 })) {
      seen.push(d.index);
      expect(d.item).toBe(paths[d.index]);
      const direct = await decodeImage(paths[d.index], { size: 8 });
      expect([...d.image]).toEqual([...direct.data]);
      expect(d.mask).toBeUndefined();
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('keeps at most `prefetch` files in flight ahead of the consumer', async () => {
    let pulled = 0;
    async function* source() {
      for (const p of paths) {
        pulled++;
        yield p;
      }
    }
    const stream = decodeStream(source(), { size: 4, prefetch: 2 });
    await stream.next();
    expect(pulled).toBeLessThanOrEqual(3); // 2 in flight, plus the one just handed out replaced
    await stream.return({ decoded: 0, skipped: [] });
  });

  it('skips bad files when asked, reporting them; fails on them by default', async () => {
    const bad = join(dir, 'bad.png');
    const png = await encode(gradient(16, 16), 16, 16, 3, 'png');
    await writeFile(bad, png.subarray(0, png.length - 30));
    const list = [paths[0], bad, join(dir, 'missing.png'), paths[1]];
    const reported: SkippedImage[] = [];
    const stream = decodeStream(list, { size: 4, onBadImage: 'skip', onSkip: (s) => reported.push(s) });
    const got: number[] = [];
    let r = await stream.next();
    while (!r.done) {
      got.push(r.value.index);
      r = await stream.next();
    }
    expect(got).toEqual([0, 3]);
    expect(r.value.decoded).toBe(2);
    expect(r.value.skipped.map((s) => [s.index, s.path])).toEqual([[1, bad], [2, join(dir, 'missing.png')]]);
    expect(reported.map((s) => s.error)).toEqual(r.value.skipped.map((s) => s.error));
    expect(reported[0].error).toBeInstanceOf(FileFormatError);

    const failing = async () => {
      for await (const _ of decodeStream(list, { size: 4 })) void _;
    };
    await expect(failing()).rejects.toThrow(FileFormatError);
    await expect(failing()).rejects.toThrow(bad);
  });

  it('decodes masks, zero masks for mask-less items, and rejects a mask of another size', async () => {
    const maskPath = join(dir, 'mask.png');
    await writeMask(maskPath, 12, 10, [0, 0, 6, 10]); // left half of img0 (12×10)
    const items = [{ path: paths[0], maskPath }, { path: paths[1] }];
    const out = [];
    for await (const d of decodeStream(items, { size: 4, masks: true })) out.push(d);
    expect([...out[0].mask!]).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
    expect([...out[1].mask!]).toEqual(new Array(16).fill(0));

    const wrong = join(dir, 'wrong-mask.png');
    await writeMask(wrong, 9, 9);
    const run = async () => {
      for await (const _ of decodeStream([{ path: paths[0], maskPath: wrong }], { size: 4, masks: true })) void _;
    };
    const e = await run().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(wrong);
    expect((e as Error).message).toMatch(/mask is 9×9 but its image .* is 12×10/);
  });

  it('validates options', async () => {
    const first = (o: object) => decodeStream(paths, o as { size: number }).next();
    await expect(first({ size: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(first({ size: 4, prefetch: 0 })).rejects.toThrow(/prefetch/);
    await expect(first({ size: 4, onBadImage: 'ignore' })).rejects.toThrow(/onBadImage/);
  });
});

describe('batches and tensors', () => {
  it('groups into batches with a smaller last batch', async () => {
    const sizes: number[] = [];
    const order: number[] = [];
    for await (const b of batchStream(decodeStream(paths, { size: 5 }), 3)) {
      sizes.push(b.count);
      order.push(...b.indices);
      expect(b.images.length).toBe(b.count * 5 * 5 * 3);
      expect(b.size).toBe(5);
    }
    expect(sizes).toEqual([3, 3, 1]);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('loads everything into one batch and converts it without leaking tensors', async () => {
    const { batch, skipped } = await loadImages(paths.slice(0, 2), { size: 4 });
    expect(skipped).toEqual([]);
    expect(batch.count).toBe(2);
    const before = tf.memory().numTensors;
    const raw = pixelsToTensor(batch.images, batch.count, batch.size);
    expect(raw.shape).toEqual([2, 4, 4, 3]);
    expect(raw.dataSync()[5]).toBe(batch.images[5]);
    const x = preprocessBatch(batch);
    const v = x.dataSync();
    // (p/255 − mean[c]) / std[c] at every position: no second resize at the same size.
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let i = 0; i < v.length; i++) expect(v[i]).toBeCloseTo((batch.images[i] / 255 - mean[i % 3]) / std[i % 3], 4);
    expect(tf.memory().numTensors).toBe(before + 2);
    raw.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => masksToTensor(batch)).toThrow(InvalidArgumentError);
    expect(() => pixelsToTensor(batch.images, 3, 4)).toThrow(InvalidArgumentError);
  });

  it('turns masks into a 0/1 tensor', async () => {
    const maskPath = join(dir, 'mask-top.png');
    await writeMask(maskPath, 12, 10, [0, 0, 12, 5]); // top half
    const { batch } = await loadImages([{ path: paths[0], maskPath }, paths[1]], { size: 4, masks: true });
    const m = masksToTensor(batch);
    expect(m.shape).toEqual([2, 4, 4]);
    expect([...m.dataSync()]).toEqual([...[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], ...new Array(16).fill(0)]);
    tf.dispose(m);
  });
});
