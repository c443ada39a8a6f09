/**
 * The gather-GEMM shared by the cpu input-gradient and forward-convolution kernels:
 *
 *   out[row r] (+)= [src rows sources[r, 0..T)] concatenated [T·C] · B [T·C, Q],
 *
 * packed in chunks of rows so the gathered operand stays in cache (see packed-gemm.ts).
 */

import { gemmPanels, packGatheredRowPanels, panelCount, PANEL } from '../packed-gemm.js';

/** Rows per packed chunk (a multiple of the panel width). */
const ROW_CHUNK = 64;

/**
 * For r < rowCount: out[outRows[r]·Q + q] += Σ_{j<nTaps, c<channels} src[sources[r·nTaps + j]·channels + c] · B[j·channels + c, q],
 * where `bPanels` is B packed by packFilterPanels (depth nTaps·channels, Q = cols),
 * sources of -1 read zeros and `outRows` null means row r itself.
 */
export function gatherGemm(
  src: Float32Array,
  channels: number,
  sources: Int32Array,
  nTaps: number,
  rowCount: number,
  outRows: Int32Array | null,
  bPanels: Float32Array,
  cols: number,
  out: Float32Array,
): void {
  const depth = nTaps * channels;
  const a = new Float32Array(panelCount(ROW_CHUNK) * depth * PANEL);
  const rowOffsets = new Int32Array(ROW_CHUNK);
  for (let r0 = 0; r0 < rowCount; r0 += ROW_CHUNK) {
    const count = Math.min(ROW_CHUNK, rowCount - r0);
    packGatheredRowPanels(src, channels, sources, nTaps, r0, count, a);
    for (let r = 0; r < count; r++) rowOffsets[r] = (outRows === null ? r0 + r : outRows[r0 + r]) * cols;
    gemmPanels(a, bPanels, depth, count, cols, out, rowOffsets);
  }
}
