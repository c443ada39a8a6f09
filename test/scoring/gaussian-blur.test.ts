import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { gaussianBlur, gaussianKernel1d, gaussianRadius, reflectIndex } from '../../src/scoring/gaussian-blur.js';
import { expectAllClose, makeRng, takeAll } from '../losses/helpers.js';
import { gaussianCases } from './fixtures.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const mapArb = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  h: fc.integer({ min: 1, max: 24 }),
  w: fc.integer({ min: 1, max: 24 }),
  sigma: fc.constantFrom(0.7, 1.5, 4),
  seed: fc.integer(),
});

function randomMaps(n: number, h: number, w: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n * h * w }, () => rng());
}

/** Reorders [N, H, W] data with a per-image index map (flip / transpose). */
function permute(values: Float32Array, n: number, h: number, w: number, to: (y: number, x: number) => number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[i * h * w + to(y, x)] = values[i * h * w + y * w + x];
  }
  return out;
}

describe('gaussianBlur (scipy.ndimage.gaussian_filter semantics)', () => {
  it('matches scipy.ndimage.gaussian_filter to 1e-5 (golden fixtures, incl. maps smaller than the radius)', () => {
    const cases = gaussianCases();
    expect(cases.length).toBeGreaterThanOrEqual(5);
    for (const c of cases) {
      const maps = tf.tensor3d(c.input, [1, c.height, c.width]);
      const out = takeAll(gaussianBlur(maps, c.sigma, c.truncate));
      expectAllClose(out, c.expected, 1e-5, 1e-5);
      maps.dispose();
    }
  });

  it('uses scipy’s kernel: radius int(4σ + 0.5) = 16 for σ = 4, normalised, symmetric', () => {
    expect(gaussianRadius(4)).toBe(16);
    expect(gaussianRadius(4, 4)).toBe(16);
    expect(gaussianRadius(2, 3)).toBe(6);
    expect(gaussianRadius(1.3)).toBe(5);
    const k = gaussianKernel1d(4, 16);
    expect(k.length).toBe(33);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let i = 0; i < 16; i++) expect(k[i]).toBe(k[32 - i]);
    expect(k[16] / k[20]).toBeCloseTo(Math.exp(16 / 32), 12);
  });

  it("reflects like scipy's mode 'reflect' (d c b a | a b c d | d c b a), periodically", () => {
    // n = 3: … 2 1 0 | 0 1 2 | 2 1 0 | 0 1 2 …
    const expected = [0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0];
    expect(Array.from({ length: 13 }, (_, k) => reflectIndex(k - 5, 3))).toEqual([1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1]);
    expect(Array.from({ length: 13 }, (_, k) => reflectIndex(k - 6, 3))).toEqual(expected);
    expect([-3, -1, 0, 1, 5].map((i) => reflectIndex(i, 1))).toEqual([0, 0, 0, 0, 0]);
  });

  it('preserves constant maps of any size', () => {
    fc.assert(
      fc.property(mapArb, fc.double({ min: -5, max: 5, noNaN: true }), ({ n, h, w, sigma }, c) => {
        const maps = tf.fill([n, h, w], c) as tf.Tensor3D;
        expectAllClose(takeAll(gaussianBlur(maps, sigma)), new Array(n * h * w).fill(c), 1e-5, 1e-5);
        maps.dispose();
      }),
      { numRuns: 25 },
    );
  });

  it('preserves total mass of an interior impulse, spreading it as the outer product of the kernel', () => {
    const size = 40;
    const at = [18, 21];
    const values = new Float32Array(size * size);
    values[at[0] * size + at[1]] = 1;
    const maps = tf.tensor3d(values, [1, size, size]);
    const out = takeAll(gaussianBlur(maps, 4));
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const k = gaussianKernel1d(4, 16);
    const expected = new Float64Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const dy = y - at[0];
        const dx = x - at[1];
        if (Math.abs(dy) <= 16 && Math.abs(dx) <= 16) expected[y * size + x] = k[dy + 16] * k[dx + 16];
      }
    }
    expectAllClose(out, expected, 1e-7);
    maps.dispose();
  });

  it('commutes with flips and transposition (symmetric kernel and boundary)', () => {
    fc.assert(
      fc.property(mapArb, ({ n, h, w, sigma, seed }) => {
        const values = randomMaps(n, h, w, seed);
        const blur = (v: Float32Array, hh: number, ww: number) => {
          const t = tf.tensor3d(v, [n, hh, ww]);
          const out = takeAll(gaussianBlur(t, sigma));
          t.dispose();
          return out;
        };
        const base = blur(values, h, w);
        const flipX = (y: number, x: number) => y * w + (w - 1 - x);
        const flipY = (y: number, x: number) => (h - 1 - y) * w + x;
        const transpose = (y: number, x: number) => x * h + y;
        expectAllClose(blur(permute(values, n, h, w, flipX), h, w), permute(base, n, h, w, flipX), 1e-5);
        expectAllClose(blur(permute(values, n, h, w, flipY), h, w), permute(base, n, h, w, flipY), 1e-5);
        expectAllClose(blur(permute(values, n, h, w, transpose), w, h), permute(base, n, h, w, transpose), 1e-5);
      }),
      { numRuns: 20 },
    );
  });

  it('smooths each image of the batch independently', () => {
    const a = randomMaps(1, 9, 11, 1);
    const b = randomMaps(1, 9, 11, 2);
    const both = tf.tensor3d([...a, ...b], [2, 9, 11]);
    const only = tf.tensor3d(b, [1, 9, 11]);
    const out = takeAll(gaussianBlur(both));
    expectAllClose(out.subarray(99), takeAll(gaussianBlur(only)), 1e-7);
    tf.dispose([both, only]);
  });

  it('is the identity for σ = 0 (as scipy) and returns a new tensor', () => {
    const maps = tf.tensor3d(randomMaps(1, 4, 5, 3), [1, 4, 5]);
    const out = gaussianBlur(maps, 0);
    expect(out).not.toBe(maps);
    expectAllClose(out.dataSync(), maps.dataSync(), 0);
    tf.dispose([maps, out]);
  });

  it('rejects a wrong rank, empty maps and invalid sigma / truncate', () => {
    const flat = tf.zeros([4, 4]) as unknown as tf.Tensor3D;
    const empty = tf.zeros([1, 0, 4]) as tf.Tensor3D;
    const maps = tf.zeros([1, 4, 4]) as tf.Tensor3D;
    expect(() => gaussianBlur(flat)).toThrow(/rank-3/);
    expect(() => gaussianBlur(empty)).toThrow(InvalidArgumentError);
    expect(() => gaussianBlur(maps, -1)).toThrow(/sigma/);
    expect(() => gaussianBlur(maps, Number.NaN)).toThrow(/sigma/);
    expect(() => gaussianBlur(maps, 4, 0)).toThrow(/truncate/);
    tf.dispose([flat, empty, maps]);
  });

  it('leaves no tensor behind', () => {
    const maps = tf.tensor3d(randomMaps(2, 20, 24, 4), [2, 20, 24]);
    const before = tf.memory().numTensors;
    takeAll(gaussianBlur(maps));
    takeAll(gaussianBlur(maps, 0));
    expect(tf.memory().numTensors).toBe(before);
    maps.dispose();
  });
});
