/**
 * What training reports: per step, per epoch, and at the end. All plain numbers.
 */

import type { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import type { FeatureProviderStats } from '../features/provider.js';

/** Losses of one training step (plain numbers), passed to `onStep`. */
export interface StepLog {
  /** 1-based global step number. */
  step: number;
  /** 1-based epoch the step belongs to. */
  epoch: number;
  /** 0-based index of the step within its epoch. */
  batch: number;
  /** L_rec(N): reconstruction loss of the normal batch (paper eq. 2). */
  lRec: number;
  /** Unweighted adversarial term L_adv of the auto-encoder (0 without a discriminator step). */
  lAdv: number;
  /** Discriminator loss (0 without a discriminator step). */
  lD: number;
  /** Auto-encoder objective that was minimised: reconstruction objective + λ·L_adv. */
  lAe: number;
  /** Global gradient norm of the discriminator before clipping (0 without a discriminator step). */
  dGradNorm: number;
  /** Anomalous images in the step's batch. */
  anomalies: number;
}

/** One epoch's summary: mean losses over its steps, and the validation AUROC if any. */
export interface EpochLog {
  /** 1-based epoch number. */
  epoch: number;
  /** Steps in the epoch. */
  steps: number;
  /** Mean L_rec(N). */
  lRec: number;
  /** Mean unweighted L_adv. */
  lAdv: number;
  /** Mean discriminator loss. */
  lD: number;
  /** Mean auto-encoder objective. */
  lAe: number;
  /** Image AUROC on the validation split after this epoch, or null without one. */
  validationAuroc: number | null;
  /** Wall-clock seconds of the epoch's steps (excluding validation and checkpointing). */
  seconds: number;
}

/** What {@link CKAADTrainer.fit} resolves to. */
export interface TrainingResult {
  /** 'completed' after the last epoch, 'aborted' when the signal stopped training early. */
  status: 'completed' | 'aborted';
  /**
   * The trained auto-encoder (the caller owns and disposes it). With a validation split these
   * are the weights of the best validation epoch; otherwise those after the last step.
   */
  autoencoder: FeatureAutoEncoder;
  /** Per-epoch mean losses and validation AUROC of every completed epoch (including epochs before a resume). */
  history: EpochLog[];
  /** Completed epochs. */
  epochs: number;
  /** Completed steps. */
  steps: number;
  /**
   * The best validation epoch, its AUROC and its best-F1 threshold (images scoring at or above
   * it are called anomalous), or null without a validation split.
   */
  best: { epoch: number; auroc: number; threshold: number } | null;
  /**
   * Where the run's backbone features came from: images computed vs served from the feature
   * cache, the cache's contents, and the feature worker's backend (null without one).
   */
  features?: FeatureProviderStats;
}
