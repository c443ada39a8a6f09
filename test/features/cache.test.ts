// The feature store and its float16 encoding (no tensors involved).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { CacheBudget, DEFAULT_CACHE_MEMORY_BYTES, FeatureStore, resolveFeatureCacheOptions } from '../../src/features/cache.js';
import { decodeHalves, encodeHalves, floatToHalf, halfToFloat } from '../../src/io/float16.js';
import { createSpillFile } from '../../src/node/platform.js';
import type { MapShape } from '../../src/features/cache.js';

const scratch = mkdtempSync(join(tmpdir(), 'ckaad-feature-cache-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale = 4): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}

const SHAPES: MapShape[] = [
  [4, 4, 3],
  [2, 2, 5],
];
const IMAGE_FLOATS = 4 * 4 * 3 + 2 * 2 * 5; // 68

/** The maps of image `index` (distinct values per image). */
function imageMaps(index: number): Float32Array[] {
  return [values(48, 100 + index), values(20, 200 + index)];
}

describe('float16 conversion', () => {
  it('encodes exactly representable values, the extremes and the special values', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest half
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [1e6, 0x7c00], // overflow
      [2 ** -26, 0x0000], // underflow to +0
    ];
    for (const [value, bits] of cases) {
      expect(floatToHalf(value)).toBe(bits);
      expect(Object.is(halfToFloat(bits), value) || value === 1e6 || value === 2 ** -26).toBe(true);
    }
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // 65519 rounds down to the largest half, 65520 up to infinity.
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00);
  });

  it('round trips every half exactly, and floats within half an ulp', () => {
    for (let h = 0; h < 65536; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) continue;
      expect(floatToHalf(f)).toBe(h);
    }
    fc.assert(
      fc.property(fc.float({ min: Math.fround(-60000), max: Math.fround(60000), noNaN: true }), (x) => {
        const y = halfToFloat(floatToHalf(x));
        const ulp = Math.abs(x) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(x))) - 10);
        return Math.abs(y - x) <= ulp / 2 + 1e-12;
      }),
    );
  });

  it('encodes and decodes arrays at an offset', () => {
    const src = new Float32Array([1, -2, 0.5, 3]);
    const halves = new Uint16Array(4);
    encodeHalves(src, halves);
    expect([...halves]).toEqual([0x3c00, 0xc000, 0x3800, 0x4200]);
    const dst = new Float32Array(6);
    decodeHalves(halves, dst, 2);
    expect([...dst]).toEqual([0, 0, 1, -2, 0.5, 3]);
  });
});

describe('resolveFeatureCacheOptions', () => {
  it('fills in the defaults and keeps false', () => {
    expect(resolveFeatureCacheOptions(undefined)).toEqual({ dtype: 'float32', maxMemoryBytes: DEFAULT_CACHE_MEMORY_BYTES, spillDir: null });
    expect(resolveFeatureCacheOptions({ dtype: 'float16', spillDir: '/tmp/x' })).toEqual({ dtype: 'float16', maxMemoryBytes: 2 ** 30, spillDir: '/tmp/x' });
    expect(resolveFeatureCacheOptions(false)).toBe(false);
  });

  it('names the bad field', () => {
    expect(() => resolveFeatureCacheOptions({ dtype: 'int8' as 'float16' })).toThrow(/options\.featureCache\.dtype/);
    expect(() => resolveFeatureCacheOptions({ maxMemoryBytes: -1 })).toThrow(/options\.featureCache\.maxMemoryBytes/);
    expect(() => resolveFeatureCacheOptions({ spillDir: '' })).toThrow(/options\.featureCache\.spillDir/);
    expect(() => resolveFeatureCacheOptions(3 as unknown as false)).toThrow(InvalidArgumentError);
  });
});

