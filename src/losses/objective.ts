/**
 * The auto-encoder's training objective, paper eq. 13:
 *
 *   L = L_rec + λ · L_adv
 *
 * `L_rec` is the strategy's reconstruction objective (eq. 2 for CKAAD, eq. 4 for ReconSub) and
 * `L_adv` the adversary's generator loss (eq. 9 / 12 / 7), or absent when the step has no
 * discriminator (Recon, ReconSub, or no anomalies in the batch): then L = L_rec.
 */

import * as tf from '@tensorflow/tfjs-core';

/** Paper eq. 13: `reconstruction + λ · adversarial` (just `reconstruction` when there is no adversarial term). */
export function autoencoderObjective(reconstruction: tf.Scalar, adversarial: tf.Scalar | null, lambda: number): tf.Scalar {
  return adversarial === null ? reconstruction : tf.add(reconstruction, tf.mul(lambda, adversarial));
}
