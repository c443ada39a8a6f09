/**
 * AUPRO: area under the per-region-overlap (PRO) curve up to a false-positive-rate limit,
 * normalised by the limit — the MVTec AD benchmark's definition (its evaluation script's
 * `compute_pro` + `trapezoid(..., x_max=limit) / limit`):
 *
 * - regions: the 8-connected components of every ground-truth mask of the test set;
 * - one curve point per distinct anomaly score t of the whole test set, predicting
 *   "anomalous" for score ≥ t: FPR(t) = anomalous-predicted normal pixels / all normal
 *   pixels of all images; PRO(t) = mean over all regions of the fraction of the region
 *   predicted anomalous; the curve runs from (0, 0) to (1, 1);
 * - trapezoidal area for FPR ∈ [0, limit], the PRO value at the limit linearly interpolated
 *   between its neighbouring points; divided by the limit, so a perfect map scores 1.
 *
 * How it is computed without materialising the curve: normal-pixel scores are sorted; each
 * region's scores are sorted; a sweep from the highest score down merges the regions with a
 * heap (O(A log K) for A anomalous pixels in K regions) and visits only the thresholds up
 * to the limit. Only thresholds where a normal pixel sits move the FPR; between two of them
 * the curve rises vertically (zero area), so each step needs only the PRO just above and at
 * its threshold. Exact to float64 rounding (PRO is a running sum of 1/|region|, as the
 * official script's cumulative sum).
 *
 * Memory: 4 bytes per stored pixel with precision `'float32'` (8 with `'float64'`) plus a few
 * numbers per region; 21 bytes per pixel of one image of scratch (labels, flood-fill stack,
 * …), allocated once. `compute()` sorts in place (float32: radix sort with a 4 B/value
 * scratch array); joining the storage chunks on the first `compute()` after `add`s holds a
 * transient second copy of the normal-pixel scores: a peak of about 2× the storage.
 */

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { labelComponents } from './connected-components.js';
import { aurocFromCount, lowerBound, upperBound } from './mann-whitney.js';
import { exactPrecision, mapEntries } from './map-inputs.js';
import { ScoreBuffer, type FloatArray } from './score-buffer.js';
import type { LabelArray, ScoreArray, ScorePrecision } from './types.js';
import {
  checkFprLimit,
  checkInteger,
  checkLabelArray,
  checkPrecision,
  checkSameLength,
  checkScoreArray,
  describeValue,
  invalidLabel,
  invalidScore,
  requireBothClasses,
} from './validate.js';

/** Options of {@link AuproAccumulator} and {@link aupro}. */
export interface AuproOptions {
  /** Rows of every map. Required. */
  height: number;
  /** Columns of every map. Required. */
  width: number;
  /** Upper FPR integration limit in (0, 1]. Default 0.3. */
  fprLimit?: number;
  /**
   * Score storage. Default `'float32'` for the accumulator (4 B/pixel); {@link aupro} picks
   * `'float32'` when every map is a Float32Array and `'float64'` otherwise (exact either way).
   */
  precision?: ScorePrecision;
  /**
   * Arithmetic of the FPR values. Default `'float64'` (the definition). `'float32'` rounds
   * each FPR to float32 like the official script does (it casts its cumulative false-positive
   * counts to float32 to save memory), reproducing its numbers to the last digits; the two
   * differ by ~1e-8.
   */
  fprDtype?: 'float32' | 'float64';
  /** Expected number of normal pixels, allocated once up front. Default 0 (grow in chunks). */
  capacity?: number;
}

/**
 * Streaming AUPRO (MVTec AD definition, see the module doc): add maps and masks of H×W
 * images one at a time or in batches, then {@link compute}. Also gives the pixel AUROC of the
 * same pixels ({@link pixelAuroc}) without storing them twice.
 *
 * @example
 * ```ts
 * const acc = new AuproAccumulator({ height: 256, width: 256 });
 * for (const { map, mask } of testSet) acc.add(map, mask);      // one [256·256] image each
 * const auPro = acc.compute();        // FPR ≤ 0.3, in [0, 1]
 * const pixelAuroc = acc.pixelAuroc();
 * ```
 */
