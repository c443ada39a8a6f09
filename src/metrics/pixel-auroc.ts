/**
 * Pixel-level AUROC over all test pixels, streamed image by image, exact: equal to
 * scikit-learn's `roc_auc_score(masks.ravel(), maps.ravel())`.
 *
 * Memory: each pixel's score is kept once, in one of two growable arrays (anomalous /
 * normal): 4 bytes per pixel with precision `'float32'` (the default), 8 with `'float64'`.
 * 100 images of 256×256 take 26 MB; an MVTec AD category (at most 167 test images) at the
 * full 1024² resolution takes 0.7 GB (evaluate at the 256² model resolution to save 16×).
 * `compute()` sorts both arrays in place (float32: O(n) radix sort; float64: native sort,
 * O(n log n)) and counts pairs with one linear merge. Transients: the radix sort's scratch
 * array (4 B per value of the array being sorted) and, on the first `compute()` after
 * `add`s, a joined copy of each chunked array (none when the `capacity` hint was large
 * enough), i.e. a peak of about 2× the storage.
 */

import { ScoreBuffer } from './score-buffer.js';
import { aurocFromCount, doubledMannWhitney } from './mann-whitney.js';
import { exactPrecision, mapEntries } from './map-inputs.js';
import type { LabelArray, ScoreArray, ScorePrecision } from './types.js';
import {
  checkInteger,
  checkLabelArray,
  checkPrecision,
  checkSameLength,
  checkScoreArray,
  invalidLabel,
  invalidScore,
  requireBothClasses,
} from './validate.js';

/** Options of {@link PixelAurocAccumulator}. */
export interface PixelAurocOptions {
  /** Storage of the scores. Default `'float32'` (4 B/pixel; exact for Float32Array maps). */
  precision?: ScorePrecision;
  /**
   * Expected number of normal (mask 0) pixels, allocated once up front so that `compute()`
   * needs no join. Default 0 (grow in chunks of up to 2^20 values).
   */
  capacity?: number;
}

/**
 * Streaming, exact pixel AUROC: feed (map, mask) pairs of any size with {@link add}, read the
 * AUROC of everything fed so far with {@link compute} (callable any number of times).
 *
 * @example
 * ```ts
 * const acc = new PixelAurocAccumulator();
 * for (const { map, mask } of testSet) acc.add(map, mask); // Float32Array, Uint8Array
 * const pixelAuroc = acc.compute();
 * ```
 */
export class PixelAurocAccumulator {
  /** Storage precision. */
  readonly precision: ScorePrecision;
  private readonly positives: ScoreBuffer;
  private readonly negatives: ScoreBuffer;

  /** @param options - see {@link PixelAurocOptions}. */
  constructor(options: PixelAurocOptions = {}) {
    const { precision = 'float32', capacity = 0 } = options;
    checkPrecision('options.precision', precision);
    checkInteger('options.capacity', capacity, 0);
    this.precision = precision;
    this.positives = new ScoreBuffer(precision);
    this.negatives = new ScoreBuffer(precision, capacity);
  }

  /** Number of anomalous (mask 1) pixels fed so far. */
  get positiveCount(): number {
    return this.positives.length;
  }

  /** Number of normal (mask 0) pixels fed so far. */
  get negativeCount(): number {
    return this.negatives.length;
  }

  /** Bytes held by the score storage. */
  get byteLength(): number {
    return this.positives.byteLength + this.negatives.byteLength;
  }

  /**
   * Adds pixels: `scoreMap[i]` is the score of a pixel whose ground truth is `mask[i]`.
   * Any layout (one image, a batch, a flat slice) as long as the two align.
   *
   * @throws InvalidArgumentError for a NaN/±Infinity score or a mask value other than 0/1
   *   (nothing of that call is kept then); ShapeMismatchError if the lengths differ.
   */
  add(scoreMap: ScoreArray, mask: LabelArray): void {
    this.addNamed(scoreMap, mask, 'scoreMap', 'mask');
  }

  /** @internal {@link add} with the names the one-shot function reports. */
  addNamed(scoreMap: ScoreArray, mask: LabelArray, mapName: string, maskName: string): void {
    checkScoreArray(mapName, scoreMap);
    checkLabelArray(maskName, mask);
    checkSameLength(mapName, scoreMap.length, maskName, mask.length);
    const n = scoreMap.length;
    const f32 = this.precision === 'float32';
    // Validate first so that a bad call leaves the accumulator unchanged.
    for (let i = 0; i < n; i++) {
      const s = scoreMap[i];
      if (!Number.isFinite(f32 ? Math.fround(s) : s)) throw invalidScore(mapName, i, s, this.precision);
      const m = mask[i];
      if (m !== 0 && m !== 1 && m !== true && m !== false) throw invalidLabel(maskName, i, m);
    }
    for (let i = 0; i < n; i++) {
      const m = mask[i];
      if (m === 1 || m === true) this.positives.push(scoreMap[i]);
      else this.negatives.push(scoreMap[i]);
    }
  }

  /**
   * AUROC of all pixels fed so far (anomalous = mask 1).
   *
   * @throws InvalidArgumentError if no pixel, or only one class, was fed.
   */
  compute(): number {
    const p = this.positives.length;
    const n = this.negatives.length;
    requireBothClasses('masks', p, n, 'pixel AUROC');
    const pos = this.positives.sorted();
    const neg = this.negatives.sorted();
    return aurocFromCount(doubledMannWhitney(neg, pos), p, n);
  }
}

/**
 * Pixel AUROC of a whole test set in one call: exactly scikit-learn's
 * `roc_auc_score(masks.ravel(), maps.ravel())`.
 *
 * @param maps - anomaly maps: one flat array, or a list of arrays (e.g. one per image).
 * @param masks - ground-truth masks (0/1), laid out like `maps`.
 * @returns AUROC in [0, 1].
 * @throws InvalidArgumentError for empty input, one class only, a non-finite score or a mask
 *   value other than 0/1; ShapeMismatchError if maps and masks do not align.
 *
 * @example
 * ```ts
 * const auroc = pixelAuroc([map0, map1], [mask0, mask1]);
 * ```
 */
export function pixelAuroc(maps: ScoreArray | readonly ScoreArray[], masks: LabelArray | readonly LabelArray[]): number {
  const entries = mapEntries(maps, masks);
  const acc = new PixelAurocAccumulator({ precision: exactPrecision(entries) });
  for (const e of entries) acc.addNamed(e.map, e.mask, e.mapName, e.maskName);
  return acc.compute();
}
