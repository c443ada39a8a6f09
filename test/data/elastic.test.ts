import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { Rng } from '../../src/nn/random.js';
import {
  applyDisplacement,
  elasticDisplacement,
  elasticKernelSize,
  elasticTransform,
  elasticTransformPixels,
  ElasticAnomalies,
  type Displacement,
} from '../../src/data/elastic.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomImages(n: number, h: number, w: number, c: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * h * w * c }, () => Math.floor(rng.next() * 256));
}

function constantShift(h: number, w: number, dx: number, dy: number): Displacement {
  return { dx: new Float32Array(h * w).fill(dx), dy: new Float32Array(h * w).fill(dy), height: h, width: w };
}

describe('elastic transform (torchvision ElasticTransform semantics)', () => {
  it('uses the kernel size torchvision uses: int(8σ + 1), made odd', () => {
    expect(elasticKernelSize(5)).toBe(41);
    expect(elasticKernelSize(1)).toBe(9);
    expect(elasticKernelSize(0.5)).toBe(5);
    expect(elasticKernelSize(0.125)).toBe(3); // int(2) = 2 → 3
    expect(elasticKernelSize(2.3)).toBe(19); // int(19.4) = 19
  });

  it('alpha = 0 is exactly the identity', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 99 }), (h, w, seed) => {
        const img = randomImages(2, h, w, 3, seed);
        const out = elasticTransformPixels(img, [2, h, w, 3], new Rng(seed), { alpha: 0 });
        expect([...out]).toEqual([...img]);
      }),
      { numRuns: 40 },
    );
  });

  it('shifts by whole pixels exactly and fills from outside with the fill value', () => {
    const h = 3;
    const w = 4;
    const img = Float32Array.from({ length: h * w }, (_, i) => i + 1); // one channel
    const out = new Float32Array(h * w);
    applyDisplacement(img, 1, constantShift(h, w, 1, 0), out, 0, { fill: -5 });
    // Output (y, x) samples (y, x + 1): last column is outside → fill.
    expect([...out]).toEqual([2, 3, 4, -5, 6, 7, 8, -5, 10, 11, 12, -5]);
  });

  it('attenuates border pixels like torchvision (sampled value × sampled coverage)', () => {
    const img = new Float32Array(4 * 4).fill(100);
    const out = new Float32Array(16);
    applyDisplacement(img, 1, constantShift(4, 4, -0.5, 0), out, 0, { fill: 0 });
    // x = 0 samples at −0.5: half the footprint is outside → value 50, coverage 0.5 → 25.
    expect(out[0]).toBeCloseTo(25, 10);
    expect(out[1]).toBeCloseTo(100, 10);
    applyDisplacement(img, 1, constantShift(4, 4, -0.5, 0), out, 0, { fill: 40 });
    expect(out[0]).toBeCloseTo(25 + 0.5 * 40, 10);
  });

  it('draws displacements of the expected magnitude: std ≈ alpha/2 · std of the blurred U(−1, 1) field', () => {
    const h = 128;
    const d = elasticDisplacement(h, h, new Rng(1), { alpha: 200, sigma: 5 });
    // Var of blurred noise = (1/3) · (Σ k²)² for the separable normalised kernel.
    const k = Array.from({ length: 41 }, (_, i) => Math.exp(-0.5 * ((i - 20) / 5) ** 2));
    const s = k.reduce((a, b) => a + b, 0);
    const sumSq = k.reduce((a, b) => a + (b / s) ** 2, 0);
    const expectedStd = 100 * Math.sqrt((1 / 3) * sumSq * sumSq); // ≈ 3.26 px
    for (const field of [d.dx, d.dy]) {
      // Interior only: within 20 px of the border, reflect padding repeats noise samples
      // and raises the variance.
      const inner: number[] = [];
      for (let y = 20; y < h - 20; y++) for (let x = 20; x < h - 20; x++) inner.push(field[y * h + x]);
      const mean = inner.reduce((a, b) => a + b, 0) / inner.length;
      const std = Math.sqrt(inner.reduce((a, b) => a + (b - mean) ** 2, 0) / inner.length);
      expect(std).toBeGreaterThan(0.75 * expectedStd);
      expect(std).toBeLessThan(1.25 * expectedStd);
    }
    // Smooth: neighbouring displacements are strongly correlated (sigma 5 ≫ 1 pixel).
    let num = 0;
    let den = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x + 1 < h; x++) {
        num += d.dx[y * h + x] * d.dx[y * h + x + 1];
        den += d.dx[y * h + x] ** 2;
      }
    expect(num / den).toBeGreaterThan(0.9);
    // Without blur the field is U(−1, 1)·alpha/2.
    const raw = elasticDisplacement(8, 8, new Rng(2), { alpha: 10, sigma: 0 });
    expect(Math.max(...raw.dx.map(Math.abs))).toBeLessThanOrEqual(5);
    expect(Math.max(...raw.dx.map(Math.abs))).toBeGreaterThan(2);
  });

  it('keeps shape and range, rounds on request, differs across seeds, repeats per seed', () => {
    const img = randomImages(2, 32, 32, 3, 5);
    const a = elasticTransformPixels(img, [2, 32, 32, 3], new Rng(1));
    const b = elasticTransformPixels(img, [2, 32, 32, 3], new Rng(1));
    const c = elasticTransformPixels(img, [2, 32, 32, 3], new Rng(2));
    expect(a.length).toBe(img.length);
    expect([...a]).toEqual([...b]);
    expect([...a]).not.toEqual([...c]);
    expect([...a]).not.toEqual([...img]);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(255);
    const r = elasticTransformPixels(img, [2, 32, 32, 3], new Rng(1), { round: true });
    expect(r.every((v) => Number.isInteger(v))).toBe(true);
    for (let i = 0; i < r.length; i++) expect(Math.abs(r[i] - a[i])).toBeLessThanOrEqual(0.5 + 1e-4);
    // Each image of a batch gets its own field.
    const twin = new Float32Array([...img.subarray(0, 32 * 32 * 3), ...img.subarray(0, 32 * 32 * 3)]);
    const t = elasticTransformPixels(twin, [2, 32, 32, 3], new Rng(3));
    expect([...t.subarray(0, 3072)]).not.toEqual([...t.subarray(3072)]);
  });

  it('works on tensors without leaking, and ElasticAnomalies draws fresh fields per call', () => {
    const x = tf.tensor4d(randomImages(1, 16, 16, 3, 9), [1, 16, 16, 3]);
    const before = tf.memory().numTensors;
    const y = elasticTransform(x, new Rng(4));
    expect(y.shape).toEqual([1, 16, 16, 3]);
    expect(y.dtype).toBe('float32');
    expect(tf.memory().numTensors).toBe(before + 1);
    const source = new ElasticAnomalies({ seed: 4 });
    expect(source.options).toEqual({ alpha: 200, sigma: 5, fill: 0, round: false });
    const first = source.apply(x);
    const second = source.apply(x);
    expect([...first.dataSync()]).toEqual([...y.dataSync()]); // same seed, first draw
    expect([...second.dataSync()]).not.toEqual([...first.dataSync()]);
    tf.dispose([x, y, first, second]);
    expect(tf.memory().numTensors).toBe(before - 1);
  });

  it('rejects bad arguments', () => {
    const img = new Float32Array(12);
    expect(() => elasticTransformPixels(img, [1, 2, 2, 2], new Rng(0))).toThrow(InvalidArgumentError);
    expect(() => elasticTransformPixels(img, [1, 2, 2, 3], new Rng(0), { alpha: -1 })).toThrow(/alpha/);
    expect(() => elasticTransformPixels(img, [1, 2, 2, 3], new Rng(0), { sigma: Number.NaN })).toThrow(/sigma/);
    const t = tf.zeros([2, 2, 3]);
    expect(() => elasticTransform(t as unknown as tf.Tensor4D, new Rng(0))).toThrow(/rank-4/);
    t.dispose();
  });
});
