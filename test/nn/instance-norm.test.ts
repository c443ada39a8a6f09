/**
 * The fused instance norm (one tf.customGrad node with the closed-form backward) against the
 * op-by-op autodiff path it replaces, against a float64 reference with central finite
 * differences, and against leanVariableGrads, on the cpu and wasm backends.
 *
 * Tolerances. The forward pass runs the same kernels in the same order on both paths, so it
 * is asserted bitwise equal. The gradients are the same mathematics evaluated in a different
 * order (the autodiff path multiplies g by γ first and reduces through the broadcasting
 * gradients of sub / mul / moments; the closed form reduces Σg and Σg·x̂ per sample and
 * channel), so they differ by float32 rounding of the terms being combined — and those terms
 * can cancel almost completely (with H·W = 2, dx is O(eps / var) of them), so a difference
 * relative to the result means nothing there. Each difference is measured against the size of
 * the terms instead, times the conditioning of x̂ in float32 (x − mean is off by about an ulp
 * of max|x|, so x̂ by about κ = 1 + max|x|·rstd ulps), per sample n and channel c over H×W:
 *   dx: T = κ·rstd·|γ_c|·max|g|·(2 + max x̂²)  (bounds rstd·(|g·γ| + |mean(g·γ)| + |x̂·mean(g·γ·x̂)|));
 *   dγ_c: Σ|g|·(|x̂| + κ) over N×H×W;  dβ_c: Σ|g|;  y vs float64: |γ|·(|x̂| + κ) + |β|.
 * Asserted: |Δ| ≤ GRAD_TOL·T with GRAD_TOL = 2e-6, about 34 float32 ulps (2^-24 ≈ 6e-8) of the
 * terms. While writing these tests the largest ratio seen over 2 × 2,000 random problems was
 * 1.1e-7 (about 2 ulps), against the autodiff path and against finite differences alike; a
 * wrong formula (the test below drops the variance term) gives 3e-2.
 */

import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import {
  INSTANCE_NORM_EPS,
  InstanceNorm2d,
  instanceNorm2dAutodiff,
  instanceNorm2dFused,
  type InstanceNormAffine,
} from '../../src/nn/instance-norm.js';
import { relu } from '../../src/nn/activations.js';
import { Sequential } from '../../src/nn/module.js';
import { Rng } from '../../src/nn/random.js';
import { leanVariableGrads } from '../../src/training/lean-gradients.js';

const GRAD_TOL = 2e-6;

type Shape = [number, number, number, number];
type Norm = (x: tf.Tensor4D, affine: InstanceNormAffine | null, eps?: number) => tf.Tensor4D;

/** One random problem: input, upstream gradient g, affine parameters (or none). */
interface Problem {
  shape: Shape;
  x: Float32Array;
  g: Float32Array;
  gamma: Float32Array | null;
  beta: Float32Array | null;
}

interface ProblemSpec {
  shape: Shape;
  seed: number;
  /** log10 of each channel's spread, drawn in [-spread, spread]. */
  logScale: number;
  /** Largest |offset| / spread of a channel. */
  offset: number;
  affine: boolean;
}

function problem({ shape, seed, logScale, offset, affine }: ProblemSpec): Problem {
  const [n, h, w, c] = shape;
  const rng = new Rng(seed);
  const scales = Array.from({ length: n * c }, () => 10 ** rng.uniform(-logScale, logScale));
  const offsets = scales.map((s) => s * rng.uniform(-offset, offset));
  const x = new Float32Array(n * h * w * c);
  const g = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const slice = Math.floor(i / (h * w * c)) * c + (i % c);
    x[i] = offsets[slice] + scales[slice] * rng.normal();
    g[i] = rng.normal();
  }
  const gamma = affine ? Float32Array.from({ length: c }, () => rng.uniform(-2, 2)) : null;
  const beta = affine ? Float32Array.from({ length: c }, () => rng.uniform(-2, 2)) : null;
  return { shape, x, g, gamma, beta };
}

