/**
 * Loss of the knowledge-aware energy discriminator: paper eq. 8 (image level) and eq. 11
 * (patch level), in the form the authors' code computes (docs/reference-implementation.md §4):
 *
 *   L_D = low(F(N)) + (1 − γ) · high(F(A)) + γ · high(R)
 *
 * with low(E) = Σ_heads mean(E), high(E) = Σ_heads mean(max(0, a − E)), N the normal batch,
 * A the labelled anomalous batch and R = G(F(N)) ∪ G(F(A)) all reconstructions. At patch
 * level every position of an anomalous image counts as anomalous (P_m of eq. 10).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { checkHeads, checkSameHeads } from './checks.js';
import { checkPositive } from '../validate.js';
import { energyHigh, energyLow } from './energy.js';

/** Energies given by the discriminator to the three kinds of input, one tensor per head. */
export interface DiscriminatorEnergies {
  /** Energies of normal features F(N). */
  normal: readonly tf.Tensor[];
  /** Energies of labelled anomalous features F(A). */
  anomalous: readonly tf.Tensor[];
  /** Energies of the reconstructions R of both batches (concatenated along the batch axis). */
  reconstructed: readonly tf.Tensor[];
}

/** Hyper-parameters of {@link energyDiscriminatorLoss}. */
export interface EnergyLossOptions {
  /** Balance γ ∈ (0, 1] between generated (γ) and anomalous (1 − γ) inputs. Default 0.5. */
  gamma?: number;
  /** Hinge margin a > 0. Default 5. */
  margin?: number;
}

/**
 * Energy discriminator loss of paper eqs. 8 / 11 as coded:
 * `low(normal) + (1 − γ)·high(anomalous, a) + γ·high(reconstructed, a)`.
 *
 * Only the discriminator is trained on it: the caller takes gradients with respect to the
 * discriminator's variables (the code detaches every input). Always ≥ 0 for energies ≥ 0;
 * over discriminators D ≥ 0 its minimum is a · Σ_x min(P⁺(x), γ·P_g(x) + (1 − γ)·P⁻(x))
 * (= a − (a/2)·‖P⁺ − P'_m‖₁, the paper's eq. 22).
 *
 * @example
 * ```ts
 * const loss = energyDiscriminatorLoss(
 *   { normal: d.forward(fN), anomalous: d.forward(fA), reconstructed: d.forward(r) },
 *   { gamma: 0.5, margin: 5 },
 * );
 * ```
 * @throws InvalidArgumentError if γ ∉ (0, 1], a ≤ 0, or a list or tensor is empty.
 * @throws ShapeMismatchError if the three lists have different head counts, or a head's
 *   energies differ in shape apart from the batch axis.
 */
export function energyDiscriminatorLoss(energies: DiscriminatorEnergies, options: EnergyLossOptions = {}): tf.Scalar {
  const gamma = options.gamma ?? 0.5;
  const margin = options.margin ?? 5;
  if (typeof gamma !== 'number' || !(gamma > 0 && gamma <= 1)) {
    throw new InvalidArgumentError('options.gamma', 'a number in (0, 1]', String(gamma));
  }
  checkPositive(margin, 'options.margin');
  checkHeads('energies.normal', energies.normal);
  checkHeads('energies.anomalous', energies.anomalous);
  checkHeads('energies.reconstructed', energies.reconstructed);
  checkSameHeads([
    ['energies.normal', energies.normal],
    ['energies.anomalous', energies.anomalous],
    ['energies.reconstructed', energies.reconstructed],
  ]);
  return tf.tidy(() => {
    const normal = energyLow(energies.normal);
    const anomalous = tf.mul(1 - gamma, energyHigh(energies.anomalous, margin));
    const generated = tf.mul(gamma, energyHigh(energies.reconstructed, margin));
    return tf.addN([normal, anomalous, generated]) as tf.Scalar;
  });
}
