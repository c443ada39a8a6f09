/**
 * Discriminator side of the plain GAN used in the ablation (paper eq. 7):
 *
 *   max_D E_{F∼P⁺} log D(F) + E_{F∼P_g} log(1 − D(F)),   D = sigmoid(logit)
 *
 * written as a loss to minimise: mean(−log σ(real)) + mean(−log(1 − σ(fake))) =
 * mean(softplus(−real)) + mean(softplus(fake)), summed over heads. The authors' repository
 * has no GAN code; this is the standard binary cross-entropy form.
 */

import * as tf from '@tensorflow/tfjs-core';
import { checkHeads, checkSameHeads } from './checks.js';

/**
 * GAN discriminator log-loss of paper eq. 7 on raw logits, numerically stable for any logit.
 * Real = normal features, fake = reconstructions; no anomaly knowledge is used.
 *
 * @param realLogits - logits on normal features, one tensor per head.
 * @param fakeLogits - logits on reconstructions, one tensor per head.
 * @throws InvalidArgumentError if a list or tensor is empty.
 * @throws ShapeMismatchError if the head counts or per-head shapes (beyond the batch axis) differ.
 */
export function ganDiscriminatorLoss(realLogits: readonly tf.Tensor[], fakeLogits: readonly tf.Tensor[]): tf.Scalar {
  checkHeads('realLogits', realLogits);
  checkHeads('fakeLogits', fakeLogits);
  checkSameHeads([
    ['realLogits', realLogits],
    ['fakeLogits', fakeLogits],
  ]);
  return tf.tidy(() => {
    const perHead = realLogits.map((real, i) =>
      tf.add(tf.mean(tf.softplus(tf.neg(real))), tf.mean(tf.softplus(fakeLogits[i]))),
    );
    return tf.addN(perHead) as tf.Scalar;
  });
}
