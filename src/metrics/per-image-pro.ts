/**
 * The authors' per-image PRO variant (their `compute_pro` in `util/test.py`, called once per
 * anomalous test image), reproduced for comparison with the paper's numbers. It differs from
 * the MVTec AD definition ({@link aupro}) in every step:
 *
 * - one curve per anomalous image (normal images are ignored), then the mean over images;
 * - a fixed sweep `np.arange(min, max, (max − min) / 200)` over that image's score range
 *   (200 or 201 thresholds, prediction = score > threshold) instead of every distinct score;
 * - FPR over that image's normal pixels only, PRO = mean over that image's regions;
 * - points with FPR < limit (strict) are kept, their FPRs divided by the largest kept FPR
 *   (not by the limit) and integrated by the trapezoid rule (scikit-learn's `auc`), with no
 *   interpolation at the limit.
 *
 * Floating point follows their NumPy 1.21 code: for a float32 map, max − min is rounded to
 * float32, the thresholds are float64 (`np.arange` promotes), and each comparison rounds the
 * threshold to float32 (NumPy's value-based casting); a Float64Array / number[] map is
 * handled in float64 throughout. Their final `round(mean, 6)` is not applied here.
 */

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { labelComponents } from './connected-components.js';
import { upperBound } from './mann-whitney.js';
import { mapEntries } from './map-inputs.js';
import type { LabelArray, ScoreArray } from './types.js';
import { checkFprLimit, checkInteger, describeValue, invalidLabel, invalidScore } from './validate.js';

/** Options of {@link perImagePro}. */
export interface PerImageProOptions {
  /** Rows of every map. Required. */
  height: number;
  /** Columns of every map. Required. */
  width: number;
  /** `num_th` of the authors' code: the sweep step is (max − min) / numThresholds. Default 200. */
  numThresholds?: number;
  /** Points with FPR strictly below this are integrated. Default 0.3. */
  fprLimit?: number;
}

/** Result of {@link perImagePro}. */
export interface PerImageProResult {
  /** Mean of `perImage` (NaN if any entry is NaN, as `np.mean`). */
  pro: number;
  /**
   * Area of each anomalous image's normalised curve, in image order. NaN where the authors'
   * code fails or yields NaN: fewer than two thresholds with FPR < limit (scikit-learn's
   * `auc` raises), no normal pixel in the image, or every kept FPR equal to 0.
   */
  perImage: number[];
  /** Index (in input order, counting all images) of each entry of `perImage`. */
  imageIndices: number[];
}

/**
 * The authors' per-image PRO (see the module doc for how it differs from the MVTec AD
 * AUPRO): mean over anomalous images of the area under that image's PRO curve, swept with
 * `numThresholds` steps between its minimum and maximum score.
 *
 * @param maps - anomaly maps: one flat array of N·H·W scores or a list of arrays each holding
 *   one or more H×W images. Float32Array maps get the authors' float32 semantics.
 * @param masks - 0/1 ground truth laid out like `maps`.
 * @param options - `height`, `width` (required), `numThresholds` (200), `fprLimit` (0.3).
 * @throws InvalidArgumentError for bad options, a non-finite score, a mask value other than
 *   0/1, no anomalous image, or an anomalous image whose map is constant (the authors' sweep
 *   is empty: NumPy raises); ShapeMismatchError if maps and masks do not align or are not
 *   made of H×W images.
 *
 * @example
 * ```ts
 * const { pro } = perImagePro(maps, masks, { height: 256, width: 256 });
 * ```
 */
