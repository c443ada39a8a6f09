import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuproAccumulator, aupro, pixelAuroc } from '../../src/metrics/index.js';
import { bruteAupro, loadFixture, maskBits, typedScores, type PixelDataset } from './reference.js';

/** 1–3 small images with at least one normal and one anomalous pixel overall, tied scores. */
const testSet = fc
  .record({
    width: fc.integer({ min: 1, max: 6 }),
    height: fc.integer({ min: 1, max: 6 }),
    images: fc.integer({ min: 1, max: 3 }),
  })
  .chain(({ width, height, images }) => {
    const image = fc.array(fc.tuple(fc.constantFrom(0, 0, 1), fc.integer({ min: 0, max: 15 })), {
      minLength: width * height,
      maxLength: width * height,
    });
    return fc.record({
      width: fc.constant(width),
      height: fc.constant(height),
      pixels: fc.array(image, { minLength: images, maxLength: images }),
      limitPick: fc.oneof(fc.constant(0.3), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.integer({ min: 1, max: 40 })),
    });
  })
  .filter(({ pixels }) => pixels.flat().some(([m]) => m === 1) && pixels.flat().some(([m]) => m === 0))
  .map(({ width, height, pixels, limitPick }) => {
    const masks = pixels.map((img) => img.map(([m]) => m));
    const maps = pixels.map((img) => img.map(([m, s]) => (s + 2 * m) / 16)); // exact binary fractions
    const normals = masks.flat().filter((m) => m === 0).length;
    // An integer pick becomes an FPR the curve attains exactly (the "limit ∈ x" branch).
    const limit = Number.isInteger(limitPick) ? Math.min(1, (limitPick as number) / normals) : (limitPick as number);
    return { width, height, masks, maps, limit };
  });

describe('aupro (MVTec AD definition)', () => {
  it('equals the brute-force PRO curve integrated up to the limit', () => {
    fc.assert(
      fc.property(testSet, ({ width, height, masks, maps, limit }) => {
        const expected = bruteAupro(maps, masks, width, height, limit);
        const got = aupro(maps, masks, { height, width, fprLimit: limit });
        expect(Math.abs(got - expected)).toBeLessThan(1e-12);
      }),
      { numRuns: 300 },
    );
  });

  it('is 1 for a perfect map and invariant under strictly increasing transforms', () => {
    fc.assert(
      fc.property(testSet, ({ width, height, masks, maps, limit }) => {
        const perfect = masks.map((mk, i) => mk.map((m, p) => m * 10 + maps[i][p]));
        expect(aupro(perfect, masks, { height, width, fprLimit: limit })).toBeCloseTo(1, 12);
        const warped = maps.map((m) => m.map((s) => Math.atan(4 * s) * 3 + 1));
        expect(aupro(warped, masks, { height, width, fprLimit: limit })).toBe(aupro(maps, masks, { height, width, fprLimit: limit }));
      }),
      { numRuns: 150 },
    );
  });

  it('streamed in batches of any size equals the one-shot, and can be read repeatedly', () => {
    fc.assert(
      fc.property(testSet, fc.integer({ min: 1, max: 3 }), ({ width, height, masks, maps }, batch) => {
        const acc = new AuproAccumulator({ height, width, precision: 'float64' });
        for (let i = 0; i < maps.length; i += batch) {
          acc.add(maps.slice(i, i + batch).flat(), masks.slice(i, i + batch).flat());
        }
        expect(acc.imageCount).toBe(maps.length);
        expect(acc.normalCount + acc.anomalousCount).toBe(maps.length * width * height);
        const once = aupro(maps, masks, { height, width });
        expect(acc.compute()).toBe(once);
        expect(acc.compute(0.3)).toBe(once);
        expect(aupro(maps.flat(), masks.flat(), { height, width })).toBe(once);
        expect(acc.pixelAuroc()).toBe(pixelAuroc(maps, masks));
      }),
      { numRuns: 150 },
    );
  });

  it('counts regions per image and treats corner-touching pixels as one region', () => {
    // Two 3×3 images: a diagonal pair (1 region) and two separate pixels (2 regions).
    const masks = [
      [1, 0, 0, 0, 1, 0, 0, 0, 0],
      [1, 0, 1, 0, 0, 0, 0, 0, 0],
    ];
    const acc = new AuproAccumulator({ height: 3, width: 3 });
    acc.add(Float32Array.from({ length: 9 }, (_, i) => i / 10), masks[0]);
    acc.add(Float32Array.from({ length: 9 }, (_, i) => i / 9), masks[1]);
    expect(acc.regionCount).toBe(3);
    expect(acc.anomalousCount).toBe(4);
    expect(acc.normalCount).toBe(14);
  });

  describe('golden fixtures (independent NumPy implementations)', () => {
    const { datasets } = loadFixture<{ datasets: PixelDataset[] }>('pixel_metrics.json');
    for (const d of datasets) {
      it(`${d.name}: definition at every limit, and the official script's float32-FPR numbers`, () => {
        const maps = d.maps.map((m) => typedScores(m, d.dtype));
        const masks = d.masks.map(maskBits);
        const acc = new AuproAccumulator({ height: d.height, width: d.width, precision: d.dtype });
        const acc32 = new AuproAccumulator({ height: d.height, width: d.width, precision: d.dtype, fprDtype: 'float32' });
        maps.forEach((m, i) => {
          acc.add(m, masks[i]);
          acc32.add(m, masks[i]);
        });
        expect(acc.regionCount).toBe(d.regionCounts.reduce((a, b) => a + b, 0));
        for (const [limit, expected] of Object.entries(d.aupro)) {
          expect(Math.abs(acc.compute(Number(limit)) - expected)).toBeLessThan(1e-12);
          expect(Math.abs(aupro(maps, masks, { height: d.height, width: d.width, fprLimit: Number(limit) }) - expected)).toBeLessThan(1e-12);
        }
        for (const [limit, expected] of Object.entries(d.auproOfficialFloat32Fpr)) {
          expect(Math.abs(acc32.compute(Number(limit)) - expected)).toBeLessThan(1e-12);
        }
      });
    }

    it('the float32 FPRs of the official script differ from the definition (by < 1e-7)', () => {
      const d = datasets[0];
      const gap = Math.abs(d.aupro['0.3'] - d.auproOfficialFloat32Fpr['0.3']);
      expect(gap).toBeGreaterThan(1e-12);
      expect(gap).toBeLessThan(1e-7);
    });
  });
});
