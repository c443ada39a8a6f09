/**
 * The Mann–Whitney pair count behind every AUROC here.
 *
 * AUROC = P(score of a random positive > score of a random negative) + ½ P(equal)
 *       = U / (P · N),
 * which is exactly the trapezoidal area under the ROC curve that scikit-learn's
 * `roc_auc_score` computes (ties make a diagonal ROC segment, worth ½ per tied pair).
 * We count 2U, an integer (exact in float64 while 2U < 2^53, i.e. P·N < 4.5·10^15),
 * and divide once, so the result is the correctly rounded ratio.
 */

/** Sorted float data the counters read (ascending, no NaN). */
export type SortedScores = Float32Array | Float64Array;

/** Index of the first element ≥ `value` in an ascending array (`length` if none). */
export function lowerBound(sorted: SortedScores, value: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > `value` in an ascending array (`length` if none). */
export function upperBound(sorted: SortedScores, value: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * 2U for two ascending arrays, in one linear merge: each positive counts 2 per negative
 * strictly below it and 1 per negative equal to it. O(P + N).
 */
export function doubledMannWhitney(negatives: SortedScores, positives: SortedScores): number {
  const n = negatives.length;
  let below = 0; // # negatives < current positive value
  let upTo = 0; // # negatives ≤ current positive value
  let twiceU = 0;
  let i = 0;
  while (i < positives.length) {
    const s = positives[i];
    let run = 1; // positives tied at s
    while (i + run < positives.length && positives[i + run] === s) run++;
    while (below < n && negatives[below] < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < n && negatives[upTo] === s) upTo++;
    twiceU += run * (below + upTo);
    i += run;
  }
  return twiceU;
}

/** AUROC from the doubled pair count: 2U / (2 · P · N). */
export function aurocFromCount(twiceU: number, positives: number, negatives: number): number {
  return twiceU / (2 * positives * negatives);
}
