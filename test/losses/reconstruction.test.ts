import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { reconstructionLoss, reconstructionLossPerImage } from '../../src/losses/reconstruction.js';
import { checkGradient, expectAllClose, makeRng, randomArray, reconstructionErrors64, sizeOf, take, takeAll } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Random layer shapes sharing one batch size, plus a seed for the values. */
const layersArb = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  dims: fc.array(
    fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 })),
    { minLength: 1, maxLength: 3 },
  ),
  seed: fc.integer(),
});

function makeLayers(n: number, dims: ReadonlyArray<readonly [number, number, number]>, seed: number) {
  const rng = makeRng(seed);
  return dims.map(([h, w, c]) => {
    const shape = [n, h, w, c];
    const f = randomArray(rng, sizeOf(shape));
    const r = randomArray(rng, sizeOf(shape));
    return { shape, f, r };
  });
}

function tensors(layers: ReturnType<typeof makeLayers>, key: 'f' | 'r'): tf.Tensor4D[] {
  return layers.map((l) => tf.tensor4d(l[key], l.shape as [number, number, number, number]));
}

describe('reconstructionLoss (paper eq. 2)', () => {
  it('matches a float64 reference: per image Σ_layers 1 − cos(flatten), mean over images', () => {
    fc.assert(
      fc.property(layersArb, ({ n, dims, seed }) => {
        const layers = makeLayers(n, dims, seed);
        const f = tensors(layers, 'f');
        const r = tensors(layers, 'r');
        const expected = reconstructionErrors64(layers);
        expectAllClose(takeAll(reconstructionLossPerImage(f, r)), expected, 1e-5, 1e-5);
        const mean = expected.reduce((a, b) => a + b, 0) / n;
        expect(take(reconstructionLoss(f, r))).toBeCloseTo(mean, 5);
        tf.dispose([...f, ...r]);
      }),
      { numRuns: 40 },
    );
  });

  it('lies in [0, 2·layers]', () => {
    fc.assert(
      fc.property(layersArb, ({ n, dims, seed }) => {
        const layers = makeLayers(n, dims, seed);
        const f = tensors(layers, 'f');
        const r = tensors(layers, 'r');
        const perImage = takeAll(reconstructionLossPerImage(f, r));
        for (const v of perImage) {
          expect(v).toBeGreaterThanOrEqual(-1e-6);
          expect(v).toBeLessThanOrEqual(2 * dims.length + 1e-6);
        }
        tf.dispose([...f, ...r]);
      }),
      { numRuns: 30 },
    );
  });

  it('is 0 for positively collinear maps and 2 per layer for opposite maps', () => {
    fc.assert(
      fc.property(layersArb, fc.double({ min: 0.01, max: 100, noNaN: true }), ({ n, dims, seed }, scale) => {
        const layers = makeLayers(n, dims, seed);
        const f = tensors(layers, 'f');
        const same = f.map((t) => tf.mul(t, scale) as tf.Tensor4D);
        const opposite = f.map((t) => tf.mul(t, -scale) as tf.Tensor4D);
        expectAllClose(takeAll(reconstructionLossPerImage(f, same)), new Array(n).fill(0), 1e-5);
        expectAllClose(takeAll(reconstructionLossPerImage(f, opposite)), new Array(n).fill(2 * dims.length), 1e-5);
        tf.dispose([...f, ...same, ...opposite]);
      }),
      { numRuns: 30 },
    );
  });

  it('is invariant to a positive scaling of either input, per image', () => {
    fc.assert(
      fc.property(
        layersArb,
        fc.array(fc.double({ min: 0.05, max: 20, noNaN: true }), { minLength: 6, maxLength: 6 }),
        ({ n, dims, seed }, factors) => {
          const layers = makeLayers(n, dims, seed);
          const f = tensors(layers, 'f');
          const r = tensors(layers, 'r');
          // One positive factor per image (and a different one for each input).
          const perImage = (k: number) => tf.tensor4d(factors.slice(k, k + n), [n, 1, 1, 1]);
          const fScale = perImage(0);
          const rScale = perImage(3);
          const fScaled = f.map((t) => tf.mul(t, fScale) as tf.Tensor4D);
          const rScaled = r.map((t) => tf.mul(t, rScale) as tf.Tensor4D);
          const base = takeAll(reconstructionLossPerImage(f, r));
          expectAllClose(takeAll(reconstructionLossPerImage(fScaled, r)), base, 2e-5);
          expectAllClose(takeAll(reconstructionLossPerImage(f, rScaled)), base, 2e-5);
          tf.dispose([...f, ...r, ...fScaled, ...rScaled, fScale, rScale]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('is a per-image cosine of the whole flattened map, not a per-position one', () => {
    // Two positions: the reconstruction scales them differently. Per-position cosines are
    // both 1 (loss 0), the flattened cosine is 4 / (√2·√10).
    const f = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const r = tf.tensor4d([3, 0, 0, 1], [1, 1, 2, 2]);
    const expected = 1 - 4 / (Math.sqrt(2) * Math.sqrt(10));
    expect(take(reconstructionLoss([f], [r]))).toBeCloseTo(expected, 6);
    tf.dispose([f, r]);
  });

  it('gives a finite value and gradient for an all-zero map', () => {
    const f = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    const r = tf.ones([1, 2, 2, 3]) as tf.Tensor4D;
    expect(take(reconstructionLoss([f], [r]))).toBeCloseTo(1, 6);
    const g = tf.grad((x: tf.Tensor) => reconstructionLoss([x as tf.Tensor4D], [r]))(f);
    expect(takeAll(g).every(Number.isFinite)).toBe(true);
    tf.dispose([f, r]);
  });

  it('has gradients that agree with central finite differences (both inputs)', () => {
    const rng = makeRng(7);
    const shapes: [number, number, number, number][] = [
      [2, 2, 3, 4],
      [2, 1, 2, 6],
    ];
    const f = shapes.map((s) => randomArray(rng, sizeOf(s)));
    const r = shapes.map((s, i) => randomArray(rng, sizeOf(s), 0.7).map((v, k) => v + f[i][k]));
    const fixed = (arrays: Float32Array[]) => arrays.map((a, i) => tf.tensor4d(a, shapes[i]));
    for (let layer = 0; layer < shapes.length; layer++) {
      // d/dF of layer `layer`, everything else fixed.
      checkGradient(
        (x) => {
          const fs = fixed(f);
          fs[layer] = x as tf.Tensor4D;
          return reconstructionLoss(fs, fixed(r));
        },
        f[layer],
        shapes[layer],
      );
      // d/dF̃ of layer `layer`.
      checkGradient(
        (x) => {
          const rs = fixed(r);
          rs[layer] = x as tf.Tensor4D;
          return reconstructionLoss(fixed(f), rs);
        },
        r[layer],
        shapes[layer],
      );
    }
  });

  it('rejects mismatched layer counts, shapes, batches and empty input', () => {
    const a = tf.zeros([2, 3, 3, 4]) as tf.Tensor4D;
    const b = tf.zeros([2, 3, 3, 5]) as tf.Tensor4D;
    const c = tf.zeros([1, 3, 3, 4]) as tf.Tensor4D;
    const flat = tf.zeros([2, 36]) as unknown as tf.Tensor4D;
    const empty = tf.zeros([0, 3, 3, 4]) as tf.Tensor4D;
    expect(() => reconstructionLoss([a, a], [a])).toThrow(ShapeMismatchError);
    expect(() => reconstructionLoss([a, a], [a])).toThrow(/layer count/);
    expect(() => reconstructionLoss([a], [b])).toThrow(ShapeMismatchError);
    expect(() => reconstructionLoss([a], [b])).toThrow(/\[2, 3, 3, 4\].*\[2, 3, 3, 5\]/);
    expect(() => reconstructionLoss([a, c], [a, c])).toThrow(ShapeMismatchError);
    expect(() => reconstructionLoss([a, c], [a, c])).toThrow(/batch size/);
    expect(() => reconstructionLoss([], [])).toThrow(InvalidArgumentError);
    expect(() => reconstructionLoss([flat], [flat])).toThrow(/rank-4/);
    expect(() => reconstructionLossPerImage([empty], [empty])).toThrow(InvalidArgumentError);
    tf.dispose([a, b, c, flat, empty]);
  });

  it('leaves no tensor behind', () => {
    const f = [tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D];
    const r = [tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 2) as tf.Tensor4D];
    const before = tf.memory().numTensors;
    take(reconstructionLoss(f, r));
    takeAll(reconstructionLossPerImage(f, r));
    tf.grad((x: tf.Tensor) => reconstructionLoss([x as tf.Tensor4D], r))(f[0]).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...f, ...r]);
  });
});
