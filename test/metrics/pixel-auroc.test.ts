import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuproAccumulator, PixelAurocAccumulator, imageAuroc, pixelAuroc } from '../../src/metrics/index.js';
import { bruteAuroc, loadFixture, maskBits, typedScores, type PixelDataset } from './reference.js';

/** Pixels with both classes, scores on a coarse grid (ties), and random cut points. */
const pixelsAndCuts = fc
  .array(fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 12 })), { minLength: 2, maxLength: 300 })
  .filter((px) => px.some(([m]) => m === 1) && px.some(([m]) => m === 0))
  .chain((px) =>
    fc.record({
      mask: fc.constant(px.map(([m]) => m)),
      scores: fc.constant(Float32Array.from(px, ([, s]) => s / 8 - 0.5)),
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: px.length - 1 }), { maxLength: 6 }),
    }),
  );

describe('PixelAurocAccumulator', () => {
  it('fed in random chunks equals the one-shot and the brute-force pair count', () => {
    fc.assert(
      fc.property(pixelsAndCuts, ({ mask, scores, cuts }) => {
        const bounds = [0, ...cuts.sort((a, b) => a - b), scores.length];
        const acc = new PixelAurocAccumulator();
        for (let j = 0; j + 1 < bounds.length; j++) {
          acc.add(scores.subarray(bounds[j], bounds[j + 1]), mask.slice(bounds[j], bounds[j + 1]));
        }
        const streamed = acc.compute();
        expect(streamed).toBe(pixelAuroc(scores, mask));
        expect(streamed).toBe(imageAuroc(mask, scores));
        expect(streamed).toBeCloseTo(bruteAuroc(mask, Array.from(scores)), 14);
        expect(acc.positiveCount + acc.negativeCount).toBe(scores.length);
      }),
      { numRuns: 150 },
    );
  });

  it('can be read, fed more, and read again', () => {
    const acc = new PixelAurocAccumulator();
    acc.add(Float32Array.from([0.1, 0.9]), [0, 1]);
    expect(acc.compute()).toBe(1);
    acc.add(Float32Array.from([0.95, 0.2]), [0, 1]);
    expect(acc.compute()).toBe(imageAuroc([0, 1, 0, 1], [0.1, 0.9, 0.95, 0.2]));
    expect(acc.compute()).toBe(0.5);
  });

  it('joins its chunks correctly past the 2^20-value chunk size', () => {
    const n = (1 << 20) + 12345;
    const scores = new Float32Array(n);
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      scores[i] = ((i * 7919) % 1000) / 1000;
      mask[i] = (i * 104729) % 13 === 0 ? 1 : 0;
    }
    const acc = new PixelAurocAccumulator();
    acc.add(scores.subarray(0, 700_000), mask.subarray(0, 700_000));
    acc.add(scores.subarray(700_000), mask.subarray(700_000));
    expect(acc.negativeCount + acc.positiveCount).toBe(n);
    expect(acc.byteLength).toBeGreaterThanOrEqual(4 * n);
    expect(acc.compute()).toBe(imageAuroc(mask, scores));
    const preallocated = new PixelAurocAccumulator({ capacity: n });
    preallocated.add(scores, mask);
    expect(preallocated.compute()).toBe(imageAuroc(mask, scores));
  });

  it("stores float32 by default (near-equal float64 scores become ties); 'float64' keeps them apart", () => {
    const scores = [1, 1 + 1e-12, 0.5];
    const mask = [0, 1, 0];
    const as32 = new PixelAurocAccumulator();
    as32.add(scores, mask);
    expect(as32.compute()).toBe(0.75); // the two near-equal scores tie in float32
    const as64 = new PixelAurocAccumulator({ precision: 'float64' });
    as64.add(scores, mask);
    expect(as64.compute()).toBe(1);
    expect(pixelAuroc(scores, mask)).toBe(1); // one-shot: exact precision for number[] maps
  });

  describe('matches scikit-learn roc_auc_score on the flattened maps (golden fixtures)', () => {
    const { datasets } = loadFixture<{ datasets: PixelDataset[] }>('pixel_metrics.json');
    for (const d of datasets) {
      it(d.name, () => {
        const maps = d.maps.map((m) => typedScores(m, d.dtype));
        const masks = d.masks.map(maskBits);
        expect(Math.abs(pixelAuroc(maps, masks) - d.pixelAuroc)).toBeLessThan(1e-12);
        const acc = new AuproAccumulator({ height: d.height, width: d.width, precision: d.dtype });
        maps.forEach((m, i) => acc.add(m, masks[i]));
        expect(Math.abs(acc.pixelAuroc() - d.pixelAuroc)).toBeLessThan(1e-12);
      });
    }
  });
});
