/**
 * A small packed matrix product in plain JavaScript, the FLOP engine of the cpu kernels.
 *
 * Both operands are packed into panels of 4 (GotoBLAS style): A[m, k] into
 * `Ap[(⌊m/4⌋·depth + k)·4 + m mod 4]`, B[k, n] into `Bp[(⌊n/4⌋·depth + k)·4 + n mod 4]`,
 * zero-filled past the last row/column. The 4×4 micro-kernel then streams one panel of
 * each with unit stride, keeping 16 accumulators in registers: ~4 GFLOP/s in V8, about
 * 4× the cpu backend's own matMul/conv loops. Accumulation is in float64.
 *
 * The packers gather straight from NHWC tensors through the index plans of
 * gather-plans.ts, so no im2col matrix is ever materialised.
 */

/** Rows (of A) and columns (of B) per panel. */
export const PANEL = 4;

/** Number of 4-wide panels covering `size` rows or columns. */
export function panelCount(size: number): number {
  return Math.ceil(size / PANEL);
}

/**
 * out[rowOffsets[m] + n] += Σ_k A[m, k]·B[k, n] for m < rows, n < cols, with A and B
 * packed as described in the module comment (both with the same `depth`).
 */
export function gemmPanels(
  Ap: Float32Array,
  Bp: Float32Array,
  depth: number,
  rows: number,
  cols: number,
  out: Float32Array,
  rowOffsets: Int32Array,
): void {
  const rowPanels = panelCount(rows);
  const colPanels = panelCount(cols);
  const panelSize = depth * PANEL;
  for (let mb = 0; mb < rowPanels; mb++) {
    const m0 = mb * PANEL;
    const fullRows = m0 + PANEL <= rows;
    const aStart = mb * panelSize;
    const aEnd = aStart + panelSize;
    const o0 = rowOffsets[m0];
    const o1 = fullRows || m0 + 1 < rows ? rowOffsets[m0 + 1] : -1;
    const o2 = fullRows || m0 + 2 < rows ? rowOffsets[m0 + 2] : -1;
    const o3 = fullRows ? rowOffsets[m0 + 3] : -1;
    for (let nb = 0; nb < colPanels; nb++) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let a = aStart, b = nb * panelSize; a < aEnd; a += 4, b += 4) {
        const a0 = Ap[a], a1 = Ap[a + 1], a2 = Ap[a + 2], a3 = Ap[a + 3];
        const b0 = Bp[b], b1 = Bp[b + 1], b2 = Bp[b + 2], b3 = Bp[b + 3];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const n0 = nb * PANEL;
      if (fullRows && n0 + PANEL <= cols) {
        let o = o0 + n0;
        out[o] += c00; out[o + 1] += c01; out[o + 2] += c02; out[o + 3] += c03;
        o = o1 + n0;
        out[o] += c10; out[o + 1] += c11; out[o + 2] += c12; out[o + 3] += c13;
        o = o2 + n0;
        out[o] += c20; out[o + 1] += c21; out[o + 2] += c22; out[o + 3] += c23;
        o = o3 + n0;
        out[o] += c30; out[o + 1] += c31; out[o + 2] += c32; out[o + 3] += c33;
      } else {
        const nValid = Math.min(PANEL, cols - n0);
        addPartialRow(out, o0, n0, nValid, c00, c01, c02, c03);
        if (o1 >= 0) addPartialRow(out, o1, n0, nValid, c10, c11, c12, c13);
        if (o2 >= 0) addPartialRow(out, o2, n0, nValid, c20, c21, c22, c23);
        if (o3 >= 0) addPartialRow(out, o3, n0, nValid, c30, c31, c32, c33);
      }
    }
  }
}

function addPartialRow(
  out: Float32Array,
  rowOffset: number,
  n0: number,
  nValid: number,
  v0: number,
  v1: number,
  v2: number,
  v3: number,
): void {
  const o = rowOffset + n0;
  out[o] += v0;
  if (nValid > 1) out[o + 1] += v1;
  if (nValid > 2) out[o + 2] += v2;
  if (nValid > 3) out[o + 3] += v3;
}

