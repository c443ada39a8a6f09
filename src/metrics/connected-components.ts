/**
 * Connected components of a binary mask with 8-connectivity: the "regions" of the PRO
 * metric (the MVTec AD evaluation uses `scipy.ndimage.label` with a 3×3 structuring
 * element; skimage's `measure.label` defaults to the same connectivity in 2-D).
 */

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { LabelArray } from './types.js';
import { checkInteger, checkLabelArray, invalidLabel } from './validate.js';

/** Result of {@link connectedComponents}. */
export interface Components {
  /** [H·W] row-major: 0 for background, 1…count for the component of each pixel. */
  labels: Int32Array;
  /** Number of components. */
  count: number;
  /** [count + 1]: sizes[k] = pixels in component k; sizes[0] = background pixels. */
  sizes: Uint32Array;
}

/**
 * Labels 8-connected components of `bits` (0/1, row-major H×W) into `labels`, numbering them
 * in raster order of their first pixel (as scipy does). `labels` must be zero-filled and
 * `stack` hold H·W entries. O(H·W). Returns the component count; if `sizes` is given (at
 * least count + 1 entries, e.g. H·W + 1) it receives the sizes as in {@link Components}.
 */
export function labelComponents(
  bits: Uint8Array,
  width: number,
  height: number,
  labels: Int32Array,
  stack: Int32Array,
  sizes?: Uint32Array,
): number {
  let count = 0;
  const n = width * height;
  for (let start = 0; start < n; start++) {
    if (bits[start] === 0 || labels[start] !== 0) continue;
    count++;
    labels[start] = count;
    let size = 1;
    let top = 0;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top];
      const y = (p / width) | 0;
      const x = p - y * width;
      const y0 = y > 0 ? y - 1 : 0;
      const y1 = y < height - 1 ? y + 1 : y;
      const x0 = x > 0 ? x - 1 : 0;
      const x1 = x < width - 1 ? x + 1 : x;
      for (let yy = y0; yy <= y1; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          const q = yy * width + xx;
          if (bits[q] !== 0 && labels[q] === 0) {
            labels[q] = count;
            size++;
            stack[top++] = q;
          }
        }
      }
    }
    if (sizes) sizes[count] = size;
  }
  if (sizes) {
    let fg = 0;
    for (let k = 1; k <= count; k++) fg += sizes[k];
    sizes[0] = n - fg;
  }
  return count;
}

/**
 * Connected components of a binary mask (8-connectivity: pixels touching by an edge or a
 * corner belong together), numbered 1…count in raster order of their first pixel, the same
 * numbering as `scipy.ndimage.label(mask, np.ones((3, 3)))`.
 *
 * @param mask - [height·width] row-major 0/1 (or boolean) values; 1 = foreground.
 * @param width - columns.
 * @param height - rows.
 * @throws InvalidArgumentError if width/height are not positive integers or a mask value is
 *   not 0/1; ShapeMismatchError if mask.length ≠ width·height.
 *
 * @example
 * ```ts
 * const { count, labels, sizes } = connectedComponents(new Uint8Array([1, 0, 0, 1]), 2, 2);
 * // count 1 (diagonal neighbours connect), labels [1, 0, 0, 1], sizes [2, 2]
 * ```
 */
export function connectedComponents(mask: LabelArray, width: number, height: number): Components {
  checkLabelArray('mask', mask);
  checkInteger('width', width, 1);
  checkInteger('height', height, 1);
  const n = width * height;
  if (mask.length !== n) {
    throw new ShapeMismatchError('mask', `width·height = ${width}·${height} = ${n} values`, `${mask.length}`);
  }
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('width·height', 'a safe integer', String(n));
  const bits = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = mask[i];
    if (v === 1 || v === true) bits[i] = 1;
    else if (v !== 0 && v !== false) throw invalidLabel('mask', i, v);
  }
  const labels = new Int32Array(n);
  const sizesScratch = new Uint32Array(n + 1);
  const count = labelComponents(bits, width, height, labels, new Int32Array(n), sizesScratch);
  return { labels, count, sizes: sizesScratch.slice(0, count + 1) };
}