describe('FeatureStore', () => {
  it('stores float32 features exactly and reads batches in the requested order', () => {
    const store = new FeatureStore('normal', 5, SHAPES, 'float32', new CacheBudget(1e9));
    expect(store.imageFloats).toBe(IMAGE_FLOATS);
    expect(store.imageBytes).toBe(IMAGE_FLOATS * 4);
    for (const i of [3, 0, 4]) expect(store.put(i, imageMaps(i))).toBe(true);
    expect([0, 1, 2, 3, 4].map((i) => store.has(i))).toEqual([true, false, false, true, true]);
    const [a, b] = store.read([4, 0, 4]);
    expect(a.length).toBe(3 * 48);
    expect(b.length).toBe(3 * 20);
    expect(a.subarray(0, 48)).toEqual(imageMaps(4)[0]);
    expect(a.subarray(48, 96)).toEqual(imageMaps(0)[0]);
    expect(b.subarray(40, 60)).toEqual(imageMaps(4)[1]);
    expect(store.stats()).toEqual({ inMemory: 3, onDisk: 0, memoryBytes: 3 * IMAGE_FLOATS * 4, diskBytes: 0 });
    store.dispose();
  });

  it('float16 halves the memory and rounds each value as floatToHalf does', () => {
    const store = new FeatureStore('normal', 2, SHAPES, 'float16', new CacheBudget(1e9));
    expect(store.imageBytes).toBe(IMAGE_FLOATS * 2);
    store.put(1, imageMaps(1));
    const [a] = store.read([1]);
    const expected = imageMaps(1)[0].map((v) => halfToFloat(floatToHalf(v)));
    expect(a).toEqual(expected);
    expect(a).not.toEqual(imageMaps(1)[0]); // the rounding is real
    store.dispose();
  });

  it('shares one memory budget between stores and caches nothing beyond it without a spill file', () => {
    const budget = new CacheBudget(3 * IMAGE_FLOATS * 4);
    const normal = new FeatureStore('normal', 4, SHAPES, 'float32', budget);
    const anomalies = new FeatureStore('anomalies', 4, SHAPES, 'float32', budget);
    expect(normal.put(0, imageMaps(0))).toBe(true);
    expect(normal.put(1, imageMaps(1))).toBe(true);
    expect(anomalies.put(0, imageMaps(9))).toBe(true);
    expect(anomalies.put(1, imageMaps(8))).toBe(false); // budget used up
    expect(anomalies.has(1)).toBe(false);
    expect(budget.usedBytes).toBe(3 * IMAGE_FLOATS * 4);
    expect(() => anomalies.read([1])).toThrow(/anomalies features are cached/);
    normal.dispose();
    expect(budget.usedBytes).toBe(IMAGE_FLOATS * 4); // released for others
    expect(anomalies.put(1, imageMaps(8))).toBe(true);
    anomalies.dispose();
    expect(budget.usedBytes).toBe(0);
  });

  for (const dtype of ['float32', 'float16'] as const) {
    it(`spills what exceeds the budget to a file, reads it back (${dtype}) and deletes it`, () => {
      const dir = join(scratch, dtype);
      const store = new FeatureStore('normal', 6, SHAPES, dtype, new CacheBudget(2 * store_bytes(dtype)), () => createSpillFile(dir, 'normal'));
      for (const i of [5, 2, 0, 3]) expect(store.put(i, imageMaps(i))).toBe(true);
      expect(store.stats()).toMatchObject({ inMemory: 2, onDisk: 2 });
      expect(readdirSync(dir)).toHaveLength(1);
      const direct = new FeatureStore('reference', 6, SHAPES, dtype, new CacheBudget(1e9));
      for (const i of [5, 2, 0, 3]) direct.put(i, imageMaps(i));
      const order = [0, 5, 3, 2, 0];
      expect(store.read(order)).toEqual(direct.read(order));
      store.dispose();
      direct.dispose();
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('rejects wrong shapes and indices with errors naming them', () => {
    const store = new FeatureStore('normal', 2, SHAPES, 'float32', new CacheBudget(1e9));
    expect(() => store.put(0, [new Float32Array(48)])).toThrow(ShapeMismatchError);
    expect(() => store.put(0, [new Float32Array(48), new Float32Array(21)])).toThrow(/features of normal image 0/);
    expect(() => store.put(2, imageMaps(0))).toThrow(/an image index in \[0, 2\)/);
    expect(() => new FeatureStore('x', 2, [[1, 2]] as unknown as MapShape[], 'float32', new CacheBudget(1))).toThrow(/shapes/);
    store.dispose();
    expect(() => store.put(0, imageMaps(0))).toThrow(/not been disposed/);
  });
});

function store_bytes(dtype: 'float32' | 'float16'): number {
  return IMAGE_FLOATS * (dtype === 'float16' ? 2 : 4);
}
