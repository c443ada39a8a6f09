import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { convGeometry, isNonOverlapping } from '../../../src/backend/kernels/conv-geometry.js';
import type { ConvGeometry, ConvPad } from '../../../src/backend/kernels/conv-geometry.js';
import { inputPhases, tapSources } from '../../../src/backend/kernels/gather-plans.js';
import {
  gemmPanels,
  packChannelPanels,
  packFilterPanels,
  packGatheredRowPanels,
  panelCount,
  PANEL,
} from '../../../src/backend/kernels/packed-gemm.js';
import { InvalidArgumentError } from '../../../src/errors.js';

/** Random convolution geometries with stride ≤ 3, kernels ≤ 4 and every padding kind. */
const geometryArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 9 }),
    w: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 4 }),
    kw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    pad: fc.oneof(
      fc.constant<ConvPad>('same'),
      fc.constant<ConvPad>('valid'),
      fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)).map(
        ([t, b, l, r]): ConvPad => [
          [0, 0],
          [t, b],
          [l, r],
          [0, 0],
        ],
      ),
    ),
  })
  .map(({ n, h, w, kh, kw, sh, sw, pad }) => convGeometry([n, h, w, 2], [kh, kw, 2, 3], [sh, sw], pad))
  .filter((g) => g.outHeight > 0 && g.outWidth > 0);

/** Every (dx pixel, tap, dy pixel) triple of the forward relation, by brute force. */
function contributions(g: ConvGeometry): Set<string> {
  const set = new Set<string>();
  for (let n = 0; n < g.batch; n++)
    for (let oy = 0; oy < g.outHeight; oy++)
      for (let ox = 0; ox < g.outWidth; ox++)
        for (let kh = 0; kh < g.filterHeight; kh++)
          for (let kw = 0; kw < g.filterWidth; kw++) {
            const iy = oy * g.strideHeight + kh - g.padTop;
            const ix = ox * g.strideWidth + kw - g.padLeft;
            if (iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth) continue;
            const xPixel = (n * g.inHeight + iy) * g.inWidth + ix;
            const yPixel = (n * g.outHeight + oy) * g.outWidth + ox;
            set.add(`${xPixel}:${kh * g.filterWidth + kw}:${yPixel}`);
          }
  return set;
}

describe('gather plans', () => {
  it('tapSources lists exactly the forward relation, -1 elsewhere', () => {
    fc.assert(
      fc.property(geometryArb, (g) => {
        const expected = contributions(g);
        const found = new Set<string>();
        const src = new Int32Array(g.batch * g.outHeight * g.outWidth);
        for (let t = 0; t < g.filterHeight * g.filterWidth; t++) {
          tapSources(g, Math.floor(t / g.filterWidth), t % g.filterWidth, src);
          src.forEach((x, p) => {
            if (x >= 0) found.add(`${x}:${t}:${p}`);
          });
        }
        expect([...found].sort()).toEqual([...expected].sort());
      }),
      { numRuns: 200 },
    );
  });

  it('tapSources over a range equals the same slice of the full plan', () => {
    fc.assert(
      fc.property(geometryArb, fc.nat(), fc.nat(), (g, a, b) => {
        const pixels = g.batch * g.outHeight * g.outWidth;
        const p0 = a % pixels;
        const count = b % (pixels - p0 + 1);
        const kh = a % g.filterHeight;
        const kw = b % g.filterWidth;
        const full = new Int32Array(pixels);
        tapSources(g, kh, kw, full);
        const part = new Int32Array(count);
        tapSources(g, kh, kw, part, p0, count);
        expect([...part]).toEqual([...full.subarray(p0, p0 + count)]);
      }),
      { numRuns: 200 },
    );
  });

  it('inputPhases covers every dx pixel once and lists exactly the forward relation', () => {
    fc.assert(
      fc.property(geometryArb, (g) => {
        const phases = inputPhases(g);
        const rows = phases.flatMap((ph) => [...ph.rows]);
        expect(rows.sort((a, b) => a - b)).toEqual([...Array(g.batch * g.inHeight * g.inWidth).keys()]);
        const found = new Set<string>();
        for (const ph of phases) {
          expect(ph.sources.length).toBe(ph.rows.length * ph.taps.length);
          ph.rows.forEach((x, r) =>
            ph.taps.forEach((t, j) => {
              const y = ph.sources[r * ph.taps.length + j];
              if (y >= 0) found.add(`${x}:${t}:${y}`);
            }),
          );
        }
        expect([...found].sort()).toEqual([...contributions(g)].sort());
      }),
      { numRuns: 200 },
    );
  });

  it('stride-2 3×3 phases use 4, 2, 2 and 1 taps: no multiply by inserted zeros', () => {
    const g = convGeometry([1, 8, 8, 1], [3, 3, 1, 1], 2, 'same');
    expect(inputPhases(g).map((p) => p.taps.length).sort()).toEqual([1, 2, 2, 4]);
  });

  it('recognises the non-overlapping 2×2 stride-2 case only', () => {
    expect(isNonOverlapping(convGeometry([1, 8, 6, 1], [2, 2, 1, 1], 2, 'valid'))).toBe(true);
    expect(isNonOverlapping(convGeometry([1, 8, 6, 1], [2, 2, 1, 1], 2, 'same'))).toBe(true);
    expect(isNonOverlapping(convGeometry([1, 7, 6, 1], [2, 2, 1, 1], 2, 'same'))).toBe(false);
    expect(isNonOverlapping(convGeometry([1, 8, 8, 1], [3, 3, 1, 1], 2, 'same'))).toBe(false);
    expect(isNonOverlapping(convGeometry([1, 8, 8, 1], [2, 2, 1, 1], 1, 'valid'))).toBe(false);
  });

  it('rejects bad strides and negative explicit padding with named arguments', () => {
    expect(() => convGeometry([1, 4, 4, 1], [3, 3, 1, 1], 0, 'same')).toThrow(InvalidArgumentError);
    expect(() =>
      convGeometry([1, 4, 4, 1], [3, 3, 1, 1], 1, [
        [0, 0],
        [-1, 0],
        [0, 0],
        [0, 0],
      ]),
    ).toThrow(/pad/);
    expect(() => convGeometry([4, 4, 1], [3, 3, 1, 1], 1, 'same')).toThrow(/rank-4/);
  });
});