export class AuproAccumulator {
  /** Rows of every map. */
  readonly height: number;
  /** Columns of every map. */
  readonly width: number;
  /** Default integration limit of {@link compute}. */
  readonly fprLimit: number;
  /** Score storage precision. */
  readonly precision: ScorePrecision;
  /** FPR arithmetic, see {@link AuproOptions.fprDtype}. */
  readonly fprDtype: 'float32' | 'float64';

  private readonly normals: ScoreBuffer;
  /** Anomalous pixel scores, grouped region by region (segments end at `segmentEnds`). */
  private readonly anomalous: ScoreBuffer;
  private readonly segmentEnds: number[] = [];
  private sortedSegments = 0;
  private images = 0;
  // Per-image scratch, reused by every add().
  private readonly bits: Uint8Array;
  private readonly labels: Int32Array;
  private readonly stack: Int32Array;
  private readonly sizes: Uint32Array;
  private readonly cursor: Int32Array;
  private readonly grouped: FloatArray;

  /** @param options - see {@link AuproOptions}; `height` and `width` are required. */
  constructor(options: AuproOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'an object with height and width', describeValue(options));
    }
    const { height, width, fprLimit = 0.3, precision = 'float32', fprDtype = 'float64', capacity = 0 } = options;
    checkInteger('options.height', height, 1);
    checkInteger('options.width', width, 1);
    checkFprLimit('options.fprLimit', fprLimit);
    checkPrecision('options.precision', precision);
    if (fprDtype !== 'float32' && fprDtype !== 'float64') {
      throw new InvalidArgumentError('options.fprDtype', "'float32' or 'float64'", describeValue(fprDtype));
    }
    checkInteger('options.capacity', capacity, 0);
    this.height = height;
    this.width = width;
    this.fprLimit = fprLimit;
    this.precision = precision;
    this.fprDtype = fprDtype;
    this.normals = new ScoreBuffer(precision, capacity);
    this.anomalous = new ScoreBuffer(precision);
    const n = height * width;
    this.bits = new Uint8Array(n);
    this.labels = new Int32Array(n);
    this.stack = new Int32Array(n);
    this.sizes = new Uint32Array(n + 1);
    this.cursor = new Int32Array(n + 1);
    this.grouped = precision === 'float32' ? new Float32Array(n) : new Float64Array(n);
  }

  /** Images added so far. */
  get imageCount(): number {
    return this.images;
  }

  /** Ground-truth regions (connected components) found so far. */
  get regionCount(): number {
    return this.segmentEnds.length;
  }

  /** Normal (mask 0) pixels added so far. */
  get normalCount(): number {
    return this.normals.length;
  }

  /** Anomalous (mask 1) pixels added so far. */
  get anomalousCount(): number {
    return this.anomalous.length;
  }

  /** Bytes held by the stored scores (scratch buffers of one image not included). */
  get byteLength(): number {
    return this.normals.byteLength + this.anomalous.byteLength;
  }

  /**
   * Adds one image or a batch of images: `scoreMaps` holds N·H·W scores (row-major, image
   * after image), `masks` the N·H·W matching 0/1 ground-truth values.
   *
   * @throws InvalidArgumentError for a NaN/±Infinity score or a mask value other than 0/1
   *   (nothing of that call is kept then); ShapeMismatchError if the lengths differ or are not
   *   a multiple of H·W.
   */
  add(scoreMaps: ScoreArray, masks: LabelArray): void {
    this.addNamed(scoreMaps, masks, 'scoreMaps', 'masks');
  }

  /** @internal {@link add} with the names the one-shot function reports. */
  addNamed(scoreMaps: ScoreArray, masks: LabelArray, mapName: string, maskName: string): void {
    checkScoreArray(mapName, scoreMaps);
    checkLabelArray(maskName, masks);
    checkSameLength(mapName, scoreMaps.length, maskName, masks.length);
    const hw = this.height * this.width;
    if (scoreMaps.length === 0 || scoreMaps.length % hw !== 0) {
      throw new ShapeMismatchError(
        mapName,
        `a positive multiple of height·width = ${this.height}·${this.width} = ${hw} values`,
        `${scoreMaps.length} values`,
      );
    }
    const f32 = this.precision === 'float32';
    for (let i = 0; i < scoreMaps.length; i++) {
      const s = scoreMaps[i];
      if (!Number.isFinite(f32 ? Math.fround(s) : s)) throw invalidScore(mapName, i, s, this.precision);
      const m = masks[i];
      if (m !== 0 && m !== 1 && m !== true && m !== false) throw invalidLabel(maskName, i, m);
    }
    for (let offset = 0; offset < scoreMaps.length; offset += hw) this.addImage(scoreMaps, masks, offset);
  }

  /** One validated image starting at `offset`: label its regions, store its scores. */
  private addImage(scoreMaps: ScoreArray, masks: LabelArray, offset: number): void {
    const hw = this.height * this.width;
    const { bits, labels, sizes, cursor, grouped } = this;
    for (let p = 0; p < hw; p++) {
      const m = masks[offset + p];
      bits[p] = m === 1 || m === true ? 1 : 0;
    }
    labels.fill(0);
    const count = labelComponents(bits, this.width, this.height, labels, this.stack, sizes);
    // Counting sort of the anomalous pixels by region: region k occupies [cursor[k], …).
    let start = 0;
    for (let k = 1; k <= count; k++) {
      cursor[k] = start;
      start += sizes[k];
    }
    const anomalousHere = start;
    for (let p = 0; p < hw; p++) {
      const s = scoreMaps[offset + p];
      const k = labels[p];
      if (k === 0) this.normals.push(s);
      else grouped[cursor[k]++] = s;
    }
    let end = this.anomalous.length;
    for (let i = 0; i < anomalousHere; i++) this.anomalous.push(grouped[i]);
    for (let k = 1; k <= count; k++) {
      end += sizes[k];
      this.segmentEnds.push(end);
    }
    this.images++;
  }

  /** Anomalous scores with every region's segment sorted ascending. */
  private sortedAnomalous(): FloatArray {
    const all = this.anomalous.contiguous();
    for (let k = this.sortedSegments; k < this.segmentEnds.length; k++) {
      const begin = k === 0 ? 0 : this.segmentEnds[k - 1];
      all.subarray(begin, this.segmentEnds[k]).sort();
    }
    this.sortedSegments = this.segmentEnds.length;
    return all;
  }

  /**
   * AUPRO of everything added so far: PRO curve area for FPR ∈ [0, fprLimit] divided by
   * fprLimit, in [0, 1].
   *
   * @param fprLimit - integration limit in (0, 1]; default the constructor's (0.3).
   * @throws InvalidArgumentError for a bad limit, or when no normal or no anomalous pixel was
   *   added (FPR or PRO undefined).
   */
  compute(fprLimit: number = this.fprLimit): number {
    checkFprLimit('fprLimit', fprLimit);
    const nNormal = this.normals.length;
    const nRegions = this.segmentEnds.length;
    if (nNormal === 0) {
      throw new InvalidArgumentError('masks', 'at least one normal (0) pixel, the FPR is undefined otherwise', 'no normal pixel');
    }
    if (nRegions === 0) {
      throw new InvalidArgumentError('masks', 'at least one anomalous (1) pixel, PRO is undefined otherwise', 'no anomalous pixel');
    }
    const normals = this.normals.sorted(); // ascending
    const anomalous = this.sortedAnomalous();
    const ends = this.segmentEnds;

    // Max-heap of regions keyed by their largest not-yet-swept score.
    const next = new Int32Array(nRegions); // index of that score in `anomalous`
    const first = new Int32Array(nRegions);
    const weight = new Float64Array(nRegions); // 1 / |region|
    const heap = new Int32Array(nRegions);
    let heapSize = 0;
    const key = (k: number): number => anomalous[next[k]];
    const siftDown = (at: number): void => {
      const k = heap[at];
      const v = key(k);
      for (;;) {
        let child = 2 * at + 1;
        if (child >= heapSize) break;
        if (child + 1 < heapSize && key(heap[child + 1]) > key(heap[child])) child++;
        if (key(heap[child]) <= v) break;
        heap[at] = heap[child];
        at = child;
      }
      heap[at] = k;
    };
    for (let k = 0; k < nRegions; k++) {
      first[k] = k === 0 ? 0 : ends[k - 1];
      next[k] = ends[k] - 1;
      weight[k] = 1 / (ends[k] - first[k]);
      heap[heapSize++] = k;
    }
    for (let at = (heapSize >> 1) - 1; at >= 0; at--) siftDown(at);
    /** Sweeps the top region's largest score into the positives; returns its weight. */
    const pop = (): number => {
      const k = heap[0];
      next[k]--;
      if (next[k] < first[k]) {
        heap[0] = heap[--heapSize];
      }
      if (heapSize > 0) siftDown(0);
      return weight[k];
    };

    const f32 = this.fprDtype === 'float32';
    let proSum = 0; // Σ over swept anomalous pixels of 1 / |region|
    let falsePositives = 0;
    let prevFpr = 0;
    let area = 0;
    let i = nNormal - 1;
    while (i >= 0) {
      const t = normals[i];
      while (heapSize > 0 && key(heap[0]) > t) proSum += pop();
      const proAbove = proSum / nRegions; // PRO at the previous curve point (scores > t)
      while (heapSize > 0 && key(heap[0]) === t) proSum += pop();
      const proAt = proSum / nRegions; // PRO at threshold t (scores ≥ t)
      while (i >= 0 && normals[i] === t) {
        falsePositives++;
        i--;
      }
      const fpr = f32 ? Math.fround(falsePositives / nNormal) : falsePositives / nNormal;
      if (fpr <= fprLimit) {
        area += 0.5 * (proAt + proAbove) * (fpr - prevFpr);
        prevFpr = fpr;
      } else {
        // The limit falls inside this segment: interpolate PRO there and stop.
        const proLimit = proAbove + ((proAt - proAbove) * (fprLimit - prevFpr)) / (fpr - prevFpr);
        area += 0.5 * (proLimit + proAbove) * (fprLimit - prevFpr);
        break;
      }
    }
    return area / fprLimit;
  }

  /**
   * Pixel AUROC of everything added so far (anomalous = mask 1), exact as
   * {@link PixelAurocAccumulator}: one binary search per anomalous pixel in the sorted normal
   * scores, O(A log N).
   *
   * @throws InvalidArgumentError if only one class was added.
   */
  pixelAuroc(): number {
    const nNormal = this.normals.length;
    const nAnomalous = this.anomalous.length;
    requireBothClasses('masks', nAnomalous, nNormal, 'pixel AUROC');
    const normals = this.normals.sorted();
    const anomalous = this.anomalous.contiguous();
    let twiceU = 0;
    for (let j = 0; j < nAnomalous; j++) {
      const s = anomalous[j];
      twiceU += lowerBound(normals, s) + upperBound(normals, s);
    }
    return aurocFromCount(twiceU, nAnomalous, nNormal);
  }
}