/**
 * Packs the channel-major operand A[c, k] = src[pixel(k)·channels + c] for the pixels
 * k ∈ [k0, k0 + depth), c < channels, where pixel(k) = sources[k] (-1: zero), or k itself
 * when `sources` is null. `dst` needs panelCount(channels)·depth·4 elements.
 */
export function packChannelPanels(
  src: Float32Array,
  channels: number,
  sources: Int32Array | null,
  k0: number,
  depth: number,
  dst: Float32Array,
): void {
  const panels = panelCount(channels);
  const fullPanels = Math.floor(channels / PANEL);
  const panelSize = depth * PANEL;
  for (let k = 0; k < depth; k++) {
    const pixel = sources === null ? k0 + k : sources[k0 + k];
    const base = k * PANEL;
    if (pixel < 0) {
      for (let cb = 0; cb < panels; cb++) {
        const d = cb * panelSize + base;
        dst[d] = 0; dst[d + 1] = 0; dst[d + 2] = 0; dst[d + 3] = 0;
      }
      continue;
    }
    let s = pixel * channels;
    for (let cb = 0; cb < fullPanels; cb++, s += PANEL) {
      const d = cb * panelSize + base;
      dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]; dst[d + 3] = src[s + 3];
    }
    if (fullPanels < panels) {
      const d = fullPanels * panelSize + base;
      for (let i = 0; i < PANEL; i++) dst[d + i] = fullPanels * PANEL + i < channels ? src[s + i] : 0;
    }
  }
}

/**
 * Packs the gathered operand A[r, j·channels + c] = src[sources[(r0 + r)·nTaps + j]·channels + c]
 * (-1: zero) for rows r < rowCount, i.e. each row is the concatenation of the source
 * pixels of its taps. `dst` needs panelCount(rowCount)·nTaps·channels·4 elements.
 */
export function packGatheredRowPanels(
  src: Float32Array,
  channels: number,
  sources: Int32Array,
  nTaps: number,
  r0: number,
  rowCount: number,
  dst: Float32Array,
): void {
  const depth = nTaps * channels;
  const panels = panelCount(rowCount);
  for (let mb = 0; mb < panels; mb++) {
    const panelBase = mb * depth * PANEL;
    for (let i = 0; i < PANEL; i++) {
      const r = mb * PANEL + i;
      let d = panelBase + i;
      if (r >= rowCount) {
        for (let k = 0; k < depth; k++, d += PANEL) dst[d] = 0;
        continue;
      }
      const srcRow = (r0 + r) * nTaps;
      for (let j = 0; j < nTaps; j++) {
        const pixel = sources[srcRow + j];
        if (pixel < 0) {
          for (let c = 0; c < channels; c++, d += PANEL) dst[d] = 0;
        } else {
          for (let s = pixel * channels, end = s + channels; s < end; s++, d += PANEL) dst[d] = src[s];
        }
      }
    }
  }
}

/**
 * Packs the filter operand B[j·Cr + c, q] for the taps `taps` of an HWIO filter
 * w [KH·KW, Cin, Cout]. `reduce` names the channel axis summed over:
 * - 'out' (input gradient): c < Cr = Cout, q < Cin, B = w[tap_j, q, c];
 * - 'in' (forward convolution): c < Cr = Cin, q < Cout, B = w[tap_j, c, q].
 * `dst` needs panelCount(q range)·taps.length·Cr·4 elements.
 */
export function packFilterPanels(
  w: Float32Array,
  taps: readonly number[],
  inChannels: number,
  outChannels: number,
  reduce: 'in' | 'out',
  dst: Float32Array,
): void {
  const reduced = reduce === 'out' ? outChannels : inChannels;
  const kept = reduce === 'out' ? inChannels : outChannels;
  const depth = taps.length * reduced;
  const panels = panelCount(kept);
  for (let nb = 0; nb < panels; nb++) {
    for (let i = 0; i < PANEL; i++) {
      const q = nb * PANEL + i;
      let d = nb * depth * PANEL + i;
      for (const tap of taps) {
        const tapBase = tap * inChannels * outChannels;
        for (let c = 0; c < reduced; c++, d += PANEL) {
          if (q >= kept) dst[d] = 0;
          else dst[d] = reduce === 'out' ? w[tapBase + q * outChannels + c] : w[tapBase + c * outChannels + q];
        }
      }
    }
  }
}
