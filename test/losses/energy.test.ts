import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { energyHigh, energyLow } from '../../src/losses/energy.js';
import { energyDiscriminatorLoss } from '../../src/losses/energy-discriminator-loss.js';
import { energyGeneratorLoss } from '../../src/losses/energy-generator-loss.js';
import { checkGradient, makeRng, take } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
const low64 = (heads: Float32Array[]) => heads.reduce((s, h) => s + mean(h), 0);
const high64 = (heads: Float32Array[], a: number) => heads.reduce((s, h) => s + mean(h.map((e) => Math.max(0, a - e))), 0);

/** Per-head energies ≥ 0: a patch head [n, 3, 3, 1] and an image head [n]. */
function energies(rng: () => number, n: number, spread: number): { values: Float32Array[]; tensors: tf.Tensor[] } {
  const patch = Float32Array.from({ length: n * 9 }, () => spread * rng());
  const image = Float32Array.from({ length: n }, () => spread * rng());
  return { values: [patch, image], tensors: [tf.tensor4d(patch, [n, 3, 3, 1]), tf.tensor1d(image)] };
}

describe('energyLow / energyHigh', () => {
  it('average each head over all its energies, then sum over heads', () => {
    const a = tf.tensor4d([1, 1, 1, 1], [1, 2, 2, 1]);
    const b = tf.tensor1d([5]);
    // Sum of per-head means = 1 + 5; a mean over the concatenation would give 1.8.
    expect(take(energyLow([a, b]))).toBeCloseTo(6, 6);
    // high: mean(max(0, 4 − 1)) + mean(max(0, 4 − 5)) = 3 + 0.
    expect(take(energyHigh([a, b], 4))).toBeCloseTo(3, 6);
    tf.dispose([a, b]);
  });

  it('match a float64 reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.double({ min: 0.1, max: 10, noNaN: true }), fc.integer(), (n, margin, seed) => {
        const { values, tensors } = energies(makeRng(seed), n, 10);
        expect(take(energyLow(tensors))).toBeCloseTo(low64(values), 4);
        expect(take(energyHigh(tensors, margin))).toBeCloseTo(high64(values, margin), 4);
        tf.dispose(tensors);
      }),
      { numRuns: 30 },
    );
  });

  it('reject empty lists or tensors and a margin ≤ 0', () => {
    const e = tf.ones([2, 2, 2, 1]);
    const empty = tf.zeros([0]);
    expect(() => energyLow([])).toThrow(InvalidArgumentError);
    expect(() => energyLow([empty])).toThrow(/energies\[0\]/);
    expect(() => energyHigh([e], 0)).toThrow(/margin/);
    expect(() => energyHigh([e], -1)).toThrow(InvalidArgumentError);
    expect(() => energyHigh([e], Number.POSITIVE_INFINITY)).toThrow(InvalidArgumentError);
    tf.dispose([e, empty]);
  });
});