/** Float64 instance norm of float32 data: y, x̂ and rstd per (n, c). */
function reference(p: Problem, x: ArrayLike<number> = p.x, gamma = p.gamma, beta = p.beta) {
  const [n, h, w, c] = p.shape;
  const m = h * w;
  const y = new Float64Array(x.length);
  const xHat = new Float64Array(x.length);
  const rstd = new Float64Array(n * c);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const at = (k: number) => (b * m + k) * c + ch;
      let mean = 0;
      for (let k = 0; k < m; k++) mean += x[at(k)];
      mean /= m;
      let variance = 0;
      for (let k = 0; k < m; k++) variance += (x[at(k)] - mean) ** 2;
      variance /= m;
      const r = 1 / Math.sqrt(variance + INSTANCE_NORM_EPS);
      rstd[b * c + ch] = r;
      for (let k = 0; k < m; k++) {
        xHat[at(k)] = (x[at(k)] - mean) * r;
        y[at(k)] = gamma === null || beta === null ? xHat[at(k)] : xHat[at(k)] * gamma[ch] + beta[ch];
      }
    }
  }
  return { y, xHat, rstd };
}

/**
 * L = Σ y·g in float64 through the reference; with `slice` [n, c], only that sample and
 * channel's Σ x̂·γ·g (all of L that depends on its inputs: finite differences of it lose less).
 */
function referenceLoss(
  p: Problem,
  x: ArrayLike<number>,
  gamma: Float32Array | Float64Array | null,
  beta: Float32Array | Float64Array | null,
  slice: [number, number] | null = null,
): number {
  const { y, xHat } = reference(p, x, gamma as Float32Array | null, beta as Float32Array | null);
  let loss = 0;
  if (slice === null) {
    for (let i = 0; i < y.length; i++) loss += y[i] * p.g[i];
    return loss;
  }
  const [, h, w, c] = p.shape;
  const [b, ch] = slice;
  for (let k = 0; k < h * w; k++) {
    const i = (b * h * w + k) * c + ch;
    loss += xHat[i] * (gamma === null ? 1 : gamma[ch]) * p.g[i];
  }
  return loss;
}

/** The term sizes the tolerance is relative to (see the file comment). */
function termScales(p: Problem): { dx: Float64Array; dGamma: Float64Array; dBeta: Float64Array; condition: Float64Array } {
  const [n, h, w, c] = p.shape;
  const m = h * w;
  const { xHat, rstd } = reference(p);
  const dx = new Float64Array(p.x.length);
  const dGamma = new Float64Array(c);
  const dBeta = new Float64Array(c);
  const conditions = new Float64Array(p.x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const at = (k: number) => (b * m + k) * c + ch;
      let maxG = 0;
      let maxXHat2 = 0;
      let maxX = 0;
      for (let k = 0; k < m; k++) {
        maxG = Math.max(maxG, Math.abs(p.g[at(k)]));
        maxXHat2 = Math.max(maxXHat2, xHat[at(k)] ** 2);
        maxX = Math.max(maxX, Math.abs(p.x[at(k)]));
      }
      // float32 x − mean is off by ~ulp(max|x|): x̂ by ~max|x|·rstd ulps.
      const condition = 1 + maxX * rstd[b * c + ch];
      for (let k = 0; k < m; k++) {
        dGamma[ch] += Math.abs(p.g[at(k)]) * (Math.abs(xHat[at(k)]) + condition);
        dBeta[ch] += Math.abs(p.g[at(k)]);
      }
      const t = rstd[b * c + ch] * Math.abs(p.gamma === null ? 1 : p.gamma[ch]) * maxG * (2 + maxXHat2) * condition;
      for (let k = 0; k < m; k++) {
        dx[at(k)] = t;
        conditions[at(k)] = condition;
      }
    }
  }
  return { dx, dGamma, dBeta, condition: conditions };
}

/** Largest |a − b| / scale (scale > 0; a zero scale demands equality). */
function maxRatio(a: ArrayLike<number>, b: ArrayLike<number>, scale: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    worst = Math.max(worst, d === 0 ? 0 : scale[i] === 0 ? Infinity : d / scale[i]);
  }
  return worst;
}

/** Forward value and gradients (dx, dγ, dβ) of Σ norm(x)·g, as float32 arrays. */
interface Run {
  y: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array | null;
  dBeta: Float32Array | null;
}

