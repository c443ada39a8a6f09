import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectedComponents } from '../../src/metrics/index.js';
import { loadFixture, maskBits, unionFindComponents, type PixelDataset } from './reference.js';

describe('connectedComponents', () => {
  it('joins pixels touching by a corner (8-connectivity)', () => {
    // 1 0 0
    // 0 1 0
    // 0 0 0
    // 1 1 0
    const { labels, count, sizes } = connectedComponents([1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0], 3, 4);
    expect(count).toBe(2);
    expect(Array.from(labels)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 2, 0]);
    expect(Array.from(sizes)).toEqual([8, 2, 2]);
  });

  it('handles empty, full and single-row masks', () => {
    expect(connectedComponents(new Uint8Array(6), 3, 2).count).toBe(0);
    const full = connectedComponents(new Uint8Array(6).fill(1), 2, 3);
    expect(full.count).toBe(1);
    expect(Array.from(full.sizes)).toEqual([0, 6]);
    expect(Array.from(connectedComponents([true, false, true, true], 4, 1).labels)).toEqual([1, 0, 2, 2]);
  });

  it('partitions like a brute-force union-find, numbered in raster order', () => {
    const maskArb = fc
      .record({ width: fc.integer({ min: 1, max: 12 }), height: fc.integer({ min: 1, max: 12 }) })
      .chain(({ width, height }) =>
        fc.record({
          width: fc.constant(width),
          height: fc.constant(height),
          mask: fc.array(fc.constantFrom(0, 0, 1), { minLength: width * height, maxLength: width * height }),
        }),
      );
    fc.assert(
      fc.property(maskArb, ({ width, height, mask }) => {
        const { labels, count, sizes } = connectedComponents(mask, width, height);
        const reference = unionFindComponents(mask, width, height);
        const seen = new Map<number, number>(); // reference id → our label, in raster order
        for (let p = 0; p < mask.length; p++) {
          if (reference[p] === 0) {
            expect(labels[p]).toBe(0);
            continue;
          }
          if (!seen.has(reference[p])) {
            seen.set(reference[p], seen.size + 1);
          }
          expect(labels[p]).toBe(seen.get(reference[p]));
        }
        expect(count).toBe(seen.size);
        const counted = new Array<number>(count + 1).fill(0);
        for (const l of labels) counted[l]++;
        expect(Array.from(sizes)).toEqual(counted);
      }),
      { numRuns: 200 },
    );
  });

  describe('matches scipy.ndimage.label with a 3×3 structure (golden fixtures)', () => {
    const { datasets } = loadFixture<{ datasets: PixelDataset[] }>('pixel_metrics.json');
    for (const d of datasets) {
      it(d.name, () => {
        d.masks.forEach((m, i) => {
          const { labels, count } = connectedComponents(maskBits(m), d.width, d.height);
          expect(count).toBe(d.regionCounts[i]);
          expect(Array.from(labels)).toEqual(Array.from(d.regionLabels[i], (c) => c.charCodeAt(0) - 48));
        });
      });
    }
  });
});
