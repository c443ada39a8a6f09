/**
 * Index plans that turn both convolution gradients into matrix products.
 *
 * - Filter gradient: for each tap (kh, kw), the x pixel that every dy pixel reads through
 *   that tap ({@link tapSources}); dW[kh, kw] = (x rows at those pixels)ᵀ · dy.
 * - Input gradient: dx pixels fall into sh·sw phases (iy mod sh, ix mod sw); all pixels
 *   of a phase are reached by the same taps, so each phase is one gather-GEMM
 *   dx[phase rows] = [dy rows of each tap] · [w of each tap]ᵀ ({@link inputPhases}).
 *   No multiply is spent on the zeros a strided transposed convolution would insert.
 *
 * Pixel indices are flat row-major (n, y, x) indices; -1 marks a zero (padding) source.
 */

import type { ConvGeometry } from './conv-geometry.js';

/**
 * For tap (kh, kw), writes into `out[0..count)` the flat x pixel index
 * (n, oy·sh + kh − padTop, ox·sw + kw − padLeft) read by each dy pixel p = (n, oy, ox) of
 * p0 ≤ p < p0 + count (default: all N·Ho·Wo pixels), or -1 where that position is padding.
 */
export function tapSources(
  g: ConvGeometry,
  kh: number,
  kw: number,
  out: Int32Array,
  p0 = 0,
  count = g.batch * g.outHeight * g.outWidth,
): void {
  const { inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth } = g;
  let ox = p0 % outWidth;
  let oy = Math.floor(p0 / outWidth) % outHeight;
  let n = Math.floor(p0 / (outWidth * outHeight));
  for (let i = 0; i < count; i++) {
    const iy = oy * strideHeight + kh - g.padTop;
    const ix = ox * strideWidth + kw - g.padLeft;
    out[i] = iy >= 0 && iy < inHeight && ix >= 0 && ix < inWidth ? (n * inHeight + iy) * inWidth + ix : -1;
    if (++ox === outWidth) {
      ox = 0;
      if (++oy === outHeight) {
        oy = 0;
        n++;
      }
    }
  }
}

/** One phase of the input gradient: dx pixels that share their set of contributing taps. */
export interface InputPhase {
  /** Taps kh·KW + kw that reach this phase's pixels (possibly none when stride > kernel). */
  taps: number[];
  /** Flat dx pixel index of each row, in (n, iy, ix) order. */
  rows: Int32Array;
  /** [rows.length × taps.length]: the dy pixel feeding row r through tap j, or -1. */
  sources: Int32Array;
}

/**
 * Splits the input gradient into its sh·sw phases. A dx pixel (iy, ix) receives tap
 * (kh, kw) from dy pixel ((iy + padTop − kh) / sh, (ix + padLeft − kw) / sw) when both
 * divisions are exact and land inside dy; exactness depends only on iy mod sh and
 * ix mod sw, hence the phases.
 */
export function inputPhases(g: ConvGeometry): InputPhase[] {
  const phases: InputPhase[] = [];
  for (let py = 0; py < g.strideHeight; py++) {
    for (let px = 0; px < g.strideWidth; px++) {
      const phase = buildPhase(g, py, px);
      if (phase.rows.length > 0) phases.push(phase);
    }
  }
  return phases;
}

function buildPhase(g: ConvGeometry, py: number, px: number): InputPhase {
  const { batch, inHeight, inWidth, outHeight, outWidth, strideHeight: sh, strideWidth: sw } = g;
  // Taps whose offset matches the phase: kh ≡ py + padTop (mod sh).
  const khs: number[] = [];
  for (let kh = (py + g.padTop) % sh; kh < g.filterHeight; kh += sh) khs.push(kh);
  const kws: number[] = [];
  for (let kw = (px + g.padLeft) % sw; kw < g.filterWidth; kw += sw) kws.push(kw);
  const taps: number[] = [];
  for (const kh of khs) for (const kw of kws) taps.push(kh * g.filterWidth + kw);

  const phaseHeight = py < inHeight ? Math.ceil((inHeight - py) / sh) : 0;
  const phaseWidth = px < inWidth ? Math.ceil((inWidth - px) / sw) : 0;
  const rows = new Int32Array(batch * phaseHeight * phaseWidth);
  const sources = new Int32Array(rows.length * taps.length);
  const nTaps = taps.length;
  let r = 0;
  for (let n = 0; n < batch; n++) {
    for (let iy = py; iy < inHeight; iy += sh) {
      for (let ix = px; ix < inWidth; ix += sw, r++) {
        rows[r] = (n * inHeight + iy) * inWidth + ix;
        let j = r * nTaps;
        for (const kh of khs) {
          const oy = (iy + g.padTop - kh) / sh; // exact by construction of khs
          const rowOk = oy >= 0 && oy < outHeight;
          for (const kw of kws) {
            const ox = (ix + g.padLeft - kw) / sw;
            sources[j++] = rowOk && ox >= 0 && ox < outWidth ? (n * outHeight + oy) * outWidth + ox : -1;
          }
        }
      }
    }
  }
  return { taps, rows, sources };
}
