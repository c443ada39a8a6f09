/**
 * Options of {@link CKAADTrainer}, their defaults (docs/reference-implementation.md §4, the paper's implementation details)
 * and their validation.
 */

import { InvalidArgumentError } from '../errors.js';
import type { Storage } from '../io/storage.js';
import { platform } from '../platform.js';
import { checkChoice, checkPositive, checkSeed, checkSigma, checkTopK } from '../validate.js';
import { resolveFeatureCacheOptions } from '../features/cache.js';
import type { FeatureCacheOptions, ResolvedFeatureCacheOptions } from '../features/cache.js';
import type { WorkerOption } from '../features/provider.js';
import { ANOMALY_SHUFFLES } from './batches.js';
import type { AnomalyShuffle } from './batches.js';
import { CKAPatch } from './strategies.js';
import type { LossWeights, Strategy } from './strategies.js';

/** Options of {@link CKAADTrainer}. Every field is optional; defaults are listed per field. */
export interface TrainerOptions {
  /** How labelled anomalies are used. Default {@link CKAPatch} (CKAAD itself). */
  strategy?: Strategy;
  /**
   * γ ∈ (0, 1], weight of reconstructions vs. anomalies in the discriminator loss.
   * Default: the strategy's own default, else 0.5.
   */
  gamma?: number;
  /**
   * λ ≥ 0, weight of the adversarial term in the auto-encoder loss (and of L_rec(A) for
   * ReconSub). Default: the strategy's own default, else 0.02.
   */
  lambda?: number;
  /** a > 0, margin of the energy hinge. Default: the strategy's own default, else 5. */
  margin?: number;
  /** Adam learning rate of the auto-encoder. Default 1e-3 (the paper's medical setting; 5e-3 industrial). */
  aeLearningRate?: number;
  /** Adam learning rate of the discriminator. Default 1e-4. */
  dLearningRate?: number;
  /** Normal images per step (the anomaly batch has min(batchSize, #anomalies)). Default 16. */
  batchSize?: number;
  /** Number of epochs (passes over the normal images). Default 10; the paper trains 200. */
  epochs?: number;
  /** Seed of the auto-encoder's and discriminator's initial weights and of the batch order. Default 0. */
  seed?: number;
  /**
   * When the labelled anomalies are reshuffled. `'every-pass'` (default): every pass through
   * them is a new permutation, and passes run on across epochs. `'every-epoch'`: the authors'
   * code — a new permutation when an epoch starts, whose batches then repeat in the same
   * order until the epoch ends (their `itertools.cycle`, rebuilt each epoch; see
   * docs/differences.md).
   */
  anomalyShuffle?: AnomalyShuffle;
  /** Global L2 norm the discriminator's gradients are clipped to (as the authors' code). Default 1. */
  clipNorm?: number;
  /**
   * Where checkpoints go, written after every epoch and when training is aborted: a
   * {@link Storage} (e.g. `memoryStorage()`), or a folder path (Node: ckaad/node's
   * `checkpointFolder(path)`). Default: none (no checkpoints).
   */
  checkpoint?: Storage | string;
  /**
   * Continue from the checkpoint in `checkpoint` if there is one (its options must match
   * these). Default false: an existing checkpoint is overwritten by the new run's.
   */
  resume?: boolean;
  /** Gaussian σ of the anomaly maps used for validation scoring. Default 4. */
  sigma?: number;
  /** Image score used for validation: mean of the top-k map values, or 'mean'. Default 100. */
  topK?: number | 'mean';
  /**
   * Cache of the frozen backbone's features for datasets whose images never change (normal
   * images, real labelled anomalies): each image's features are computed once per run and
   * reused every epoch. Random datasets (elastic anomalies) are always computed afresh.
   * `false` turns the cache off. Default `{}`: float32 (same losses as without the cache),
   * up to 1 GiB in memory, nothing on disk — see {@link FeatureCacheOptions}.
   */
  featureCache?: FeatureCacheOptions | false;
  /**
   * Compute features in a worker thread, on another core, one step ahead of training:
   * reading and synthesising the images (elastic anomalies) and running the backbone.
   * Applies to datasets with a `recipe` (see `ImageDataset.recipe`) and needs
   * `TrainerModel.extractorOptions` and the cpu or wasm backend.
   * - `'auto'` (default): use a worker when all that holds and the machine has two or more
   *   cores (and ckaad runs from its built package, which contains the worker script);
   * - `true`: always; throws InvalidArgumentError naming what is missing otherwise;
   * - `{ file }`: as `true`, with an explicit path to the built `feature-worker.js`;
   * - `false`: never.
   * Elastic anomalies drawn in the worker come from the worker's own generator (seeded
   * alike): a different, equally distributed sequence than without a worker.
   */
  worker?: WorkerOption;
  /**
   * Split every step into up to this many micro-batches and accumulate their gradients
   * before the single Adam update of each network: the step's peak memory falls roughly in
   * proportion (what lets wide_resnet50_2 {1,2,3} train 16 + 16 images per step inside the
   * wasm backend's 4 GiB heap), at the cost of one extra auto-encoder forward pass per step
   * when there is a discriminator. Each micro-batch holds the same share of the normal and of
   * the anomalous images, so the accumulated gradients equal the full batch's (up to float
   * rounding) for losses that are means over the images of each group — true of the five
   * built-in strategies, and required of custom ones that use this option. The count used is
   * the largest divisor of both batch sizes not above this value (so a step of 16 + 6 images
   * uses at most 2). Default 1 (no split).
   */
  microBatches?: number;
}