/**
 * AUPRO of a whole test set in one call, as the MVTec AD evaluation script computes it
 * (see {@link AuproAccumulator} for the definition); normal images count towards the FPR.
 *
 * @param maps - anomaly maps: one flat array of N·H·W scores, or a list of arrays each
 *   holding one or more H×W images.
 * @param masks - 0/1 ground truth laid out like `maps`.
 * @param options - `height`, `width` (required), `fprLimit` (default 0.3), `fprDtype`
 *   (default `'float64'`), `precision` (default: exact for the given maps).
 * @returns the area under the PRO curve for FPR ≤ fprLimit divided by fprLimit, in [0, 1].
 * @throws InvalidArgumentError for empty input, bad options, a non-finite score, a mask value
 *   other than 0/1, or masks without normal or without anomalous pixels; ShapeMismatchError
 *   if maps and masks do not align or are not made of H×W images.
 *
 * @example
 * ```ts
 * const auPro = aupro(maps, masks, { height: 256, width: 256 }); // fprLimit 0.3
 * ```
 */
export function aupro(
  maps: ScoreArray | readonly ScoreArray[],
  masks: LabelArray | readonly LabelArray[],
  options: AuproOptions,
): number {
  const entries = mapEntries(maps, masks);
  const precision = options?.precision ?? exactPrecision(entries);
  const acc = new AuproAccumulator({ ...options, precision });
  for (const e of entries) acc.addNamed(e.map, e.mask, e.mapName, e.maskName);
  return acc.compute();
}
