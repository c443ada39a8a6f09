/**
 * CKAADTrainer: trains the feature auto-encoder (and, depending on the strategy, a
 * discriminator) on normal images and a few labelled anomalies (paper §Training, eq. 13).
 *
 * `fit` reads top to bottom: check the data; build the networks, the optimisers and the run
 * state (from the checkpoint when resuming); then the epoch loop — each step takes the frozen
 * features of one normal batch (and one anomaly batch) from the {@link FeatureProvider} and
 * runs {@link trainStep}; after each epoch, validation AUROC (the best epoch's weights are
 * kept), a checkpoint and the callbacks. Without anomalies (no anomaly dataset, or a strategy
 * that uses none) every step is the auto-encoder step on L_rec(N) alone and no discriminator
 * is built.
 *
 * Features come from the run's provider (`features/provider.ts`): computed once per image
 * and cached for datasets that never change, afresh for random ones (elastic anomalies), on
 * the main thread or one step ahead in a feature worker. Every draw carries the step number
 * as its key, from which random datasets derive their randomness: a resumed run, with or
 * without a worker, draws exactly what the uninterrupted run drew. BatchNorm in eval mode and instance
 * norm are per image, so an image's features and reconstruction do not depend on its batch.
 */

import * as tf from '@tensorflow/tfjs-core';

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { ensureBackend } from '../backend/select.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import type { FeatureExtractor, ResNetExtractorOptions } from '../backbone/extractor.js';
import { isRandomDataset } from '../data/image-dataset.js';
import type { ImageDataset, ValidationSet } from '../data/image-dataset.js';
import { InvalidArgumentError } from '../errors.js';
import { createFeatureProvider } from '../features/provider.js';
import type { FeatureProvider } from '../features/provider.js';
import { imageAuroc } from '../metrics/auroc.js';
import { bestF1 } from '../metrics/pr-curve.js';
import { Rng } from '../nn/random.js';
import { Scorer } from '../scoring/scorer.js';
import { createAdam } from './adam.js';
import { AnomalyCycler, epochBatches } from './batches.js';
import { restoreCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { LossSums, RunIdentity, RunState } from './checkpoint.js';
import { checkChannels, checkTrainingData, mapShapes } from './checks.js';
import type { TrainingData } from './checks.js';
import type { EpochLog, StepLog, TrainingResult } from './history.js';
import { optionsRecord, resolveTrainerOptions } from './options.js';
import type { ResolvedTrainerOptions, TrainerOptions } from './options.js';
import { trainStep } from './step.js';
import type { RunModels, StepSettings } from './step.js';

export type { TrainingData };

/** The networks a {@link CKAADTrainer} trains on top of. */
export interface TrainerModel {
  /** Frozen feature extractor (not owned: the trainer never disposes it). */
  extractor: FeatureExtractor;
  /**
   * Backbone of the auto-encoder. Default: the extractor's `arch` (a `ResNetFeatureExtractor`
   * has one); required for other extractors.
   */
  backbone?: ResNetName;
  /** Reconstructed layers. Default: the extractor's `layers`; required for other extractors. */
  layers?: LayerName[];
  /**
   * The `createResNetExtractor` options `extractor` was built with (weights as a path,
   * bytes or `'random'`): lets a feature worker rebuild the same extractor
   * (`TrainerOptions.worker`). Optional; without it features are computed on the main thread.
   */
  extractorOptions?: ResNetExtractorOptions;
}

/** Progress callbacks and cancellation for {@link CKAADTrainer.fit}. */
export interface FitCallbacks {
  /** Called after every step with its losses (awaited). */
  onStep?: (log: StepLog) => void | Promise<void>;
  /**
   * Called after every epoch (after validation and checkpointing) with its summary and the
   * live auto-encoder, holding this epoch's weights (read it, e.g. to evaluate or snapshot;
   * do not dispose it). Awaited.
   */
  onEpoch?: (log: EpochLog, autoencoder: FeatureAutoEncoder) => void | Promise<void>;
  /**
   * Stops training between two steps: the state is checkpointed (if `checkpoint` is set),
   * everything is released, and `fit` resolves with `status: 'aborted'`.
   */
  signal?: AbortSignal;
}

function zeroSums(): LossSums {
  return { steps: 0, lRec: 0, lAdv: 0, lD: 0, lAe: 0 };
}

function hasArchitecture(e: FeatureExtractor): e is FeatureExtractor & { arch: ResNetName; layers: readonly LayerName[] } {
  const candidate = e as Partial<{ arch: unknown; layers: unknown }>;
  return typeof candidate.arch === 'string' && Array.isArray(candidate.layers);
}

/**
 * Trains CKAAD's feature auto-encoder with any {@link Strategy} (default CKAPatch).
 *
 * @example
 * ```ts
 * const extractor = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'resnet18.safetensors' });
 * const trainer = new CKAADTrainer({ extractor }, { epochs: 200, batchSize: 64, checkpoint: 'ckpt', resume: true });
 * const result = await trainer.fit(
 *   { normal: tensorDataset(normalImages), anomalies: tensorDataset(anomalyImages), validation: { images: tensorDataset(valImages), labels } },
 *   { onEpoch: (e) => console.log(e.epoch, e.lRec, e.validationAuroc) },
 * );
 * const scorer = new Scorer({ extractor, autoencoder: result.autoencoder });
 * ```
 */
export class CKAADTrainer {
  /** The resolved options (defaults filled in). */
  readonly options: ResolvedTrainerOptions;
  /** The auto-encoder's backbone. */
  readonly backbone: ResNetName;
  /** The reconstructed layers, shallow → deep. */
  readonly layers: LayerName[];
  private readonly extractor: FeatureExtractor;
  private readonly extractorOptions: ResNetExtractorOptions | null;

  /**
   * @param model The frozen extractor and the auto-encoder's architecture.
   * @param options Hyper-parameters; see {@link TrainerOptions} for defaults.
   * @throws InvalidArgumentError naming the first invalid option.
   */
  constructor(model: TrainerModel, options: TrainerOptions = {}) {
    if (typeof model !== 'object' || model === null || typeof model.extractor?.extract !== 'function') {
      throw new InvalidArgumentError('model.extractor', 'a FeatureExtractor');
    }
    this.options = resolveTrainerOptions(options);
    const { extractor } = model;
    const backbone = model.backbone ?? (hasArchitecture(extractor) ? extractor.arch : undefined);
    const layers = model.layers ?? (hasArchitecture(extractor) ? [...extractor.layers] : undefined);
    if (backbone === undefined) throw new InvalidArgumentError('model.backbone', 'a ResNet name (the extractor has no `arch`)');
    if (layers === undefined) throw new InvalidArgumentError('model.layers', 'the reconstructed layers (the extractor has no `layers`)');
    this.extractor = extractor;
    this.extractorOptions = model.extractorOptions ?? null;
    this.backbone = backbone;
    this.layers = [...layers];
  }

  /**
   * Trains for `options.epochs` epochs (or the remaining ones when resuming).
   *
   * @returns the trained auto-encoder (owned by the caller) and the training history.
   * @throws InvalidArgumentError / ShapeMismatchError for unusable data (too few normal images,
   *   images smaller than the layers allow, mismatched image sizes, bad validation labels, a
   *   top-k larger than the image) or a checkpoint whose options differ from these;
   *   FileFormatError for unreadable checkpoints.
   */
  async fit(data: TrainingData, callbacks: FitCallbacks = {}): Promise<TrainingResult> {
    const o = this.options;
    await ensureBackend();
    const imageSize = checkTrainingData(data, this.layers, o.batchSize, o.topK);
    const useAnomalies = o.strategy.usesAnomalies && data.anomalies !== undefined && data.anomalies.size > 0;
    const anomalies = useAnomalies ? (data.anomalies as ImageDataset) : null;
    const adversary = useAnomalies ? o.strategy.adversary : null;
    const settings: StepSettings = { strategy: o.strategy, weights: { gamma: o.gamma, lambda: o.lambda, margin: o.margin }, clipNorm: o.clipNorm, microBatches: o.microBatches };

    // Seeds: the auto-encoder uses `seed` itself (same weights as `new FeatureAutoEncoder({ seed })`);
    // the discriminator's seed and the two batch-order streams are drawn from Rng(seed).
    const streams = new Rng(o.seed);
    const discriminatorSeed = streams.int(2 ** 31);
    const dataRng = streams.fork();
    const anomalyRng = streams.fork();

    const models: RunModels = {
      autoencoder: new FeatureAutoEncoder({ backbone: this.backbone, layers: [...this.layers], seed: o.seed }),
      adversary,
      discriminator: null,
      aeOptimizer: createAdam(o.aeLearningRate),
      dOptimizer: null,
    };
    const state: RunState = {
      epoch: 0,
      batchInEpoch: 0,
      step: 0,
      epochRng: dataRng.state(),
      anomalies: anomalies === null ? null : new AnomalyCycler(anomalies.size, o.batchSize, anomalyRng, o.anomalyShuffle),
      partial: zeroSums(),
      partialSeconds: 0,
      history: [],
      best: null,
    };
    const identity: RunIdentity = {
      options: optionsRecord(o),
      model: { backbone: this.backbone, layers: [...this.layers], imageSize },
      data: { normal: data.normal.size, anomalies: data.anomalies?.size ?? 0 },
    };
    let finished = false;
    let provider: FeatureProvider | null = null;
    try {
      checkChannels(models.autoencoder, this.extractor);
      const shapes = mapShapes(this.extractor, data.normal);
      if (adversary !== null) {
        models.discriminator = adversary.createDiscriminator({ channels: shapes.map((m) => m[2]), sizes: shapes.map((m) => m[0]), seed: discriminatorSeed });
        models.dOptimizer = createAdam(o.dLearningRate);
      }
      if (o.resume && o.checkpoint !== null) await restoreCheckpoint(o.checkpoint, identity, state, models);
      const save = async () => {
        if (o.checkpoint !== null) await saveCheckpoint(o.checkpoint, identity, state, models);
      };
      // Decided the same way whatever the cache settings, so random datasets draw the same stream.
      const random = { normal: isRandomDataset(data.normal), anomalies: anomalies !== null && isRandomDataset(anomalies) };
      provider = await createFeatureProvider({
        extractor: this.extractor,
        normal: data.normal,
        anomalies,
        imageSize,
        mapShapes: shapes,
        cache: o.featureCache,
        worker: o.worker,
        extractorOptions: this.extractorOptions,
        random,
      });

      let status: TrainingResult['status'] = 'completed';
      training: while (state.epoch < o.epochs) {
        // The epoch's batches come from the generator state at its start, so a run resumed in
        // the middle of an epoch regenerates the same batches and skips the ones already done.
        const epochRng = Rng.fromState(state.epochRng);
        const batches = epochBatches(data.normal.size, o.batchSize, epochRng);
        let started = performance.now();
        for (let b = state.batchInEpoch; b < batches.length; b++) {
          if (callbacks.signal?.aborted) {
            state.partialSeconds += (performance.now() - started) / 1000;
            await save();
            status = 'aborted';
            break training;
          }
          const anomalyIndices = state.anomalies?.next(b === 0) ?? null;
          // The step number is the draw key: random datasets (elastic anomalies) draw the
          // same images for it on any thread and after a resume.
          const features = await provider.batch(batches[b], anomalyIndices, state.step);
          // While this step trains, a feature worker (if any) computes the next step's features.
          const upcoming = nextStep(state, b, batches, epochRng, data.normal.size, o);
          if (upcoming !== null) provider.prefetch(upcoming.normal, upcoming.anomalies, state.step + 1);
          const values = await trainStep(models, features.normal, features.anomalies, settings);
          state.step += 1;
          state.batchInEpoch = b + 1;
          const p = state.partial;
          p.steps += 1;
          p.lRec += values.lRec;
          p.lAdv += values.lAdv;
          p.lD += values.lD;
          p.lAe += values.lAe;
          if (callbacks.onStep) {
            const pause = performance.now();
            await callbacks.onStep({ step: state.step, epoch: state.epoch + 1, batch: b, ...values, anomalies: anomalyIndices?.length ?? 0 });
            started += performance.now() - pause;
          }
        }
        const p = state.partial;
        const log: EpochLog = {
          epoch: state.epoch + 1,
          steps: p.steps,
          lRec: p.lRec / p.steps,
          lAdv: p.lAdv / p.steps,
          lD: p.lD / p.steps,
          lAe: p.lAe / p.steps,
          validationAuroc: null,
          seconds: state.partialSeconds + (performance.now() - started) / 1000,
        };
        if (data.validation !== undefined) {
          const { auroc, threshold } = await validate(this.extractor, models.autoencoder, data.validation, o);
          log.validationAuroc = auroc;
          if (state.best === null || auroc > state.best.auroc) {
            if (state.best !== null) tf.dispose([...state.best.weights.values()]);
            const weights = new Map([...models.autoencoder.parameters()].map(([name, v]) => [name, tf.clone(v)]));
            state.best = { epoch: log.epoch, auroc, threshold, weights };
          }
        }
        state.history.push(log);
        state.epoch += 1;
        state.batchInEpoch = 0;
        state.epochRng = epochRng.state();
        state.partial = zeroSums();
        state.partialSeconds = 0;
        await save();
        if (callbacks.onEpoch) await callbacks.onEpoch(log, models.autoencoder);
      }

      if (state.best !== null) {
        for (const [name, v] of models.autoencoder.parameters()) v.assign(state.best.weights.get(name) as tf.Tensor);
      }
      finished = true;
      return {
        status,
        autoencoder: models.autoencoder,
        history: state.history,
        epochs: state.epoch,
        steps: state.step,
        best: state.best === null ? null : { epoch: state.best.epoch, auroc: state.best.auroc, threshold: state.best.threshold },
        features: provider.stats(),
      };
    } finally {
      await provider?.dispose();
      models.discriminator?.dispose();
      models.aeOptimizer.dispose();
      models.dOptimizer?.dispose();
      if (state.best !== null) tf.dispose([...state.best.weights.values()]);
      if (!finished) models.autoencoder.dispose();
    }
  }
}

/**
 * The indices of the step after batch `b` of the current epoch (the first batch of the next
 * epoch after the last one), computed from copies of the generators' states; null after the
 * last step of the run.
 */
function nextStep(
  state: RunState,
  b: number,
  batches: number[][],
  epochRng: Rng,
  normalSize: number,
  o: ResolvedTrainerOptions,
): { normal: number[]; anomalies: number[] | null } | null {
  let normal: number[] | undefined = batches[b + 1];
  if (normal === undefined) {
    if (state.epoch + 1 >= o.epochs) return null;
    // The next epoch shuffles with the generator as this epoch's shuffle left it.
    normal = epochBatches(normalSize, o.batchSize, Rng.fromState(epochRng.state()))[0];
  }
  const anomalies = state.anomalies?.copy().next(batches[b + 1] === undefined) ?? null;
  return normal === undefined ? null : { normal, anomalies };
}

/**
 * The auto-encoder on the validation split, scored as at test time: image AUROC, and the
 * best-F1 threshold (the score at or above which an image is called anomalous).
 */
async function validate(
  extractor: FeatureExtractor,
  autoencoder: FeatureAutoEncoder,
  validation: ValidationSet,
  o: ResolvedTrainerOptions,
): Promise<{ auroc: number; threshold: number }> {
  const scorer = new Scorer({ extractor, autoencoder, sigma: o.sigma, topK: o.topK, keepMaps: false });
  const { size } = validation.images;
  function* batches(): Generator<tf.Tensor4D> {
    for (let start = 0; start < size; start += o.batchSize) {
      const indices = Array.from({ length: Math.min(o.batchSize, size - start) }, (_, i) => start + i);
      const batch = validation.images.batch(indices);
      try {
        yield batch;
      } finally {
        batch.dispose();
      }
    }
  }
  const { scores } = await scorer.score(batches());
  return { auroc: imageAuroc(validation.labels, scores), threshold: bestF1(validation.labels, scores).threshold };
}
