import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

import { IMAGENET_MEAN, IMAGENET_STD, preprocessImages } from '../../src/backbone/preprocess.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { InvalidArgumentError } from '../../src/errors.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/resnet/preprocess.safetensors', import.meta.url));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** (v / 255 − mean_c) / std_c for every channel: the hand-computed RGB triple of a gray value. */
function normalisedGray(v: number): number[] {
  return [0, 1, 2].map((c) => (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('preprocessImages', () => {
  it('downsamples with half-pixel centres: output row r averages input rows 2r and 2r+1', () => {
    // [1, 4, 2, 1] grayscale → 2×2: height 4→2 (source row 2r + 0.5), width 2→2 (identity)
    const x = tf.tensor4d([0, 255, 51, 102, 204, 153, 10, 20], [1, 4, 2, 1], 'int32');
    const y = preprocessImages(x, { size: 2 });
    expect(y.shape).toEqual([1, 2, 2, 3]);
    expect(y.dtype).toBe('float32');
    const expected = [25.5, 178.5, 107, 86.5].flatMap(normalisedGray);
    expect(maxAbsDiff(y.dataSync(), expected)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });

  it('upsamples like torch interpolate(align_corners=False), clamping at the borders', () => {
    // width 2→4: source columns −0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    const x = tf.tensor4d([0, 100], [1, 1, 2, 1]);
    const y = preprocessImages(x, { size: 4 });
    const row = [0, 25, 75, 100].flatMap(normalisedGray);
    const expected = [...row, ...row, ...row, ...row];
    expect(maxAbsDiff(y.dataSync(), expected)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });

  it('matches torch (bilinear, align_corners=False, /255, ImageNet normalisation) on RGB and grayscale', async () => {
    const st = await readSafetensors(FIXTURE);
    for (const key of ['rgb', 'gray']) {
      const info = st.info(`${key}_in`);
      const x = tf.tensor4d(await st.float32(`${key}_in`), info.shape as [number, number, number, number]);
      const y = preprocessImages(x, { size: 8 });
      expect(y.shape).toEqual(st.info(`${key}_out`).shape);
      expect(maxAbsDiff(y.dataSync(), await st.float32(`${key}_out`))).toBeLessThan(1e-5);
      // int32 pixels give the same result as float32 ones
      const xi = tf.cast(x, 'int32');
      const yi = preprocessImages(xi, { size: 8 });
      expect(maxAbsDiff(yi.dataSync(), y.dataSync())).toBe(0);
      tf.dispose([x, y, xi, yi]);
    }
    await st.close();
  });

  it('defaults to 256×256 and does not leak', () => {
    const x = tf.zeros([2, 10, 12, 3], 'int32') as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const y = preprocessImages(x);
    expect(y.shape).toEqual([2, 256, 256, 3]);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(maxAbsDiff(y.dataSync().subarray(0, 3), normalisedGray(0))).toBeLessThan(1e-6);
    tf.dispose([x, y]);
  });

  it('rejects bad input with InvalidArgumentError', () => {
    const two = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    const rank3 = tf.zeros([4, 4, 3]) as unknown as tf.Tensor4D;
    const bool = tf.zeros([1, 4, 4, 3], 'bool') as tf.Tensor4D;
    const ok = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    expect(() => preprocessImages(two)).toThrow(/images: expected 1 \(grayscale\) or 3 \(RGB\) channels/);
    expect(() => preprocessImages(rank3)).toThrow(/rank-4 tensor/);
    expect(() => preprocessImages(bool)).toThrow(/dtype int32 or float32/);
    expect(() => preprocessImages(ok, { size: 0 })).toThrow(InvalidArgumentError);
    expect(() => preprocessImages(ok, { size: 2.5 })).toThrow(/options.size/);
    tf.dispose([two, rank3, bool, ok]);
  });
});
