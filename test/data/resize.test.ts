import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { resizeBilinear } from '../../src/data/resize.js';

/** Independent double-precision version of Pillow's bilinear resample (no fixed point). */
function referenceResize(data: Uint8Array, inW: number, inH: number, c: number, outW: number, outH: number): Float64Array {
  const weights = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const support = Math.max(scale, 1);
    return Array.from({ length: outSize }, (_, i) => {
      const center = (i + 0.5) * scale;
      const taps: [number, number][] = [];
      for (let x = 0; x < inSize; x++) {
        const w = Math.max(0, 1 - Math.abs((x + 0.5 - center) / support));
        if (w > 0) taps.push([x, w]);
      }
      const sum = taps.reduce((a, t) => a + t[1], 0);
      return taps.map(([x, w]) => [x, w / sum] as [number, number]);
    });
  };
  const wx = weights(inW, outW);
  const wy = weights(inH, outH);
  // Horizontal pass rounds to integers as Pillow does, then vertical.
  const tmp = new Float64Array(inH * outW * c);
  for (let y = 0; y < inH; y++)
    for (let x = 0; x < outW; x++)
      for (let ch = 0; ch < c; ch++) {
        const v = wx[x].reduce((a, [sx, w]) => a + w * data[(y * inW + sx) * c + ch], 0);
        tmp[(y * outW + x) * c + ch] = outW === inW ? data[(y * inW + x) * c + ch] : Math.min(255, Math.max(0, Math.round(v)));
      }
  const out = new Float64Array(outH * outW * c);
  for (let y = 0; y < outH; y++)
    for (let x = 0; x < outW; x++)
      for (let ch = 0; ch < c; ch++) {
        out[(y * outW + x) * c + ch] =
          outH === inH ? tmp[(y * outW + x) * c + ch] : Math.round(wy[y].reduce((a, [sy, w]) => a + w * tmp[(sy * outW + x) * c + ch], 0));
      }
  return out;
}

describe('resizeBilinear (Pillow BILINEAR)', () => {
  it('shrinks with the antialiased, edge-renormalised triangle filter (hand-computed)', () => {
    // Windows: out0 ← x0..2 with weights 3/7, 3/7, 1/7; out1 ← x1..3 with 1/7, 3/7, 3/7.
    const out = resizeBilinear({ data: new Uint8Array([0, 100, 200, 255]), width: 4, height: 1, channels: 1 }, 2, 1);
    expect([...out.data]).toEqual([71, 209]); // plain bilinear sampling would give 50 and 228
  });

  it('enlarges like half-pixel-centred linear interpolation with clamped edges', () => {
    const out = resizeBilinear({ data: new Uint8Array([0, 200]), width: 2, height: 1, channels: 1 }, 4, 1);
    expect([...out.data]).toEqual([0, 50, 150, 200]);
  });

  it('a 2× shrink of an interior pixel uses weights 1/8, 3/8, 3/8, 1/8 in each direction', () => {
    const w = 8;
    const data = new Uint8Array(w * w);
    data[3 * w + 3] = 255; // one bright pixel at (3, 3)
    const out = resizeBilinear({ data, width: w, height: w, channels: 1 }, 4, 4);
    // Output (1, 1) covers input 1..4 with weights [1,3,3,1]/8; input 3 has weight 3/8 per axis.
    // Horizontal pass: round(255·3/8) = 96 (95.6); vertical: round(96·3/8) = 36.
    expect(out.data[1 * 4 + 1]).toBe(36);
    // Output (2, 2) covers input 3..6 with weights [1,3,3,1]/8; input 3 has weight 1/8: round(255/8)=32, round(32/8)=4.
    expect(out.data[2 * 4 + 2]).toBe(4);
  });

  it('is the identity (a copy) at the same size', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const out = resizeBilinear({ data, width: 2, height: 1, channels: 3 }, 2, 1);
    expect([...out.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out.data).not.toBe(data);
  });

  it('resizes only the axis that changes', () => {
    const data = new Uint8Array([10, 20, 30, 40]); // 1 wide, 4 high
    const out = resizeBilinear({ data, width: 1, height: 4, channels: 1 }, 1, 2);
    expect(out.width).toBe(1);
    expect(out.height).toBe(2);
    // (10·3 + 20·3 + 30)/7 = 17.1 → 17; (20 + 30·3 + 40·3)/7 = 32.9 → 33
    expect([...out.data]).toEqual([17, 33]);
  });

  it('agrees within ±1 with an independent double-precision implementation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.constantFrom(1, 3),
        fc.integer({ min: 0, max: 1000 }),
        (inW, inH, outW, outH, c, seed) => {
          const data = new Uint8Array(inW * inH * c);
          for (let i = 0; i < data.length; i++) data[i] = (i * 97 + seed * 31 + ((i * i) % 13)) % 256;
          const ours = resizeBilinear({ data, width: inW, height: inH, channels: c }, outW, outH);
          const ref = referenceResize(data, inW, inH, c, outW, outH);
          expect(ours.data.length).toBe(outW * outH * c);
          for (let i = 0; i < ref.length; i++) expect(Math.abs(ours.data[i] - ref[i])).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps constant images constant and treats channels independently', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 255 }), (inSize, outSize, v) => {
        const data = new Uint8Array(inSize * inSize * 3);
        for (let i = 0; i < data.length; i += 3) {
          data[i] = v;
          data[i + 1] = 255 - v;
          data[i + 2] = 0;
        }
        const out = resizeBilinear({ data, width: inSize, height: inSize, channels: 3 }, outSize, outSize);
        for (let i = 0; i < out.data.length; i += 3) {
          expect(out.data[i]).toBe(v);
          expect(out.data[i + 1]).toBe(255 - v);
          expect(out.data[i + 2]).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rejects bad sizes and inconsistent buffers', () => {
    const img = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 };
    expect(() => resizeBilinear(img, 0, 2)).toThrow(InvalidArgumentError);
    expect(() => resizeBilinear(img, 2, 1.5)).toThrow(/height/);
    expect(() => resizeBilinear({ ...img, data: new Uint8Array(11) }, 2, 2)).toThrow(InvalidArgumentError);
  });
});