function run(norm: Norm, p: Problem): Run {
  let out: Run = { y: new Float32Array(0), dx: new Float32Array(0), dGamma: null, dBeta: null };
  tf.tidy(() => {
    const x = tf.tensor4d(p.x, p.shape);
    const g = tf.tensor4d(p.g, p.shape);
    const y = norm(x, p.gamma === null || p.beta === null ? null : { weight: tf.tensor1d(p.gamma), bias: tf.tensor1d(p.beta) });
    const yData = y.dataSync() as Float32Array;
    if (p.gamma === null || p.beta === null) {
      const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(norm(input as tf.Tensor4D, null), g)))(x);
      out = { y: yData, dx: dx.dataSync() as Float32Array, dGamma: null, dBeta: null };
      return;
    }
    const loss = (input: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor) =>
      tf.sum(tf.mul(norm(input as tf.Tensor4D, { weight: weight as tf.Tensor1D, bias: bias as tf.Tensor1D }), g));
    const [dx, dGamma, dBeta] = tf.grads(loss)([x, tf.tensor1d(p.gamma), tf.tensor1d(p.beta)]);
    out = { y: yData, dx: dx.dataSync() as Float32Array, dGamma: dGamma.dataSync() as Float32Array, dBeta: dBeta.dataSync() as Float32Array };
  });
  return out;
}

/** Shapes with H·W in [1, 36]. */
const anyShape = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }));
/** H·W = 4: the auto-encoder's bottleneck for 64×64 inputs (2×2), and its 1×4 / 4×1 cousins. */
const fourPixels = fc.tuple(
  fc.integer({ min: 1, max: 4 }),
  fc.constantFrom<[number, number]>([2, 2], [1, 4], [4, 1]),
  fc.integer({ min: 1, max: 16 }),
).map(([n, [h, w], c]) => [n, h, w, c] as Shape);