/** {@link TrainerOptions} with every default filled in. */
export interface ResolvedTrainerOptions extends LossWeights {
  readonly strategy: Strategy;
  readonly aeLearningRate: number;
  readonly dLearningRate: number;
  readonly batchSize: number;
  readonly epochs: number;
  readonly seed: number;
  readonly anomalyShuffle: AnomalyShuffle;
  readonly clipNorm: number;
  readonly checkpoint: Storage | null;
  readonly resume: boolean;
  readonly sigma: number;
  readonly topK: number | 'mean';
  readonly featureCache: ResolvedFeatureCacheOptions | false;
  readonly worker: WorkerOption;
  readonly microBatches: number;
}

/** Defaults of {@link TrainerOptions} (the loss weights only when the strategy has none). */
export const TRAINER_DEFAULTS = {
  gamma: 0.5,
  lambda: 0.02,
  margin: 5,
  aeLearningRate: 1e-3,
  dLearningRate: 1e-4,
  batchSize: 16,
  epochs: 10,
  seed: 0,
  anomalyShuffle: 'every-pass',
  clipNorm: 1,
  sigma: 4,
  topK: 100,
} as const;

function isNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function checkStrategy(strategy: Strategy): void {
  const ok =
    typeof strategy === 'object' &&
    strategy !== null &&
    typeof strategy.name === 'string' &&
    strategy.name.length > 0 &&
    typeof strategy.usesAnomalies === 'boolean' &&
    typeof strategy.reconstructionObjective === 'function' &&
    (strategy.adversary === null ||
      (typeof strategy.adversary === 'object' &&
        typeof strategy.adversary.createDiscriminator === 'function' &&
        typeof strategy.adversary.discriminatorLoss === 'function' &&
        typeof strategy.adversary.generatorLoss === 'function' &&
        typeof strategy.adversary.seesAnomalies === 'boolean'));
  if (!ok) {
    throw new InvalidArgumentError(
      'options.strategy',
      'a Strategy { name, usesAnomalies, reconstructionObjective, adversary } (e.g. CKAPatch)',
    );
  }
}

/** The checkpoint option as a storage: a folder path through the platform (Node), or the storage itself. */
function resolveCheckpoint(value: Storage | string | undefined): Storage | null {
  if (value === undefined) return null;
  if (typeof value === 'string') {
    if (value.length === 0) throw new InvalidArgumentError('options.checkpoint', 'a Storage or a non-empty folder path', "''");
    return platform().checkpointFolder(value);
  }
  const ok = typeof value === 'object' && value !== null && typeof value.read === 'function' && typeof value.write === 'function';
  if (!ok) throw new InvalidArgumentError('options.checkpoint', 'a Storage { location, read, write } or a folder path', String(value));
  return value;
}

/**
 * Fills in defaults and validates every option; throws {@link InvalidArgumentError} naming the
 * first bad one (`options.gamma`, `options.batchSize`, …).
 */
