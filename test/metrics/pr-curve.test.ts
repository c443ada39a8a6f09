import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bestF1, precisionRecallCurve } from '../../src/metrics/index.js';
import { confusionAt, loadFixture, typedScores, type ImageCase } from './reference.js';

const samples = fc
  .array(fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 40 })
  .filter((pairs) => pairs.some(([l]) => l === 1))
  .map((pairs) => ({ labels: pairs.map(([l]) => l), scores: pairs.map(([, s]) => s / 10) }));

const { cases } = loadFixture<{ cases: ImageCase[] }>('image_metrics.json');

describe('precisionRecallCurve', () => {
  it('reproduces the scikit-learn docstring example', () => {
    const { precision, recall, thresholds } = precisionRecallCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(Array.from(thresholds)).toEqual([0.1, 0.35, 0.4, 0.8]);
    expect(Array.from(precision)).toEqual([0.5, 2 / 3, 0.5, 1, 1]);
    expect(Array.from(recall)).toEqual([1, 1, 0.5, 0.5, 0]);
  });

  it('has one point per distinct score, counted with score ≥ threshold, plus the final (1, 0)', () => {
    fc.assert(
      fc.property(samples, ({ labels, scores }) => {
        const { precision, recall, thresholds } = precisionRecallCurve(labels, scores);
        const distinct = [...new Set(scores)].sort((a, b) => a - b);
        expect(Array.from(thresholds)).toEqual(distinct);
        expect(precision.length).toBe(distinct.length + 1);
        expect(recall.length).toBe(distinct.length + 1);
        const positives = labels.filter((l) => l === 1).length;
        distinct.forEach((t, k) => {
          const { tp, fp } = confusionAt(labels, scores, t);
          expect(precision[k]).toBe(tp / (tp + fp));
          expect(recall[k]).toBe(tp / positives);
        });
        expect(precision[distinct.length]).toBe(1);
        expect(recall[distinct.length]).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  describe('matches scikit-learn precision_recall_curve (golden fixtures)', () => {
    for (const c of cases.filter((x) => x.curve)) {
      it(c.name, () => {
        const curve = c.curve as NonNullable<ImageCase['curve']>;
        const got = precisionRecallCurve(c.labels, typedScores(c.scores, c.dtype));
        const round = c.dtype === 'float32' ? Math.fround : (v: number) => v;
        expect(Array.from(got.thresholds)).toEqual(curve.thresholds.map(round));
        expect(got.precision.length).toBe(curve.precision.length);
        curve.precision.forEach((p, k) => expect(Math.abs(got.precision[k] - p)).toBeLessThan(1e-15));
        curve.recall.forEach((r, k) => expect(Math.abs(got.recall[k] - r)).toBeLessThan(1e-15));
      });
    }
  });
});

describe('bestF1', () => {
  it('is ≥ the F1 at any threshold, and reached at its own threshold (brute force)', () => {
    fc.assert(
      fc.property(samples, fc.double({ min: -0.1, max: 1.1, noNaN: true }), ({ labels, scores }, anyThreshold) => {
        const best = bestF1(labels, scores);
        const f1At = (t: number): number => {
          const { tp, fp, fn } = confusionAt(labels, scores, t);
          return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
        };
        for (const t of [...scores, anyThreshold]) expect(best.f1).toBeGreaterThanOrEqual(f1At(t) - 1e-12);
        expect(best.f1).toBeCloseTo(f1At(best.threshold), 12);
        const { tp, fp, tn, fn } = confusionAt(labels, scores, best.threshold);
        expect(best.accuracy).toBe((tp + tn) / (tp + fp + tn + fn));
        expect(best.precision).toBe(tp / (tp + fp));
        expect(best.recall).toBe(tp / (tp + fn));
        // np.argmax semantics: every lower threshold scores strictly less (authors' formula)
        const positives = labels.filter((l) => l === 1).length;
        for (const t of scores) {
          if (t >= best.threshold) continue;
          const { tp, fp } = confusionAt(labels, scores, t);
          const [p, r] = [tp / (tp + fp), tp / positives];
          expect((2 * (p * r)) / (p + r + 1e-16)).toBeLessThan(best.f1);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('uses the authors\u2019 F1 = 2PR / (P + R + 1e-16), which can move the last bit', () => {
    // Top score: 1 positive + 1 negative (P = 0.5, R = 0.25); bottom: 3 positives + 29 negatives.
    const labels = [1, 0, ...Array<number>(3).fill(1), ...Array<number>(29).fill(0)];
    const scores = [0.9, 0.9, ...Array<number>(32).fill(0.1)];
    const best = bestF1(labels, scores);
    expect(best.threshold).toBe(0.9);
    expect(best.f1).toBe((2 * (0.5 * 0.25)) / (0.5 + 0.25 + 1e-16)); // 0.33333333333333326
    expect(best.f1).not.toBe(1 / 3);
    expect(best.accuracy).toBe((1 + 29) / 34);
  });

  describe('matches the authors\u2019 calculate_metrics on scikit-learn\u2019s curve (golden fixtures)', () => {
    for (const c of cases) {
      it(c.name, () => {
        const got = bestF1(c.labels, typedScores(c.scores, c.dtype));
        const round = c.dtype === 'float32' ? Math.fround : (v: number) => v;
        expect(Math.abs(got.f1 - c.best.f1)).toBeLessThan(1e-12);
        expect(got.threshold).toBe(round(c.best.threshold));
        expect(Math.abs(got.precision - c.best.precision)).toBeLessThan(1e-12);
        expect(Math.abs(got.recall - c.best.recall)).toBeLessThan(1e-12);
        expect(Math.abs(got.accuracy - c.best.accuracy)).toBeLessThan(1e-12);
      });
    }
  });
});
