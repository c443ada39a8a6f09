import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { anomalyMaps } from '../../src/scoring/anomaly-map.js';
import { gaussianBlur } from '../../src/scoring/gaussian-blur.js';
import { imageScores } from '../../src/scoring/image-scores.js';
import { cosine64, expectAllClose, makeRng, randomArray, sizeOf, takeAll } from '../losses/helpers.js';
import { pipelineCases } from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Shape4 = [number, number, number, number];

/** 1 − cos over channels at every position of an NHWC map, float64 → [N, h, w] flat. */
function errorMap64(f: Float32Array, r: Float32Array, [n, h, w, c]: Shape4): Float64Array {
  const out = new Float64Array(n * h * w);
  for (let p = 0; p < n * h * w; p++) out[p] = 1 - cosine64(f.subarray(p * c, (p + 1) * c), r.subarray(p * c, (p + 1) * c));
  return out;
}

/** PyTorch's bilinear interpolation with align_corners=True, written from its definition. */
function upsampleAlignCorners64(src: Float64Array, n: number, h: number, w: number, H: number, W: number): Float64Array {
  const out = new Float64Array(n * H * W);
  const sy = H > 1 ? (h - 1) / (H - 1) : 0;
  const sx = W > 1 ? (w - 1) / (W - 1) : 0;
  for (let i = 0; i < n; i++) {
    for (let Y = 0; Y < H; Y++) {
      const y = Y * sy;
      const y0 = Math.floor(y);
      const y1 = Math.min(y0 + 1, h - 1);
      const fy = y - y0;
      for (let X = 0; X < W; X++) {
        const x = X * sx;
        const x0 = Math.floor(x);
        const x1 = Math.min(x0 + 1, w - 1);
        const fx = x - x0;
        const at = (yy: number, xx: number) => src[i * h * w + yy * w + xx];
        out[i * H * W + Y * W + X] =
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
    }
  }
  return out;
}

describe('anomalyMaps (paper eq. 14 before smoothing)', () => {
  it('matches PyTorch: 1 − F.cosine_similarity, F.interpolate(bilinear, align_corners=True), sum (golden)', () => {
    for (const c of pipelineCases()) {
      const features = c.layers.map((l) => tf.tensor4d(l.features, l.shape));
      const reconstructions = c.layers.map((l) => tf.tensor4d(l.reconstructions, l.shape));
      const maps = anomalyMaps(features, reconstructions, [c.height, c.width]);
      expect(maps.shape).toEqual([c.layers[0].shape[0], c.height, c.width]);
      expectAllClose(maps.dataSync(), c.maps, 1e-5, 1e-5);
      // The whole evaluation pipeline of the authors' code: gaussian_filter(σ = 4) + top-k.
      const smoothed = gaussianBlur(maps, 4);
      expectAllClose(smoothed.dataSync(), c.smoothed, 1e-5, 1e-5);
      for (const [k, expected] of Object.entries(c.scores)) {
        const scores = imageScores(smoothed, k === 'mean' ? 'mean' : Number(k));
        expectAllClose(takeAll(scores), expected, 1e-5, 1e-5);
      }
      tf.dispose([...features, ...reconstructions, maps, smoothed]);
    }
  });

  it('matches a float64 reference for random shapes and output sizes', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      layers: fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 })), {
        minLength: 1,
        maxLength: 3,
      }),
      H: fc.integer({ min: 1, max: 17 }),
      W: fc.integer({ min: 1, max: 17 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(arb, ({ n, layers, H, W, seed }) => {
        const rng = makeRng(seed);
        const expected = new Float64Array(n * H * W);
        const features: tf.Tensor4D[] = [];
        const reconstructions: tf.Tensor4D[] = [];
        for (const [h, w, c] of layers) {
          const shape: Shape4 = [n, h, w, c];
          const f = randomArray(rng, sizeOf(shape));
          const r = randomArray(rng, sizeOf(shape));
          features.push(tf.tensor4d(f, shape));
          reconstructions.push(tf.tensor4d(r, shape));
          const up = upsampleAlignCorners64(errorMap64(f, r, shape), n, h, w, H, W);
          up.forEach((v, i) => (expected[i] += v));
        }
        expectAllClose(takeAll(anomalyMaps(features, reconstructions, [H, W])), expected, 1e-5, 1e-5);
        tf.dispose([...features, ...reconstructions]);
      }),
      { numRuns: 30 },
    );
  });

  it('is 0 for perfect reconstructions, 2·layers for opposite ones, and 1 where a feature vector is zero', () => {
    const f = [tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D, tf.randomNormal([2, 2, 2, 5], 0, 1, 'float32', 2) as tf.Tensor4D];
    const scaled = f.map((t) => tf.mul(t, 3) as tf.Tensor4D);
    const opposite = f.map((t) => tf.neg(t) as tf.Tensor4D);
    expectAllClose(takeAll(anomalyMaps(f, scaled, [8, 8])), new Array(128).fill(0), 1e-5);
    expectAllClose(takeAll(anomalyMaps(f, opposite, [8, 8])), new Array(128).fill(4), 1e-5);
    const zero = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    const one = tf.ones([1, 1, 1, 3]) as tf.Tensor4D;
    expectAllClose(takeAll(anomalyMaps([zero], [one], [3, 3])), new Array(9).fill(1), 1e-7);
    tf.dispose([...f, ...scaled, ...opposite, zero, one]);
  });

  it('rejects mismatched maps and invalid sizes', () => {
    const a = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    const b = tf.zeros([2, 4, 4, 2]) as tf.Tensor4D;
    const c = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    expect(() => anomalyMaps([a], [b], [8, 8])).toThrow(ShapeMismatchError);
    expect(() => anomalyMaps([a, c], [a, c], [8, 8])).toThrow(/batch size/);
    expect(() => anomalyMaps([a], [a, a], [8, 8])).toThrow(/layer count/);
    expect(() => anomalyMaps([a], [a], [0, 8])).toThrow(InvalidArgumentError);
    expect(() => anomalyMaps([a], [a], [8.5, 8])).toThrow(/size/);
    expect(() => anomalyMaps([a], [a], [8] as unknown as [number, number])).toThrow(/size/);
    tf.dispose([a, b, c]);
  });

  it('leaves no tensor behind', () => {
    const f = [tf.ones([1, 4, 4, 3]) as tf.Tensor4D];
    const r = [tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D];
    const before = tf.memory().numTensors;
    takeAll(anomalyMaps(f, r, [16, 16]));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...f, ...r]);
  });
});
