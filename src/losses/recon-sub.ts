/**
 * ReconSub, the direct way of using labelled anomalies (paper eq. 4):
 *
 *   L_rec = L⁺_rec − λ · L⁻_rec
 *
 * the reconstruction error of normal images minus λ times that of anomalous ones. The
 * authors' code does not implement it; it is the paper's "ReconSub" baseline.
 */

import * as tf from '@tensorflow/tfjs-core';
import { checkNonNegative } from '../validate.js';
import { checkMapPairs, checkSameHeads } from './checks.js';
import { meanReconstructionError } from './reconstruction.js';

/** Feature maps of one batch and the auto-encoder's reconstructions of them, per layer. */
export interface ReconstructionPair {
  /** Backbone maps per layer, each [N, h, w, C]. */
  features: readonly tf.Tensor4D[];
  /** Reconstructions, same shapes and order as `features`. */
  reconstructions: readonly tf.Tensor4D[];
}

/**
 * ReconSub loss of paper eq. 4: `reconstructionLoss(normal) − lambda · reconstructionLoss(anomalous)`
 * (see {@link reconstructionLoss}).
 * Both terms are means over their own batch (eq. 2), so the two batches may differ in size.
 *
 * @param lambda - weight λ ≥ 0 of the anomalous term (the paper requires λ > 0; 0 gives plain Recon).
 * @throws InvalidArgumentError if λ is negative or not finite, or a batch is malformed.
 * @throws ShapeMismatchError if a batch's maps disagree, or the two batches do not have the
 *   same layers (count and [h, w, C] per layer).
 */
export function reconSubLoss(normal: ReconstructionPair, anomalous: ReconstructionPair, lambda: number): tf.Scalar {
  checkNonNegative(lambda, 'lambda');
  checkMapPairs('normal', normal.features, normal.reconstructions);
  checkMapPairs('anomalous', anomalous.features, anomalous.reconstructions);
  checkSameHeads([
    ['normal.features', normal.features],
    ['anomalous.features', anomalous.features],
  ]);
  return tf.tidy(() => {
    const positive = meanReconstructionError('normal', normal.features, normal.reconstructions);
    const negative = meanReconstructionError('anomalous', anomalous.features, anomalous.reconstructions);
    return tf.sub(positive, tf.mul(lambda, negative)) as tf.Scalar;
  });
}
