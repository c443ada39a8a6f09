/**
 * Training strategies: the five ways of (not) using labelled anomalies compared in the paper's
 * ablation (Table 3), written as values assembled from the library's blocks rather than as
 * five training loops. One {@link CKAADTrainer} step runs any of them:
 *
 *   1. frozen features F(N), F(A) and reconstructions G(F(N)), G(F(A));
 *   2. if the strategy has an {@link Adversary} and the batch has anomalies: one step of the
 *      discriminator on `adversary.discriminatorLoss` (gradient norm clipped);
 *   3. one step of the auto-encoder on
 *      `strategy.reconstructionObjective + λ · adversary.generatorLoss`.
 *
 * | strategy  | anomalies used by        | discriminator            | D loss        | AE loss                        |
 * |-----------|--------------------------|--------------------------|---------------|--------------------------------|
 * | Recon     | —                        | —                        | —             | L_rec(N)            (eq. 2)    |
 * | ReconSub  | the AE loss              | —                        | —             | L_rec(N) − λ L_rec(A) (eq. 4)  |
 * | GAN       | the AE's inputs only     | GanDiscriminator (image) | log-loss (7)  | L_rec(N) + λ·(−log D(R)) (7)   |
 * | CKAImg    | the discriminator        | ImageEnergyDiscriminator | eq. 8         | L_rec(N) + λ·mean E(R) (eq. 9) |
 * | CKAPatch  | the discriminator        | EnergyDiscriminator      | eq. 11        | L_rec(N) + λ·mean E(R) (eq. 12)|
 *
 * A {@link Strategy} is plain data plus functions, so new ones are built without touching the
 * library: spread a built-in and replace what differs (see `examples/custom-strategy.ts`).
 */

import type * as tf from '@tensorflow/tfjs-core';

import type { Discriminator } from '../discriminator/discriminator.js';
import { EnergyDiscriminator } from '../discriminator/energy-discriminator.js';
import { GanDiscriminator } from '../discriminator/gan-discriminator.js';
import { ImageEnergyDiscriminator } from '../discriminator/image-energy-discriminator.js';
import { energyDiscriminatorLoss } from '../losses/energy-discriminator-loss.js';
import { energyGeneratorLoss } from '../losses/energy-generator-loss.js';
import { ganDiscriminatorLoss } from '../losses/gan-discriminator-loss.js';
import { ganGeneratorLoss } from '../losses/gan-generator-loss.js';
import { reconSubLoss } from '../losses/recon-sub.js';
import type { ReconstructionPair } from '../losses/recon-sub.js';
import { reconstructionLoss } from '../losses/reconstruction.js';

/** The loss weights every strategy function receives (resolved trainer options). */
export interface LossWeights {
  /** γ ∈ (0, 1]: weight of generated vs. anomalous inputs in the discriminator loss. */
  readonly gamma: number;
  /** λ ≥ 0: weight of the adversarial term (and of L_rec(A) in ReconSub). */
  readonly lambda: number;
  /** a > 0: the energy hinge margin. */
  readonly margin: number;
}

/** Shapes of the feature maps a discriminator will see, for building one. */
export interface DiscriminatorContext {
  /** Channels of each feature map, shallow → deep (order of the auto-encoder's layers). */
  readonly channels: readonly number[];
  /** Spatial size (height = width) of each feature map. */
  readonly sizes: readonly number[];
  /** Seed for the discriminator's initial weights (derived from the trainer's seed). */
  readonly seed: number;
}

/** Discriminator outputs (one tensor per head) on the three kinds of input of a step. */
export interface DiscriminatorOutputs {
  /** D(F(N)): normal features. */
  readonly normal: readonly tf.Tensor[];
  /** D(F(A)): labelled anomalous features; empty when `adversary.seesAnomalies` is false. */
  readonly anomalous: readonly tf.Tensor[];
  /** D(R): all reconstructions, G(F(N)) then G(F(A)) along the batch axis. */
  readonly reconstructed: readonly tf.Tensor[];
}

/**
 * The adversarial part of a strategy: which discriminator to build and the two losses of the
 * minimax game. Used only for batches that contain anomalies.
 */
export interface Adversary {
  /** Builds a fresh discriminator for maps of the given shapes. */
  createDiscriminator(context: DiscriminatorContext): Discriminator;
  /**
   * Whether the discriminator is shown the anomalies' own features F(A) (knowledge-aware,
   * CKA*) or only normal features and reconstructions (plain GAN).
   */
  readonly seesAnomalies: boolean;
  /**
   * Loss the discriminator minimises. Its inputs are detached: gradients are taken only with
   * respect to the discriminator's parameters.
   */
  discriminatorLoss(outputs: DiscriminatorOutputs, weights: LossWeights): tf.Scalar;
  /**
   * The adversarial term L_adv of the auto-encoder, from the (already updated)
   * discriminator's outputs on the reconstructions R. The trainer adds λ·L_adv.
   */
  generatorLoss(reconstructed: readonly tf.Tensor[], weights: LossWeights): tf.Scalar;
}

/** A batch's features and reconstructions, as strategy functions receive them. */
export interface ReconstructionTerms {
  /** The normal batch N. */
  readonly normal: ReconstructionPair;
  /** The anomalous batch A, or null when the step has no anomalies. */
  readonly anomalous: ReconstructionPair | null;
}

/**
 * How labelled anomalies are used during training. Build one by spreading a built-in:
 *
 * @example
 * ```ts
 * const strongerPatch: Strategy = { ...CKAPatch, name: 'CKAPatch λ=0.1', defaults: { lambda: 0.1 } };
 * ```
 */