const specs = (shapes: fc.Arbitrary<Shape>, logScale: number, offset: number) =>
  fc.record({
    shape: shapes.map((s) => s as Shape),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    logScale: fc.constant(logScale),
    offset: fc.constant(offset),
    affine: fc.boolean(),
  });

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`instance norm, fused vs autodiff (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend, backend === 'wasm' ? { threads: 1 } : {});
      expect(tf.getBackend()).toBe(backend);
    });

    const compareWithAutodiff = (spec: ProblemSpec) => {
      const p = problem(spec);
      const fused = run(instanceNorm2dFused, p);
      const autodiff = run(instanceNorm2dAutodiff, p);
      // Same kernels in the same order: the forward pass is bitwise the autodiff path's.
      expect(Array.from(fused.y)).toEqual(Array.from(autodiff.y));
      const scales = termScales(p);
      expect(maxRatio(fused.dx, autodiff.dx, scales.dx)).toBeLessThanOrEqual(GRAD_TOL);
      if (p.gamma !== null) {
        expect(fused.dGamma).not.toBeNull();
        expect(maxRatio(fused.dGamma ?? [], autodiff.dGamma ?? [], scales.dGamma)).toBeLessThanOrEqual(GRAD_TOL);
        expect(maxRatio(fused.dBeta ?? [], autodiff.dBeta ?? [], scales.dBeta)).toBeLessThanOrEqual(GRAD_TOL);
      }
    };

    it('forward bitwise equal, gradients equal within float32 rounding: random shapes (property)', () => {
      fc.assert(fc.property(specs(anyShape, 1, 3), compareWithAutodiff), { numRuns: 60 });
    });

    it('… with H·W = 4, the 64×64-input bottleneck (property)', () => {
      fc.assert(fc.property(specs(fourPixels, 1, 3), compareWithAutodiff), { numRuns: 60 });
    });

    it('… with spreads from 1e-3 (below eps) to 1e3 and offsets up to 1e3 spreads (property)', () => {
      fc.assert(fc.property(specs(anyShape, 3, 1000), compareWithAutodiff), { numRuns: 60 });
    });

    it('gradients equal central finite differences of a float64 reference (property)', () => {
      fc.assert(
        fc.property(specs(fc.oneof(anyShape, fourPixels), 1, 3), (spec) => {
          const p = problem(spec);
          const fused = run(instanceNorm2dFused, p);
          const ref = reference(p);
          // The float32 forward against float64, relative to |γ|·(|x̂| + condition) + |β|.
          const scales = termScales(p);
          let forwardWorst = 0;
          const c = p.shape[3];
          for (let i = 0; i < ref.y.length; i++) {
            const ch = i % c;
            const size = Math.abs(p.gamma === null ? 1 : p.gamma[ch]) * (Math.abs(ref.xHat[i]) + scales.condition[i]) + Math.abs(p.beta === null ? 0 : p.beta[ch]);
            forwardWorst = Math.max(forwardWorst, Math.abs(fused.y[i] - ref.y[i]) / size);
          }
          expect(forwardWorst).toBeLessThanOrEqual(GRAD_TOL);

          const central = (at: (delta: number) => number, h: number) => (at(h) - at(-h)) / (2 * h);
          const x = Float64Array.from(p.x);
          const dxNumeric = new Float64Array(x.length);
          for (let i = 0; i < x.length; i++) {
            const h = 1e-6 * Math.max(1, Math.abs(x[i]));
            const slice: [number, number] = [Math.floor(i / (p.shape[1] * p.shape[2] * c)), i % c];
            dxNumeric[i] = central((d) => {
              const bumped = x.slice();
              bumped[i] += d;
              return referenceLoss(p, bumped, p.gamma, p.beta, slice);
            }, h);
          }
          expect(maxRatio(fused.dx, dxNumeric, scales.dx)).toBeLessThanOrEqual(GRAD_TOL);
          if (p.gamma !== null && p.beta !== null) {
            const gamma = Float64Array.from(p.gamma);
            const beta = Float64Array.from(p.beta);
            const along = (v: Float64Array, i: number, d: number) => {
              const out = v.slice();
              out[i] += d;
              return out;
            };
            const dGammaNumeric = gamma.map((_, i) => central((d) => referenceLoss(p, x, along(gamma, i, d), beta), 1e-6));
            const dBetaNumeric = beta.map((_, i) => central((d) => referenceLoss(p, x, gamma, along(beta, i, d)), 1e-6));
            expect(maxRatio(fused.dGamma ?? [], dGammaNumeric, scales.dGamma)).toBeLessThanOrEqual(GRAD_TOL);
            expect(maxRatio(fused.dBeta ?? [], dBetaNumeric, scales.dBeta)).toBeLessThanOrEqual(GRAD_TOL);
          }
        }),
        { numRuns: 30 },
      );
    });

    it('the tolerance has teeth: a closed form missing the x̂·mean(g·x̂) term is rejected', () => {
      // Same check as above against a deliberately wrong gradient (the 'batch-norm without the
      // variance path' mistake), on a problem of the property's kind.
      const p = problem({ shape: [2, 2, 2, 3], seed: 7, logScale: 1, offset: 3, affine: true });
      const wrong = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
        const y = instanceNorm2dAutodiff(input as tf.Tensor4D, null);
        const { variance } = tf.moments(input as tf.Tensor4D, [1, 2], true);
        (save as tf.GradSaveFunc)([tf.rsqrt(tf.add(variance, INSTANCE_NORM_EPS))]);
        return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(tf.sub(dy, tf.mean(dy, [1, 2], true)), saved[0]) };
      });
      const noAffine = { ...p, gamma: null, beta: null };
      const bad = run((x) => wrong(x) as tf.Tensor4D, noAffine);
      const good = run(instanceNorm2dAutodiff, noAffine);
      expect(maxRatio(bad.dx, good.dx, termScales(noAffine).dx)).toBeGreaterThan(1e-2);
    });

    it('the layer runs the fused node: its tape keeps x̂ and rstd, the autodiff path much more', () => {
      const [n, h, w, c] = [2, 8, 8, 4];
      const layer = new InstanceNorm2d({ channels: c, affine: true });
      const plain = new InstanceNorm2d({ channels: c });
      const x = tf.randomNormal([n, h, w, c], 0, 1, 'float32', 3) as tf.Tensor4D;
      const weight = layer.weight as tf.Variable<tf.Rank.R1>;
      const bias = layer.bias as tf.Variable<tf.Rank.R1>;
      // New data buffers while the tape is recording = outputs + what the tape keeps for backprop.
      const buffersAdded = (f: () => tf.Tensor): number => {
        let added = -1;
        const { value, grads } = tf.variableGrads(() => {
          const before = tf.memory().numDataBuffers;
          const y = f();
          added = tf.memory().numDataBuffers - before;
          return tf.sum(tf.mul(y, y));
        }, [weight, bias]);
        tf.dispose([value, ...Object.values(grads)]);
        return added;
      };
      // y, x̂, rstd — and x̂ is y without affine.
      expect(buffersAdded(() => layer.apply(x))).toBe(3);
      expect(buffersAdded(() => tf.add(plain.apply(x), tf.mul(weight, bias)))).toBe(2 + 2);
      expect(buffersAdded(() => instanceNorm2dAutodiff(x, { weight, bias }))).toBeGreaterThan(5);
      tf.dispose(x);
      layer.dispose();
      plain.dispose();
    });

    it('leaks no tensor: forward, tf.grads, tf.variableGrads and leanVariableGrads in a loop', () => {
      const layer = new InstanceNorm2d({ channels: 3, affine: true });
      const plain = new InstanceNorm2d({ channels: 3 });
      const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      const variables = [...layer.parameters().values()];
      const loss = () => tf.sum(tf.square(plain.apply(layer.apply(x)))) as tf.Scalar;
      loss().dispose(); // first-call kernel set-up outside the count
      const before = tf.memory().numTensors;
      const buffersBefore = tf.memory().numDataBuffers;
      for (let i = 0; i < 3; i++) {
        layer.apply(x).dispose();
        tf.dispose(tf.grad((input: tf.Tensor) => tf.sum(plain.apply(layer.apply(input as tf.Tensor4D))))(x));
        const a = tf.variableGrads(loss, variables);
        tf.dispose([a.value, ...Object.values(a.grads)]);
        const b = leanVariableGrads(loss, variables);
        tf.dispose([b.value, ...Object.values(b.grads)]);
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.memory().numDataBuffers).toBe(buffersBefore);
      tf.dispose(x);
      layer.dispose();
      plain.dispose();
    });

    it('leanVariableGrads gives bitwise tf.variableGrads through fused layers', () => {
      const rng = new Rng(11);
      const steps = [
        new Conv2d({ inChannels: 3, outChannels: 6, kernelSize: 3, padding: 1, rng }),
        new InstanceNorm2d({ channels: 6, affine: true }),
        relu,
        new Conv2d({ inChannels: 6, outChannels: 4, kernelSize: 3, stride: 2, padding: 1, rng }),
        new InstanceNorm2d({ channels: 4 }),
        relu,
        new Conv2d({ inChannels: 4, outChannels: 4, kernelSize: 1, rng }),
        new InstanceNorm2d({ channels: 4, affine: true }),
      ];
      const net = new Sequential(steps);
      // Non-trivial affine parameters, so γ and β reach every term.
      for (const [name, v] of net.parameters()) {
        if (name.endsWith('.weight') && v.rank === 1) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', 1));
        if (name.endsWith('.bias')) v.assign(tf.randomUniform(v.shape, -0.5, 0.5, 'float32', 2));
      }
      const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 13) as tf.Tensor4D;
      const target = tf.randomNormal([2, 4, 4, 4], 0, 1, 'float32', 17);
      const variables = [...net.parameters().values()];
      const loss = () => tf.mean(tf.square(tf.sub(net.apply(x), target))) as tf.Scalar;
      const reference = tf.variableGrads(loss, variables);
      const lean = leanVariableGrads(loss, variables);
      expect(Object.keys(lean.grads).sort()).toEqual(Object.keys(reference.grads).sort());
      expect(Object.keys(lean.grads)).toHaveLength(variables.length);
      expect(lean.value.dataSync()).toEqual(reference.value.dataSync());
      for (const [name, g] of Object.entries(reference.grads)) expect(lean.grads[name].dataSync()).toEqual(g.dataSync());
      // And the fused network's gradients are the autodiff network's within rounding.
      const autodiffLoss = () =>
        tf.tidy(() => {
          let h = x as tf.Tensor4D;
          for (const step of steps) {
            if (step instanceof InstanceNorm2d) {
              h = instanceNorm2dAutodiff(h, step.weight === null || step.bias === null ? null : { weight: step.weight, bias: step.bias });
            } else {
              h = typeof step === 'function' ? step(h) : step.apply(h);
            }
          }
          return tf.mean(tf.square(tf.sub(h, target))) as tf.Scalar;
        });
      const autodiff = tf.variableGrads(autodiffLoss, variables);
      for (const [name, g] of Object.entries(autodiff.grads)) {
        const fused = lean.grads[name].dataSync();
        const expected = g.dataSync();
        const scale = Math.max(...Array.from(expected, Math.abs));
        expect(maxRatio(fused, expected, new Float64Array(expected.length).fill(scale))).toBeLessThanOrEqual(1e-5);
      }
      tf.dispose([x, target, reference.value, lean.value, autodiff.value, ...Object.values(reference.grads), ...Object.values(lean.grads), ...Object.values(autodiff.grads)]);
      net.dispose();
    });
  });
}
