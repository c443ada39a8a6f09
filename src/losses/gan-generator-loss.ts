/**
 * Generator side of the plain GAN ablation (paper eq. 7). The minimax generator would
 * minimise E log(1 − D(G(F))), which saturates when D rejects the reconstructions; as usual
 * (Goodfellow et al. 2014) we use the non-saturating form instead:
 *
 *   L_G = E_{F∼P_g} −log D(F) = mean(softplus(−fake)), summed over heads.
 */

import * as tf from '@tensorflow/tfjs-core';
import { checkHeads } from './checks.js';

/**
 * Non-saturating GAN generator loss of paper eq. 7 on the discriminator's logits for the
 * reconstructions: Σ_heads mean(−log σ(fake)).
 *
 * @param fakeLogits - logits on reconstructions, one tensor per head.
 * @throws InvalidArgumentError if the list or a tensor is empty.
 */
export function ganGeneratorLoss(fakeLogits: readonly tf.Tensor[]): tf.Scalar {
  checkHeads('fakeLogits', fakeLogits);
  return tf.tidy(() => {
    const perHead = fakeLogits.map((fake) => tf.mean(tf.softplus(tf.neg(fake))));
    return tf.addN(perHead) as tf.Scalar;
  });
}