export interface Strategy {
  /** Name recorded in checkpoints, saved models and logs. */
  readonly name: string;
  /**
   * Whether the trainer draws anomaly batches at all. When false (or when there are no
   * anomalies) every step is pure Recon: L_rec(N), no discriminator.
   */
  readonly usesAnomalies: boolean;
  /**
   * The auto-encoder's reconstruction objective (before the adversarial term). Gets the
   * anomalous pair only when the step has anomalies.
   */
  reconstructionObjective(terms: ReconstructionTerms, weights: LossWeights): tf.Scalar;
  /** The adversarial game, or null for strategies without a discriminator. */
  readonly adversary: Adversary | null;
  /**
   * Loss weights this strategy prefers; options passed to the trainer explicitly win, then
   * these, then the trainer's defaults (γ 0.5, λ 0.02, a 5).
   */
  readonly defaults?: Partial<LossWeights>;
}

/** L_rec(N), paper eq. 2: the reconstruction objective of every strategy but ReconSub. */
function normalReconstruction(terms: ReconstructionTerms): tf.Scalar {
  return reconstructionLoss(terms.normal.features, terms.normal.reconstructions);
}

/** Plain feature reconstruction on normal images (paper eq. 2); anomalies are ignored. */
export const Recon: Strategy = {
  name: 'Recon',
  usesAnomalies: false,
  reconstructionObjective: normalReconstruction,
  adversary: null,
};

/**
 * Reconstruct normal images, push anomalous reconstructions away (paper eq. 4):
 * L_rec(N) − λ·L_rec(A), no discriminator.
 */
export const ReconSub: Strategy = {
  name: 'ReconSub',
  usesAnomalies: true,
  reconstructionObjective(terms, weights) {
    if (terms.anomalous === null) return normalReconstruction(terms);
    return reconSubLoss(terms.normal, terms.anomalous, weights.lambda);
  },
  adversary: null,
};

/**
 * The energy game of the knowledge-aware discriminators (eqs. 8/9 and 11/12 as coded) around
 * any discriminator with energy heads: D learns low energy for F(N), high for F(A) and R
 * (`energyDiscriminatorLoss`); the AE lowers the energy of R (`energyGeneratorLoss`). Losses
 * sum over heads, so a discriminator with patch and image heads works as is.
 *
 * @example
 * ```ts
 * const adversary = energyAdversary(({ channels, seed }) => new EnergyDiscriminator({ channels: [...channels], seed }));
 * ```
 */
export function energyAdversary(create: (context: DiscriminatorContext) => Discriminator): Adversary {
  return { createDiscriminator: create, seesAnomalies: true, discriminatorLoss: energyDLoss, generatorLoss: energyGLoss };
}

/** L_D of eqs. 8 / 11 as coded: low(F(N)) + (1 − γ)·high(F(A)) + γ·high(R). */
function energyDLoss(outputs: DiscriminatorOutputs, weights: LossWeights): tf.Scalar {
  return energyDiscriminatorLoss(
    { normal: outputs.normal, anomalous: outputs.anomalous, reconstructed: outputs.reconstructed },
    { gamma: weights.gamma, margin: weights.margin },
  );
}

/** L_adv of eqs. 9 / 12 as coded: the mean energy of the reconstructions. */
function energyGLoss(reconstructed: readonly tf.Tensor[]): tf.Scalar {
  return energyGeneratorLoss(reconstructed);
}

/**
 * Plain GAN regulariser (paper eq. 7): an image-level discriminator separates normal features
 * (real) from reconstructions (fake) with the log-loss; anomalies only enter as inputs of the
 * auto-encoder, whose reconstructions R = G(F(N)) ∪ G(F(A)) are the fakes.
 */
export const GAN: Strategy = {
  name: 'GAN',
  usesAnomalies: true,
  reconstructionObjective: normalReconstruction,
  adversary: {
    createDiscriminator: ({ channels, sizes, seed }) =>
      new GanDiscriminator({ channels: [...channels], sizes: [...sizes], seed }),
    seesAnomalies: false,
    discriminatorLoss: (outputs) => ganDiscriminatorLoss(outputs.normal, outputs.reconstructed),
    generatorLoss: (reconstructed) => ganGeneratorLoss(reconstructed),
  },
};

/** Coarse-knowledge-aware adversarial learning at image level (paper eqs. 8, 9). */
export const CKAImg: Strategy = {
  name: 'CKAImg',
  usesAnomalies: true,
  reconstructionObjective: normalReconstruction,
  adversary: energyAdversary(
    ({ channels, sizes, seed }) => new ImageEnergyDiscriminator({ channels: [...channels], sizes: [...sizes], seed }),
  ),
};

/** Coarse-knowledge-aware adversarial learning at patch level (paper eqs. 11, 12): CKAAD's default. */
export const CKAPatch: Strategy = {
  name: 'CKAPatch',
  usesAnomalies: true,
  reconstructionObjective: normalReconstruction,
  adversary: energyAdversary(({ channels, seed }) => new EnergyDiscriminator({ channels: [...channels], seed })),
};

/** The built-in strategies by name. */
export const STRATEGIES: Readonly<Record<'Recon' | 'ReconSub' | 'GAN' | 'CKAImg' | 'CKAPatch', Strategy>> = {
  Recon,
  ReconSub,
  GAN,
  CKAImg,
  CKAPatch,
};