function randomArray(size: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('packed GEMM', () => {
  it('A[c, k]ᵀ-style channel panels times channel panels equals the naive product, any sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 1000 }),
        (rows, cols, depth, seed) => {
          // C[m, n] = Σ_k X[k, m]·Y[k, n], X [depth, rows], Y [depth, cols], some X rows zero (-1 source).
          const x = randomArray(depth * rows, seed);
          const y = randomArray(depth * cols, seed + 1);
          const sources = Int32Array.from({ length: depth }, (_, k) => (k % 5 === 3 ? -1 : k));
          const a = new Float32Array(panelCount(rows) * depth * PANEL);
          const b = new Float32Array(panelCount(cols) * depth * PANEL);
          packChannelPanels(x, rows, sources, 0, depth, a);
          packChannelPanels(y, cols, null, 0, depth, b);
          const out = new Float32Array(rows * cols + 3).fill(7); // +3: nothing may be written past the end
          const offsets = Int32Array.from({ length: rows }, (_, m) => m * cols);
          gemmPanels(a, b, depth, rows, cols, out, offsets);
          for (let m = 0; m < rows; m++)
            for (let n = 0; n < cols; n++) {
              let ref = 7;
              for (let k = 0; k < depth; k++) if (sources[k] >= 0) ref += x[k * rows + m] * y[k * cols + n];
              expect(out[m * cols + n]).toBeCloseTo(ref, 4);
            }
          expect([...out.subarray(rows * cols)]).toEqual([7, 7, 7]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('gathered row panels times filter panels equals the naive gather-product', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 1000 }),
        (rowCount, nTaps, cin, cout, seed) => {
          const pixels = 7;
          const totalTaps = 4;
          const taps = [...Array(nTaps).keys()].map((j) => (j * 3 + seed) % totalTaps);
          const dy = randomArray(pixels * cout, seed); // [pixels, Cout]
          const w = randomArray(totalTaps * cin * cout, seed + 2); // [taps, Cin, Cout]
          const sources = Int32Array.from({ length: rowCount * nTaps }, (_, i) => ((i * 5 + seed) % (pixels + 1)) - 1);
          const depth = nTaps * cout;
          const a = new Float32Array(panelCount(rowCount) * depth * PANEL);
          const b = new Float32Array(panelCount(cin) * depth * PANEL);
          packGatheredRowPanels(dy, cout, sources, nTaps, 0, rowCount, a);
          packFilterPanels(w, taps, cin, cout, 'out', b);
          const out = new Float32Array(rowCount * cin);
          gemmPanels(a, b, depth, rowCount, cin, out, Int32Array.from({ length: rowCount }, (_, r) => r * cin));
          for (let r = 0; r < rowCount; r++)
            for (let ci = 0; ci < cin; ci++) {
              let ref = 0;
              for (let j = 0; j < nTaps; j++) {
                const s = sources[r * nTaps + j];
                if (s < 0) continue;
                for (let co = 0; co < cout; co++) ref += dy[s * cout + co] * w[(taps[j] * cin + ci) * cout + co];
              }
              expect(out[r * cin + ci]).toBeCloseTo(ref, 4);
            }
        },
      ),
      { numRuns: 150 },
    );
  });
});
