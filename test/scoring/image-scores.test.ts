import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { imageScores } from '../../src/scoring/image-scores.js';
import { expectAllClose, makeRng, takeAll } from '../losses/helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const arb = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 12 }), seed: fc.integer() })
  .chain((r) => fc.record({ case: fc.constant(r), k: fc.integer({ min: 1, max: r.h * r.w }) }));

function maps(n: number, h: number, w: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n * h * w }, () => 4 * rng() - 1);
}

/** Mean of the k largest values of each image, by sorting (float64). */
function topKMean64(values: Float32Array, n: number, k: number): number[] {
  const per = values.length / n;
  return Array.from({ length: n }, (_, i) => {
    const sorted = Array.from(values.subarray(i * per, (i + 1) * per)).sort((a, b) => b - a);
    return sorted.slice(0, k).reduce((a, b) => a + b, 0) / k;
  });
}

describe('imageScores (top-k mean of the anomaly map)', () => {
  it('is the mean of the k largest pixels of each image', () => {
    fc.assert(
      fc.property(arb, ({ case: { n, h, w, seed }, k }) => {
        const values = maps(n, h, w, seed);
        const t = tf.tensor3d(values, [n, h, w]);
        expectAllClose(takeAll(imageScores(t, k)), topKMean64(values, n, k), 1e-5, 1e-5);
        t.dispose();
      }),
      { numRuns: 40 },
    );
  });

  it('with k = 1 is the max, with k = H·W and with "mean" the mean', () => {
    fc.assert(
      fc.property(arb, ({ case: { n, h, w, seed } }) => {
        const values = maps(n, h, w, seed);
        const t = tf.tensor3d(values, [n, h, w]);
        const per = h * w;
        const max = Array.from({ length: n }, (_, i) => Math.max(...values.subarray(i * per, (i + 1) * per)));
        const mean = Array.from({ length: n }, (_, i) => values.subarray(i * per, (i + 1) * per).reduce((a, b) => a + b, 0) / per);
        expectAllClose(takeAll(imageScores(t, 1)), max, 0);
        expectAllClose(takeAll(imageScores(t, per)), mean, 1e-5, 1e-5);
        expectAllClose(takeAll(imageScores(t, 'mean')), mean, 1e-5, 1e-5);
        t.dispose();
      }),
      { numRuns: 30 },
    );
  });

  it('defaults to k = 100', () => {
    const values = maps(2, 16, 16, 7);
    const t = tf.tensor3d(values, [2, 16, 16]);
    expectAllClose(takeAll(imageScores(t)), topKMean64(values, 2, 100), 1e-5, 1e-5);
    t.dispose();
  });

  it('rejects k outside [1, H·W], non-integer k and a wrong rank', () => {
    const t = tf.zeros([1, 8, 8]) as tf.Tensor3D;
    const flat = tf.zeros([8, 8]) as unknown as tf.Tensor3D;
    for (const k of [0, -1, 65, 2.5, Number.NaN]) {
      expect(() => imageScores(t, k)).toThrow(InvalidArgumentError);
      expect(() => imageScores(t, k)).toThrow(/topK.*\[1, 64\]/);
    }
    expect(() => imageScores(flat, 1)).toThrow(/rank-3/);
    tf.dispose([t, flat]);
  });

  it('leaves no tensor behind', () => {
    const t = tf.tensor3d(maps(2, 10, 10, 1), [2, 10, 10]);
    const before = tf.memory().numTensors;
    takeAll(imageScores(t, 7));
    takeAll(imageScores(t, 'mean'));
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });
});
