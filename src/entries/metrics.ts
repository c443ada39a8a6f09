/**
 * `ckaad/metrics`: the metrics of the paper's tables, to the last digit of their standard
 * definitions — image AUROC (ties as scikit-learn), best F1 and ACC at its threshold, pixel
 * AUROC over all test pixels (streaming), AUPRO@0.3 as the MVTec AD script, and the authors'
 * per-image PRO for comparison.
 *
 * @packageDocumentation
 */

export * from '../metrics/index.js';
