import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortFloat32 } from '../../src/metrics/radix-sort.js';

describe('sortFloat32 (radix sort of pixel scores)', () => {
  it('equals the native sort on large arrays with negatives, ±0, subnormals, infinities and ties', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        let state = seed;
        const next = (): number => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state / 2 ** 32;
        };
        const specials = [0, -0, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, 1, -1];
        const n = (1 << 14) + Math.floor(next() * 5000);
        const values = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const r = next();
          values[i] = r < 0.05 ? specials[i % specials.length] : r < 0.5 ? Math.round((next() - 0.5) * 64) / 8 : (next() - 0.5) * 10 ** (next() * 20 - 10);
        }
        const expected = values.slice().sort();
        const got = sortFloat32(values);
        expect(got).toBe(values);
        for (let i = 0; i < n; i++) expect(Object.is(got[i], expected[i])).toBe(true);
      }),
      { numRuns: 5 },
    );
  });

  it('sorts a subarray view in place without touching its neighbours', () => {
    const backing = new Float32Array((1 << 14) + 10);
    for (let i = 0; i < backing.length; i++) backing[i] = Math.sin(i) * 100;
    const view = backing.subarray(3, backing.length - 4);
    const before = [backing[0], backing[1], backing[2], backing[backing.length - 1]];
    const expected = view.slice().sort();
    sortFloat32(view);
    expect(Array.from(view)).toEqual(Array.from(expected));
    expect([backing[0], backing[1], backing[2], backing[backing.length - 1]]).toEqual(before);
  });
});
