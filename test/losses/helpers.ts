/**
 * Test helpers for the losses and scoring tests: a seeded PRNG, random tensors, float64
 * reference maths and a central finite-difference gradient check.
 */

import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Small seeded PRNG (mulberry32) returning floats in [0, 1). */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box–Muller). */
export function gaussian(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** n float32 values drawn from N(mean, std²). */
export function randomArray(rng: () => number, n: number, std = 1, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * gaussian(rng);
  return out;
}

/** Product of a shape's dimensions. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** float64 cosine similarity with PyTorch's per-norm eps clamp. */
export function cosine64(a: ArrayLike<number>, b: ArrayLike<number>, eps = 1e-8): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / (Math.max(Math.sqrt(na), eps) * Math.max(Math.sqrt(nb), eps));
}

/** Per-image Σ_layers (1 − cos(flatten F̃, flatten F)) in float64, layers given as flat NHWC arrays. */
export function reconstructionErrors64(
  layers: ReadonlyArray<{ shape: readonly number[]; f: Float32Array; r: Float32Array }>,
): number[] {
  const n = layers[0].shape[0];
  const out = new Array<number>(n).fill(0);
  for (const { shape, f, r } of layers) {
    const per = sizeOf(shape) / n;
    for (let i = 0; i < n; i++) {
      out[i] += 1 - cosine64(f.subarray(i * per, (i + 1) * per), r.subarray(i * per, (i + 1) * per));
    }
  }
  return out;
}

/** Reads a scalar tensor and disposes it. */
export function take(t: tf.Tensor): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

/** Reads a tensor's values and disposes it. */
export function takeAll(t: tf.Tensor): Float32Array {
  const v = Float32Array.from(t.dataSync());
  t.dispose();
  return v;
}

/** Element-wise |a − b| ≤ atol + rtol·|b|, with the first failure in the message. */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = atol + rtol * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      expect.fail(`element ${i}: ${actual[i]} vs expected ${expected[i]} (tolerance ${tol})`);
    }
  }
}

/**
 * Central finite differences of a float32 loss vs tf.grad, at `coords` (all when omitted).
 * The perturbation actually applied (after float32 rounding) is the denominator, and the
 * difference quotient is formed in float64.
 */
export function checkGradient(
  loss: (x: tf.Tensor) => tf.Scalar,
  x0: Float32Array,
  shape: number[],
  options: { step?: number; rtol?: number; atol?: number; coords?: number[] } = {},
): void {
  const { step = 1e-2, rtol = 1e-2, atol = 1e-4 } = options;
  const analytic = tf.tidy(() => tf.grad((x: tf.Tensor) => loss(x))(tf.tensor(x0, shape)).dataSync().slice());
  const evaluate = (values: Float32Array) => tf.tidy(() => loss(tf.tensor(values, shape)).dataSync()[0]);
  const coords = options.coords ?? [...x0.keys()];
  const scale = Math.max(...coords.map((i) => Math.abs(analytic[i])));
  for (const i of coords) {
    const plus = x0.slice();
    const minus = x0.slice();
    plus[i] = x0[i] + step;
    minus[i] = x0[i] - step;
    const numeric = (evaluate(plus) - evaluate(minus)) / (plus[i] - minus[i]);
    const tol = atol + rtol * Math.max(Math.abs(analytic[i]), 0.1 * scale);
    if (!(Math.abs(numeric - analytic[i]) <= tol)) {
      expect.fail(`d loss / d x[${i}]: analytic ${analytic[i]}, finite difference ${numeric} (tolerance ${tol})`);
    }
  }
}
