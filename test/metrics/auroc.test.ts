import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imageAuroc } from '../../src/metrics/index.js';
import { bruteAuroc, loadFixture, typedScores, type ImageCase } from './reference.js';

/** Small (labels, scores) samples with both classes and plenty of ties. */
const labelledScores = fc
  .array(fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: -6, max: 6 })), { minLength: 2, maxLength: 40 })
  .filter((pairs) => pairs.some(([l]) => l === 1) && pairs.some(([l]) => l === 0))
  .map((pairs) => ({ labels: pairs.map(([l]) => l), scores: pairs.map(([, s]) => s / 4) }));

describe('imageAuroc', () => {
  it('equals the Mann–Whitney pair count with ties counted ½ (brute force)', () => {
    fc.assert(
      fc.property(labelledScores, ({ labels, scores }) => {
        expect(imageAuroc(labels, scores)).toBeCloseTo(bruteAuroc(labels, scores), 14);
      }),
      { numRuns: 300 },
    );
  });

  it('is invariant under strictly increasing transforms of the scores', () => {
    fc.assert(
      fc.property(labelledScores, ({ labels, scores }) => {
        const transformed = scores.map((s) => Math.exp(3 * s) - 7);
        expect(imageAuroc(labels, transformed)).toBe(imageAuroc(labels, scores));
      }),
      { numRuns: 200 },
    );
  });

  it('flipping the labels gives 1 − AUROC', () => {
    fc.assert(
      fc.property(labelledScores, ({ labels, scores }) => {
        const flipped = labels.map((l) => 1 - l);
        expect(imageAuroc(flipped, scores)).toBeCloseTo(1 - imageAuroc(labels, scores), 14);
      }),
      { numRuns: 200 },
    );
  });

  it('handles the documented example and every input type alike', () => {
    expect(imageAuroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    const labels = [1, 0, 1, 0, 0, 1];
    const scores = [0.9, 0.3, 0.3, 0.5, 0.1, 0.7];
    const expected = bruteAuroc(labels, scores); // 3 + (1 + ½ for the tie at 0.3) + 3 of 9 pairs
    expect(expected).toBeCloseTo(7.5 / 9, 15);
    expect(imageAuroc(labels, scores)).toBe(7.5 / 9);
    expect(imageAuroc(Uint8Array.from(labels), Float64Array.from(scores))).toBe(7.5 / 9);
    expect(imageAuroc(labels.map((l) => l === 1), Float32Array.from([0.9, 0.3, 0.3, 0.5, 0.1, 0.7]))).toBe(7.5 / 9);
    expect(imageAuroc([0, 1], [1, 0])).toBe(0);
    expect(imageAuroc([0, 1, 0, 1], [2, 2, 2, 2])).toBe(0.5);
  });

  describe('matches scikit-learn roc_auc_score (golden fixtures)', () => {
    const { cases } = loadFixture<{ cases: ImageCase[] }>('image_metrics.json');
    for (const c of cases) {
      it(c.name, () => {
        const got = imageAuroc(c.labels, typedScores(c.scores, c.dtype));
        expect(Math.abs(got - c.auroc)).toBeLessThan(1e-12);
      });
    }
  });
});
