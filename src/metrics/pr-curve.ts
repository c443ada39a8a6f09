/**
 * Precision–recall curve (as scikit-learn's `precision_recall_curve`) and the best F1 over
 * its thresholds with the accuracy at that threshold (the medical tables' "F1" and "ACC").
 */

import { InvalidArgumentError } from '../errors.js';
import { splitByLabel } from './auroc.js';
import type { LabelArray, ScoreArray } from './types.js';

/** Counts at every distinct score, highest threshold first (scikit-learn's `_binary_clf_curve`). */
interface ClfCurve {
  /** Distinct scores, descending. */
  thresholds: Float64Array;
  /** True positives with score ≥ threshold. */
  tps: Float64Array;
  /** False positives with score ≥ threshold. */
  fps: Float64Array;
  positives: number;
  negatives: number;
}

/** Merges the two sorted classes from the top: one point per distinct score. O(n). */
function clfCurve(labels: LabelArray, scores: ScoreArray): ClfCurve {
  const { positives, negatives } = splitByLabel(labels, scores);
  if (positives.length === 0) {
    throw new InvalidArgumentError('labels', 'at least one positive (1) label, recall is undefined otherwise', `only 0s (${negatives.length} of them)`);
  }
  const capacity = positives.length + negatives.length;
  const thresholds = new Float64Array(capacity);
  const tps = new Float64Array(capacity);
  const fps = new Float64Array(capacity);
  let i = positives.length - 1;
  let j = negatives.length - 1;
  let tp = 0;
  let fp = 0;
  let d = 0;
  while (i >= 0 || j >= 0) {
    const t = i < 0 ? negatives[j] : j < 0 ? positives[i] : Math.max(positives[i], negatives[j]);
    while (i >= 0 && positives[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && negatives[j] === t) {
      fp++;
      j--;
    }
    thresholds[d] = t;
    tps[d] = tp;
    fps[d] = fp;
    d++;
  }
  return {
    thresholds: thresholds.slice(0, d),
    tps: tps.slice(0, d),
    fps: fps.slice(0, d),
    positives: positives.length,
    negatives: negatives.length,
  };
}

/** The three arrays of {@link precisionRecallCurve}. */
export interface PrecisionRecallCurve {
  /** precision[i] = TP / (TP + FP) with prediction score ≥ thresholds[i]; the last entry is 1. */
  precision: Float64Array;
  /** recall[i] = TP / P at thresholds[i], non-increasing; the last entry is 0. */
  recall: Float64Array;
  /** Every distinct score, ascending (one fewer entry than precision and recall). */
  thresholds: Float64Array;
}

/**
 * Precision–recall pairs at every distinct score, the same arrays as scikit-learn's
 * `precision_recall_curve(labels, scores)` (≥ 1.1 semantics: every threshold is kept, down
 * to the lowest score where recall = 1 and precision = the positive rate; the final point
 * (precision 1, recall 0) has no threshold).
 *
 * Unlike scikit-learn (which warns and sets recall to 1), labels without any positive are
 * rejected.
 *
 * @param labels - 0/1 (or boolean) ground truth, 1 = anomalous.
 * @param scores - finite anomaly scores.
 * @throws InvalidArgumentError for empty input, a NaN/±Infinity score, a label other than 0/1,
 *   or no positive label; ShapeMismatchError if the lengths differ.
 *
 * @example
 * ```ts
 * const { precision, recall, thresholds } = precisionRecallCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
 * // precision [0.5, 0.667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0], thresholds [0.1, 0.35, 0.4, 0.8]
 * ```
 */
export function precisionRecallCurve(labels: LabelArray, scores: ScoreArray): PrecisionRecallCurve {
  const { thresholds: desc, tps, fps, positives } = clfCurve(labels, scores);
  const d = desc.length;
  const precision = new Float64Array(d + 1);
  const recall = new Float64Array(d + 1);
  const thresholds = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    const src = d - 1 - k; // ascending order
    precision[k] = tps[src] / (tps[src] + fps[src]);
    recall[k] = tps[src] / positives;
    thresholds[k] = desc[src];
  }
  precision[d] = 1;
  recall[d] = 0;
  return { precision, recall, thresholds };
}

/** Result of {@link bestF1}. */
export interface BestF1 {
  /** The highest F1 over the PR curve's thresholds. */
  f1: number;
  /** The threshold reaching it (the lowest one on ties); prediction = score ≥ threshold. */
  threshold: number;
  /** Precision at that threshold. */
  precision: number;
  /** Recall at that threshold. */
  recall: number;
  /** Accuracy (TP + TN) / n at that threshold. */
  accuracy: number;
}

/**
 * Best F1 over all thresholds of the precision–recall curve and the accuracy at that
 * threshold (prediction = score ≥ threshold): the "F1" and "ACC" of the paper's medical
 * tables.
 *
 * Matches the authors' `calculate_metrics`: F1 = 2·(P·R) / (P + R + 1e-16) at every point
 * of scikit-learn's curve (the epsilon can move the last bit and turns 0/0 into 0), the
 * first maximum in ascending-threshold order, ACC from the same ≥ comparison.
 *
 * @param labels - 0/1 (or boolean) ground truth, 1 = anomalous.
 * @param scores - finite anomaly scores.
 * @throws As {@link precisionRecallCurve}.
 *
 * @example
 * ```ts
 * const { f1, accuracy, threshold } = bestF1(labels, imageScores);
 * ```
 */
export function bestF1(labels: LabelArray, scores: ScoreArray): BestF1 {
  const { thresholds, tps, fps, positives, negatives } = clfCurve(labels, scores);
  let best = -1;
  let bestK = 0;
  let bestP = 0;
  let bestR = 0;
  // Ascending thresholds = the curve read from its lowest-threshold end, as np.argmax sees it.
  for (let k = thresholds.length - 1; k >= 0; k--) {
    const p = tps[k] / (tps[k] + fps[k]);
    const r = tps[k] / positives;
    const f1 = (2 * (p * r)) / (p + r + 1e-16);
    if (f1 > best) {
      best = f1;
      bestK = k;
      bestP = p;
      bestR = r;
    }
  }
  const trueNegatives = negatives - fps[bestK];
  return {
    f1: best,
    threshold: thresholds[bestK],
    precision: bestP,
    recall: bestR,
    accuracy: (tps[bestK] + trueNegatives) / (positives + negatives),
  };
}
