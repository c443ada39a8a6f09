/**
 * Adversarial loss of the auto-encoder against the energy discriminator: paper eq. 9 (image
 * level) and eq. 12 (patch level) as coded. Of
 *
 *   L_G = γ E_{P_g} D + (1 − γ) E_{P⁻} D − E_{P⁺} D
 *
 * only the first term depends on the auto-encoder (features are frozen); the code drops the
 * others and also the factor γ, so L_adv = low(R) = Σ_heads mean(D(R)). The auto-encoder
 * minimises L⁺_rec + λ·L_adv (eq. 13).
 */

import type * as tf from '@tensorflow/tfjs-core';
import { energyLow } from './energy.js';

/**
 * Generator loss of paper eqs. 9 / 12 as coded: the mean energy of all reconstructions,
 * summed over heads (see {@link energyLow}). Gradients flow into the auto-encoder through
 * the discriminator, whose variables the caller leaves out of this step.
 *
 * @param reconstructed - discriminator energies of the reconstructions R, one tensor per head.
 * @throws InvalidArgumentError if the list or a tensor is empty.
 */
export function energyGeneratorLoss(reconstructed: readonly tf.Tensor[]): tf.Scalar {
  return energyLow(reconstructed);
}
