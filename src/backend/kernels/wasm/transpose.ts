/**
 * Cache-blocked 2-D transpose of float32 data in JavaScript memory, used to make
 * channel-major copies of NHWC tensors (the wasm backend's Transpose kernel moves
 * ~0.1 G elements/s, slower than this loop).
 */

const BLOCK = 32;

/** dst[c·rows + r] = src[r·cols + c] for a row-major [rows, cols] matrix `src`. */
export function transposeInto(src: Float32Array, rows: number, cols: number, dst: Float32Array): void {
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let c0 = 0; c0 < cols; c0 += BLOCK) {
      const c1 = Math.min(cols, c0 + BLOCK);
      for (let c = c0; c < c1; c++) {
        const d = c * rows;
        for (let r = r0; r < r1; r++) dst[d + r] = src[r * cols + c];
      }
    }
  }
}