describe('energyDiscriminatorLoss (paper eqs. 8 / 11)', () => {
  it('equals low(N) + (1 − γ)·high(A) + γ·high(R) and is ≥ 0', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: 0.5, max: 10, noNaN: true }),
        fc.integer(),
        (nN, nA, gamma, margin, seed) => {
          const rng = makeRng(seed);
          const normal = energies(rng, nN, 12);
          const anomalous = energies(rng, nA, 12);
          const reconstructed = energies(rng, nN + nA, 12);
          const expected =
            low64(normal.values) + (1 - gamma) * high64(anomalous.values, margin) + gamma * high64(reconstructed.values, margin);
          const loss = take(
            energyDiscriminatorLoss(
              { normal: normal.tensors, anomalous: anomalous.tensors, reconstructed: reconstructed.tensors },
              { gamma, margin },
            ),
          );
          expect(loss).toBeCloseTo(expected, 4);
          expect(loss).toBeGreaterThanOrEqual(0);
          tf.dispose([...normal.tensors, ...anomalous.tensors, ...reconstructed.tensors]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('defaults to γ = 0.5 and a = 5', () => {
    const n = [tf.tensor1d([1])];
    const a = [tf.tensor1d([2])];
    const r = [tf.tensor1d([4])];
    // 1 + 0.5·(5 − 2) + 0.5·(5 − 4)
    expect(take(energyDiscriminatorLoss({ normal: n, anomalous: a, reconstructed: r }))).toBeCloseTo(3, 6);
    tf.dispose([...n, ...a, ...r]);
  });

  /**
   * Discrete check of the optimal-discriminator step of Theorems 1 / 2. On a finite support
   * with probabilities P⁺, P⁻, P_g, the loss of D : x ↦ d_x ≥ 0 is
   *   L(d) = Σ_x P⁺(x)·d_x + Q(x)·max(0, a − d_x),   Q = γ·P_g + (1 − γ)·P⁻,
   * separable in x; each summand is piecewise linear with value Q·a at d = 0, P⁺·a at d = a
   * and increasing beyond a, so its minimum is a·min(P⁺, Q), reached at d = 0 if P⁺ ≥ Q and
   * d = a otherwise. Hence min_D L = a·Σ_x min(P⁺(x), Q(x)) = a − (a/2)·Σ_x |P⁺ − Q| (eq. 22
   * with the paper's ‖·‖_TV = Σ|·|, Lemma 1). The distributions are encoded as batches in
   * which point x appears count(x) times, so the loss's means are the expectations.
   */
  it("attains the closed-form minimum a·Σ min(P⁺, γ·P_g + (1 − γ)·P⁻) of Theorem 1's proof", () => {
    const countsArb = (k: number) => fc.array(fc.integer({ min: 0, max: 5 }), { minLength: k, maxLength: k }).filter((c) => c.some((v) => v > 0));
    const caseArb = fc.integer({ min: 2, max: 3 }).chain((k) =>
      fc.record({
        plus: countsArb(k),
        minus: countsArb(k),
        generated: countsArb(k),
        gamma: fc.constantFrom(0.25, 0.5, 0.75, 1),
        margin: fc.constantFrom(1, 5),
        probe: fc.array(fc.double({ min: 0, max: 12, noNaN: true }), { minLength: k, maxLength: k }),
      }),
    );
    fc.assert(
      fc.property(caseArb, ({ plus, minus, generated, gamma, margin, probe }) => {
        const k = plus.length;
        const total = (c: number[]) => c.reduce((a, b) => a + b, 0);
        const P = (c: number[]) => c.map((v) => v / total(c));
        const pPlus = P(plus);
        const q = P(generated).map((g, x) => gamma * g + (1 - gamma) * P(minus)[x]);
        const closedForm = margin * pPlus.reduce((s, p, x) => s + Math.min(p, q[x]), 0);
        const viaTv = margin - (margin / 2) * pPlus.reduce((s, p, x) => s + Math.abs(p - q[x]), 0);
        expect(closedForm).toBeCloseTo(viaTv, 10);

        const batchOf = (counts: number[], d: number[]) => tf.tensor1d(counts.flatMap((c, x) => new Array<number>(c).fill(d[x])));
        const lossAt = (d: number[]) =>
          tf.tidy(() =>
            energyDiscriminatorLoss(
              { normal: [batchOf(plus, d)], anomalous: [batchOf(minus, d)], reconstructed: [batchOf(generated, d)] },
              { gamma, margin },
            ).dataSync()[0],
          );
        // The minimiser d*_x = a if P⁺(x) < Q(x) else 0 reaches the closed form.
        const optimal = pPlus.map((p, x) => (p < q[x] ? margin : 0));
        expect(lossAt(optimal)).toBeCloseTo(closedForm, 5);
        // No discriminator on the grid {0, a/2, a, 2a}^k, nor the random probe, does better.
        const grid = [0, margin / 2, margin, 2 * margin];
        let best = Number.POSITIVE_INFINITY;
        for (let code = 0; code < grid.length ** k; code++) {
          const d = Array.from({ length: k }, (_, x) => grid[Math.floor(code / grid.length ** x) % grid.length]);
          best = Math.min(best, lossAt(d));
        }
        expect(best).toBeCloseTo(closedForm, 5);
        expect(lossAt(probe)).toBeGreaterThanOrEqual(closedForm - 1e-5);
      }),
      { numRuns: 15 },
    );
  });

  it('at the equilibrium P_g = P⁺ with disjoint P⁺, P⁻ has minimum a·γ (Theorem 1)', () => {
    // Support {0, 1, 2, 3}: P⁺ on {0, 1}, P⁻ on {2, 3}, P_g = P⁺.
    const plus = [3, 1, 0, 0];
    const minus = [0, 0, 2, 2];
    for (const gamma of [0.3, 0.5, 1]) {
      const d = [0, 0, 5, 5]; // D* = 0 on normal support, a elsewhere
      const batchOf = (counts: number[]) => tf.tensor1d(counts.flatMap((c, x) => new Array<number>(c).fill(d[x])));
      const loss = tf.tidy(() =>
        energyDiscriminatorLoss(
          { normal: [batchOf(plus)], anomalous: [batchOf(minus)], reconstructed: [batchOf(plus)] },
          { gamma, margin: 5 },
        ).dataSync()[0],
      );
      expect(loss).toBeCloseTo(5 * gamma, 5);
    }
  });

  it('has gradients that agree with central finite differences', () => {
    const rng = makeRng(21);
    const margin = 5;
    // Energies kept away from the hinge kink at a.
    const away = (n: number) => Float32Array.from({ length: n }, () => (rng() < 0.5 ? 0.2 + 4 * rng() : 5.8 + 3 * rng()));
    const shapes = [
      [2, 2, 2, 1],
      [3, 2, 2, 1],
      [5, 2, 2, 1],
    ];
    const [eN, eA, eR] = shapes.map((s) => away(s.reduce((a, b) => a * b, 1)));
    const t = (v: Float32Array, s: number[]) => tf.tensor(v, s);
    const opts = { gamma: 0.3, margin };
    checkGradient((x) => energyDiscriminatorLoss({ normal: [x], anomalous: [t(eA, shapes[1])], reconstructed: [t(eR, shapes[2])] }, opts), eN, shapes[0]);
    checkGradient((x) => energyDiscriminatorLoss({ normal: [t(eN, shapes[0])], anomalous: [x], reconstructed: [t(eR, shapes[2])] }, opts), eA, shapes[1]);
    checkGradient((x) => energyDiscriminatorLoss({ normal: [t(eN, shapes[0])], anomalous: [t(eA, shapes[1])], reconstructed: [x] }, opts), eR, shapes[2]);
    checkGradient((x) => energyGeneratorLoss([x]), eR, shapes[2]);
  });

  it('rejects γ ∉ (0, 1], a ≤ 0 and mismatched heads', () => {
    const e = () => [tf.ones([2, 3, 3, 1])];
    const ok = { normal: e(), anomalous: e(), reconstructed: e() };
    for (const gamma of [0, -0.5, 1.5, Number.NaN]) {
      expect(() => energyDiscriminatorLoss(ok, { gamma, margin: 5 })).toThrow(InvalidArgumentError);
      expect(() => energyDiscriminatorLoss(ok, { gamma, margin: 5 })).toThrow(/gamma/);
    }
    expect(() => energyDiscriminatorLoss(ok, { gamma: 1, margin: 0 })).toThrow(/margin/);
    const twoHeads = [tf.ones([2, 3, 3, 1]), tf.ones([2, 2, 2, 1])];
    expect(() => energyDiscriminatorLoss({ ...ok, anomalous: twoHeads }, { gamma: 0.5, margin: 5 })).toThrow(ShapeMismatchError);
    const otherSize = [tf.ones([4, 2, 2, 1])];
    expect(() => energyDiscriminatorLoss({ ...ok, reconstructed: otherSize }, { gamma: 0.5, margin: 5 })).toThrow(
      /energies\.reconstructed\[0\]/,
    );
    expect(() => energyDiscriminatorLoss({ ...ok, normal: [] }, { gamma: 0.5, margin: 5 })).toThrow(InvalidArgumentError);
    // γ = 1 is allowed (the anomalous term then has weight 0).
    expect(take(energyDiscriminatorLoss(ok, { gamma: 1, margin: 5 }))).toBeCloseTo(1 + 4, 6);
    tf.dispose([...Object.values(ok).flat(), ...twoHeads, ...otherSize]);
  });
});

describe('energyGeneratorLoss (paper eqs. 9 / 12 as coded)', () => {
  it('is the mean energy of the reconstructions, summed over heads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer(), (n, seed) => {
        const { values, tensors } = energies(makeRng(seed), n, 7);
        expect(take(energyGeneratorLoss(tensors))).toBeCloseTo(low64(values), 4);
        tf.dispose(tensors);
      }),
      { numRuns: 20 },
    );
  });

  it('leaves no tensor behind (losses and their gradients)', () => {
    const e = [tf.ones([2, 3, 3, 1]), tf.ones([2])];
    const before = tf.memory().numTensors;
    take(energyGeneratorLoss(e));
    take(energyDiscriminatorLoss({ normal: e, anomalous: e, reconstructed: e }, { gamma: 0.5, margin: 5 }));
    tf.grads((a: tf.Tensor, b: tf.Tensor) => energyGeneratorLoss([a, b]))(e).forEach((g) => g.dispose());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(e);
  });
});
