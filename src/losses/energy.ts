/**
 * The two hinge targets of the energy-based discriminator (paper eqs. 8, 9, 11, 12), each
 * averaged over every energy of a head (all images, and all positions at patch level) and
 * summed over heads (paper §Training: L_D = Σ_s 1/(HˢWˢ) Σ_{h,w} …; the authors'
 * `calculate_loss` accumulates `loss += mean(...)` over the per-layer heads).
 */

import * as tf from '@tensorflow/tfjs-core';
import { checkPositive } from '../validate.js';
import { checkHeads } from './checks.js';

/**
 * "Low" target: Σ_heads mean(E). Minimising it pushes energies towards 0, as for normal
 * features E_{F∼P⁺} D(F) in eqs. 8 / 11 and for reconstructions in eqs. 9 / 12.
 *
 * @param energies - one tensor of energies ≥ 0 per head ([N, h, w, 1] patch level, [N] image level).
 * @throws InvalidArgumentError if the list or a tensor is empty.
 */
export function energyLow(energies: readonly tf.Tensor[]): tf.Scalar {
  checkHeads('energies', energies);
  return tf.tidy(() => {
    const perHead = energies.map((e) => tf.mean(e));
    return tf.addN(perHead) as tf.Scalar;
  });
}

/**
 * "High" target: Σ_heads mean([0, a − E]⁺) = Σ_heads mean(max(0, a − E)). Minimising it pushes
 * energies up to the margin a and no further, as for anomalous and generated features in
 * eqs. 8 / 11.
 *
 * @param energies - one tensor of energies per head.
 * @param margin - the threshold a > 0 (5 in the paper and the code).
 * @throws InvalidArgumentError if the list or a tensor is empty, or the margin is not > 0.
 */
export function energyHigh(energies: readonly tf.Tensor[], margin: number): tf.Scalar {
  checkHeads('energies', energies);
  checkPositive(margin, 'margin');
  return tf.tidy(() => {
    const perHead = energies.map((e) => tf.mean(tf.relu(tf.sub(margin, e))));
    return tf.addN(perHead) as tf.Scalar;
  });
}