export function resolveTrainerOptions(options: TrainerOptions = {}): ResolvedTrainerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'an options object', String(options));
  }
  const strategy = options.strategy ?? CKAPatch;
  checkStrategy(strategy);
  const own = strategy.defaults ?? {};
  const gamma = options.gamma ?? own.gamma ?? TRAINER_DEFAULTS.gamma;
  const lambda = options.lambda ?? own.lambda ?? TRAINER_DEFAULTS.lambda;
  const margin = options.margin ?? own.margin ?? TRAINER_DEFAULTS.margin;
  const r: ResolvedTrainerOptions = {
    strategy,
    gamma,
    lambda,
    margin,
    aeLearningRate: options.aeLearningRate ?? TRAINER_DEFAULTS.aeLearningRate,
    dLearningRate: options.dLearningRate ?? TRAINER_DEFAULTS.dLearningRate,
    batchSize: options.batchSize ?? TRAINER_DEFAULTS.batchSize,
    epochs: options.epochs ?? TRAINER_DEFAULTS.epochs,
    seed: options.seed ?? TRAINER_DEFAULTS.seed,
    anomalyShuffle: options.anomalyShuffle ?? TRAINER_DEFAULTS.anomalyShuffle,
    clipNorm: options.clipNorm ?? TRAINER_DEFAULTS.clipNorm,
    checkpoint: resolveCheckpoint(options.checkpoint),
    resume: options.resume ?? false,
    sigma: options.sigma ?? TRAINER_DEFAULTS.sigma,
    topK: options.topK ?? TRAINER_DEFAULTS.topK,
    featureCache: resolveFeatureCacheOptions(options.featureCache),
    worker: options.worker ?? 'auto',
    microBatches: options.microBatches ?? 1,
  };
  if (!isNumber(r.gamma) || !(r.gamma > 0 && r.gamma <= 1)) {
    throw new InvalidArgumentError('options.gamma', 'a number in (0, 1]', String(r.gamma));
  }
  if (!isNumber(r.lambda) || r.lambda < 0) {
    throw new InvalidArgumentError('options.lambda', 'a finite number ≥ 0', String(r.lambda));
  }
  if (!isNumber(r.margin) || r.margin <= 0) {
    throw new InvalidArgumentError('options.margin', 'a finite number > 0', String(r.margin));
  }
  for (const key of ['aeLearningRate', 'dLearningRate', 'clipNorm'] as const) checkPositive(r[key], `options.${key}`);
  checkSigma(r.sigma, 'options.sigma');
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1) {
    throw new InvalidArgumentError('options.batchSize', 'an integer ≥ 1', String(r.batchSize));
  }
  if (!Number.isInteger(r.microBatches) || r.microBatches < 1) {
    throw new InvalidArgumentError('options.microBatches', 'an integer ≥ 1', String(r.microBatches));
  }
  if (!Number.isInteger(r.epochs) || r.epochs < 0) {
    throw new InvalidArgumentError('options.epochs', 'an integer ≥ 0', String(r.epochs));
  }
  checkSeed(r.seed, 'options.seed');
  checkChoice(r.anomalyShuffle, ANOMALY_SHUFFLES, 'options.anomalyShuffle');
  checkTopK(r.topK, 'options.topK');
  if (typeof r.resume !== 'boolean') {
    throw new InvalidArgumentError('options.resume', 'a boolean', String(r.resume));
  }
  const w = r.worker;
  const validWorker =
    w === 'auto' || typeof w === 'boolean' || (typeof w === 'object' && w !== null && typeof w.file === 'string' && w.file.length > 0);
  if (!validWorker) {
    throw new InvalidArgumentError('options.worker', "'auto', true, false or { file: path of feature-worker.js }", JSON.stringify(w));
  }
  if (r.resume && r.checkpoint === null) {
    throw new InvalidArgumentError('options.resume', 'to be used together with options.checkpoint', 'resume without a checkpoint storage');
  }
  return r;
}

/**
 * The options that define a run's results, as JSON-serialisable data (for checkpoints and the
 * saved model). `epochs`, `checkpoint` and `resume` are left out: a resumed run may train
 * for more epochs than the original; so are `featureCache` and `worker`, which decide how
 * features are computed, not what they are, and `microBatches`, which changes only the
 * rounding of the gradients. `anomalyShuffle` is recorded only when it is not the default, so
 * that checkpoints and models written before the option existed still match.
 */
export function optionsRecord(r: ResolvedTrainerOptions): Record<string, number | string> {
  return {
    strategy: r.strategy.name,
    gamma: r.gamma,
    lambda: r.lambda,
    margin: r.margin,
    aeLearningRate: r.aeLearningRate,
    dLearningRate: r.dLearningRate,
    batchSize: r.batchSize,
    seed: r.seed,
    clipNorm: r.clipNorm,
    sigma: r.sigma,
    topK: r.topK,
    ...(r.anomalyShuffle === TRAINER_DEFAULTS.anomalyShuffle ? {} : { anomalyShuffle: r.anomalyShuffle }),
  };
}
