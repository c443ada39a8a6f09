/**
 * Image-level AUROC, equal to scikit-learn's `roc_auc_score(labels, scores)`.
 */

import { aurocFromCount, doubledMannWhitney } from './mann-whitney.js';
import type { LabelArray, ScoreArray } from './types.js';
import {
  checkLabelArray,
  checkNonEmpty,
  checkSameLength,
  checkScoreArray,
  invalidScore,
  labelBit,
  requireBothClasses,
} from './validate.js';

/** Scores split by label, each sorted ascending (float64 copies, exact for every input). */
export interface SplitScores {
  /** Scores of the label-1 samples, ascending. */
  positives: Float64Array;
  /** Scores of the label-0 samples, ascending. */
  negatives: Float64Array;
}

/**
 * Validates a (labels, scores) pair and splits the scores by class, each sorted ascending.
 *
 * @throws InvalidArgumentError for empty input, a non-finite score or a label other than 0/1;
 *   ShapeMismatchError if the lengths differ.
 */
export function splitByLabel(labels: LabelArray, scores: ScoreArray): SplitScores {
  checkLabelArray('labels', labels);
  checkScoreArray('scores', scores);
  checkSameLength('scores', scores.length, 'labels', labels.length);
  checkNonEmpty('scores', scores.length);
  const n = scores.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i])) throw invalidScore('scores', i, scores[i]);
    nPos += labelBit(labels, i, 'labels');
  }
  const positives = new Float64Array(nPos);
  const negatives = new Float64Array(n - nPos);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] === 1 || labels[i] === true) positives[p++] = scores[i];
    else negatives[q++] = scores[i];
  }
  positives.sort();
  negatives.sort();
  return { positives, negatives };
}

/**
 * Area under the ROC curve of image scores, exactly as scikit-learn's
 * `roc_auc_score(labels, scores)`: the trapezoidal ROC area, which equals the Mann–Whitney
 * statistic U / (P·N) with tied (positive, negative) pairs counted ½. Computed as an exact
 * pair count after an O(n log n) sort, so it is the correctly rounded value of that ratio.
 *
 * @param labels - 0/1 (or boolean) ground truth, 1 = anomalous.
 * @param scores - anomaly scores, higher = more anomalous; finite.
 * @returns AUROC in [0, 1].
 * @throws InvalidArgumentError if only one class is present (AUROC undefined), for empty
 *   input, a NaN/±Infinity score, or a label that is not 0/1; ShapeMismatchError if
 *   `labels` and `scores` differ in length.
 *
 * @example
 * ```ts
 * imageAuroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.75
 * ```
 */
export function imageAuroc(labels: LabelArray, scores: ScoreArray): number {
  const { positives, negatives } = splitByLabel(labels, scores);
  requireBothClasses('labels', positives.length, negatives.length);
  return aurocFromCount(doubledMannWhitney(negatives, positives), positives.length, negatives.length);
}