export function perImagePro(
  maps: ScoreArray | readonly ScoreArray[],
  masks: LabelArray | readonly LabelArray[],
  options: PerImageProOptions,
): PerImageProResult {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'an object with height and width', describeValue(options));
  }
  const { height, width, numThresholds = 200, fprLimit = 0.3 } = options;
  checkInteger('options.height', height, 1);
  checkInteger('options.width', width, 1);
  checkInteger('options.numThresholds', numThresholds, 1);
  checkFprLimit('options.fprLimit', fprLimit);
  const entries = mapEntries(maps, masks);
  const hw = height * width;
  for (const e of entries) {
    if (e.map.length === 0 || e.map.length % hw !== 0) {
      throw new ShapeMismatchError(e.mapName, `a positive multiple of height·width = ${height}·${width} = ${hw} values`, `${e.map.length} values`);
    }
    for (let i = 0; i < e.map.length; i++) {
      if (!Number.isFinite(e.map[i])) throw invalidScore(e.mapName, i, e.map[i]);
      const m = e.mask[i];
      if (m !== 0 && m !== 1 && m !== true && m !== false) throw invalidLabel(e.maskName, i, m);
    }
  }

  const bits = new Uint8Array(hw);
  const labels = new Int32Array(hw);
  const stack = new Int32Array(hw);
  const sizes = new Uint32Array(hw + 1);
  const perImage: number[] = [];
  const imageIndices: number[] = [];
  let image = 0;
  for (const e of entries) {
    for (let offset = 0; offset < e.map.length; offset += hw, image++) {
      for (let p = 0; p < hw; p++) {
        const m = e.mask[offset + p];
        bits[p] = m === 1 || m === true ? 1 : 0;
      }
      labels.fill(0);
      const regions = labelComponents(bits, width, height, labels, stack, sizes);
      if (regions === 0) continue; // the authors skip images without anomalous pixels
      const area = imageProArea(e.map, offset, hw, labels, sizes, regions, e.map instanceof Float32Array, numThresholds, fprLimit);
      if (area === undefined) {
        throw new InvalidArgumentError(`${e.mapName} (image ${image})`, 'an anomaly map that is not constant (the per-image threshold sweep would be empty)');
      }
      perImage.push(area);
      imageIndices.push(image);
    }
  }
  if (perImage.length === 0) {
    throw new InvalidArgumentError('masks', 'at least one image with anomalous (1) pixels', 'none');
  }
  let sum = 0;
  for (const v of perImage) sum += v;
  return { pro: sum / perImage.length, perImage, imageIndices };
}

/** One image's normalised PRO area; undefined for a constant map. */
function imageProArea(
  map: ScoreArray,
  offset: number,
  hw: number,
  labels: Int32Array,
  sizes: Uint32Array,
  regions: number,
  float32: boolean,
  numThresholds: number,
  fprLimit: number,
): number | undefined {
  // Normal scores sorted; anomalous scores grouped by region, each group sorted.
  const nNormal = sizes[0];
  const normals = new Float64Array(nNormal);
  const grouped = new Float64Array(hw - nNormal);
  const begin = new Int32Array(regions + 2);
  for (let k = 1; k <= regions; k++) begin[k + 1] = begin[k] + sizes[k];
  const cursor = begin.slice();
  let lo = Infinity;
  let hi = -Infinity;
  let q = 0;
  for (let p = 0; p < hw; p++) {
    const s = map[offset + p];
    if (s < lo) lo = s;
    if (s > hi) hi = s;
    const k = labels[p];
    if (k === 0) normals[q++] = s;
    else grouped[cursor[k]++] = s;
  }
  if (lo === hi) return undefined;
  normals.sort();
  for (let k = 1; k <= regions; k++) grouped.subarray(begin[k], begin[k + 1]).sort();

  // np.arange(min, max, step) with step = (max − min) / numThresholds, as NumPy 1.x builds it.
  const range = float32 ? Math.fround(hi - lo) : hi - lo;
  const step = range / numThresholds;
  const count = Math.ceil(range / step);
  const second = lo + step;
  const stride = second - lo;

  const fprs: number[] = [];
  const pros: number[] = [];
  for (let i = 0; i < count; i++) {
    const th = i === 0 ? lo : i === 1 ? second : lo + i * stride;
    const cut = float32 ? Math.fround(th) : th; // prediction: score > cut
    const fp = nNormal - upperBound(normals, cut);
    let overlapSum = 0;
    for (let k = 1; k <= regions; k++) {
      const tp = begin[k + 1] - upperBound(grouped, cut, begin[k], begin[k + 1]);
      overlapSum += tp / sizes[k];
    }
    const fpr = fp / nNormal;
    if (fpr < fprLimit) {
      fprs.push(fpr);
      pros.push(overlapSum / regions);
    }
  }
  if (fprs.length < 2) return NaN;

  // fpr / max(fpr), then scikit-learn's auc (trapezoid; sign flipped for a decreasing x).
  let maxFpr = -Infinity;
  for (const f of fprs) if (f > maxFpr) maxFpr = f;
  const x = fprs.map((f) => f / maxFpr);
  let anyDecrease = false;
  let anyIncrease = false;
  let area = 0;
  for (let j = 0; j + 1 < x.length; j++) {
    const dx = x[j + 1] - x[j];
    if (dx < 0) anyDecrease = true;
    if (dx > 0) anyIncrease = true;
    area += (dx * (pros[j + 1] + pros[j])) / 2.0;
  }
  if (anyDecrease && anyIncrease) return NaN; // not monotonic: scikit-learn raises
  return anyDecrease ? -area : area;
}
