/**
 * CKAADTrainer: trains the feature auto-encoder (and, depending on the strategy, a
 * discriminator) on normal images and a few labelled anomalies (paper §Training, eq. 13;
 * SPEC §4).
 *
 * One step, for a normal batch N and an anomaly batch A:
 *
 *   F(N), F(A)            frozen backbone features from the run's FeatureProvider (features.ts):
 *                         computed once per image and cached for datasets that never change,
 *                         afresh for random ones (elastic anomalies), on the main thread or one
 *                         step ahead in a worker thread; BatchNorm in eval mode is per image, so
 *                         an image's features do not depend on how images are batched
 *   R = G(F(N) ∪ F(A))    reconstructions (instance norm is per image too)
 *   discriminator step    L_D(D(F(N)), D(F(A)), D(R)) → gradients w.r.t. D's parameters only
 *                         (the inputs are thereby detached), global-norm clipping to 1.0,
 *                         one Adam step
 *   auto-encoder step     strategy objective (L_rec(N) for CKAAD) + λ · L_adv(D(R)) with the
 *                         updated D → gradients w.r.t. the auto-encoder's parameters, one Adam step
 *
 * The discriminator step runs inside the auto-encoder's gradient function, after R is
 * computed, so R is computed once per step as in the authors' code (a separate forward pass
 * for the discriminator would cost a third more auto-encoder compute). It runs off the
 * auto-encoder's gradient tape ({@link untaped}): R enters it detached, and none of its
 * operations or saved tensors burden the auto-encoder's backward pass. Both gradient passes
 * use {@link leanVariableGrads}, which frees what backpropagation no longer needs as it goes
 * (the paper's 16 + 16 images at 256×256 would not fit a 4 GB wasm heap otherwise).
 *
 * Without anomalies (no anomaly dataset, or a strategy that uses none) every step is the
 * auto-encoder step on L_rec(N) alone, and no discriminator is built.
 */

import * as tf from '@tensorflow/tfjs-core';

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { ensureBackend } from '../backend/select.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import type { FeatureExtractor, ResNetExtractorOptions } from '../backbone/extractor.js';
import type { Discriminator } from '../discriminator/discriminator.js';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import { imageAuroc } from '../metrics/auroc.js';
import { Rng } from '../nn/random.js';
import { Scorer } from '../scoring/scorer.js';
import { adamShapes, adamState, applyInOrder, createAdam, restoreAdam } from './adam.js';
import type { AdamScalars } from './adam.js';
import { AnomalyCycler, epochBatches } from './batches.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import type { CheckpointFile, CheckpointState, LossSums } from './checkpoint.js';
import { clipByGlobalNorm } from './clip.js';
import { isRandomDataset, probeImageSize, probeImageSizeIfAny } from '../data/image-dataset.js';
import type { ImageDataset, ValidationSet } from '../data/image-dataset.js';
import type { EpochLog, StepLog, TrainingResult } from './history.js';
import { optionsRecord, resolveTrainerOptions } from './options.js';
import type { ResolvedTrainerOptions, TrainerOptions } from './options.js';
import type { Adversary, LossWeights } from './strategies.js';
import type { MapShape } from '../features/cache.js';
import { createFeatureProvider } from '../features/provider.js';
import type { FeatureProvider } from '../features/provider.js';
import { leanVariableGrads, untaped } from './lean-gradients.js';
import { loadParameters, loadTensors, parameterShapes } from '../io/state-dict.js';

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
   * bytes or `'random'`): lets a feature worker thread rebuild the same extractor
   * (`TrainerOptions.worker`). Optional; without it features are computed on the main thread.
   */
  extractorOptions?: ResNetExtractorOptions;
}

/** The data of one training run. */
export interface TrainingData {
  /** Normal training images. Needs at least `batchSize` images (incomplete batches are dropped). */
  normal: ImageDataset;
  /** Labelled anomalous training images (image labels only). Optional: without them, pure Recon. */
  anomalies?: ImageDataset;
  /** Held-out labelled split for model selection by image AUROC (never the test set). */
  validation?: ValidationSet;
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
   * Stops training between two steps: the state is checkpointed (if `checkpointDir` is set),
   * everything is released, and `fit` resolves with `status: 'aborted'`.
   */
  signal?: AbortSignal;
}

/** Numbers read back from one step. */
interface StepValues {
  lRec: number;
  lAdv: number;
  lD: number;
  lAe: number;
  dGradNorm: number;
}

/** The mutable state of a run (what a checkpoint stores). */
interface RunState {
  epoch: number;
  batchInEpoch: number;
  step: number;
  epochRng: number[];
  anomalies: AnomalyCycler | null;
  partial: LossSums;
  partialSeconds: number;
  history: EpochLog[];
  best: { epoch: number; auroc: number; weights: Map<string, tf.Tensor> } | null;
}

/** Images `[start, end)` of a batch (to the end by default). */
function batchSlice(x: tf.Tensor4D, start: number, end = x.shape[0]): tf.Tensor4D {
  return tf.slice(x, [start, 0, 0, 0], [end - start, -1, -1, -1]);
}

/** The networks and optimizers one training step updates. */
interface StepModels {
  autoencoder: FeatureAutoEncoder;
  adversary: Adversary | null;
  discriminator: Discriminator | null;
  aeOptimizer: tf.AdamOptimizer;
  dOptimizer: tf.AdamOptimizer | null;
}

/**
 * Number of micro-batches a step of `normal` + `anomalous` images is split into: the largest
 * k ≤ `wanted` that divides both counts, so that every micro-batch holds the same share of
 * each group (1 when no such k > 1 exists).
 */
export function microBatchCount(normal: number, anomalous: number, wanted: number): number {
  for (let k = Math.min(wanted, normal); k > 1; k--) {
    if (normal % k === 0 && anomalous % k === 0) return k;
  }
  return 1;
}

/** Adds `grads` (by variable name) into `sums` in place, disposing what it replaces; `grads` is left to the caller. */
function accumulate(sums: (tf.Tensor | null)[], variables: readonly tf.Variable[], grads: Record<string, tf.Tensor>): void {
  variables.forEach((v, j) => {
    const g = grads[v.name];
    if (g === undefined) return;
    const previous = sums[j];
    sums[j] = previous === null ? tf.clone(g) : tf.add(previous, g);
    previous?.dispose();
  });
}

/** `sums` divided by `k` (new tensors; nulls stay null). */
function averaged(sums: readonly (tf.Tensor | null)[], k: number): (tf.Tensor | null)[] {
  return sums.map((g) => (g === null ? null : tf.div(g, k)));
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
 * const trainer = new CKAADTrainer({ extractor }, { epochs: 200, batchSize: 64, checkpointDir: 'ckpt', resume: true });
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
  private readonly weights: LossWeights;

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
    const { gamma, lambda, margin } = this.options;
    this.weights = { gamma, lambda, margin };
  }

  /**
   * Trains for `options.epochs` epochs (or the remaining ones when resuming).
   *
   * @returns the trained auto-encoder (owned by the caller) and the training history.
   * @throws InvalidArgumentError / ShapeMismatchError for unusable data (too few normal images,
   *   images smaller than the layers allow, mismatched image sizes, bad validation labels) or a
   *   checkpoint whose options differ from these; FileFormatError for unreadable checkpoints.
   */
  async fit(data: TrainingData, callbacks: FitCallbacks = {}): Promise<TrainingResult> {
    const o = this.options;
    await ensureBackend();
    const imageSize = this.checkData(data);
    const useAnomalies = o.strategy.usesAnomalies && data.anomalies !== undefined && data.anomalies.size > 0;
    const adversary = useAnomalies ? o.strategy.adversary : null;

    // Seeds: the auto-encoder uses `seed` itself (same weights as `new FeatureAutoEncoder({ seed })`);
    // the discriminator's seed and the two batch-order streams are drawn from Rng(seed).
    const streams = new Rng(o.seed);
    const discriminatorSeed = streams.int(2 ** 31);
    const dataRng = streams.fork();
    const anomalyRng = streams.fork();

    const autoencoder = new FeatureAutoEncoder({ backbone: this.backbone, layers: [...this.layers], seed: o.seed });
    let discriminator: Discriminator | null = null;
    const aeOptimizer = createAdam(o.aeLearningRate);
    let dOptimizer: tf.AdamOptimizer | null = null;
    const state: RunState = {
      epoch: 0,
      batchInEpoch: 0,
      step: 0,
      epochRng: dataRng.state(),
      anomalies: useAnomalies ? new AnomalyCycler((data.anomalies as ImageDataset).size, o.batchSize, anomalyRng) : null,
      partial: zeroSums(),
      partialSeconds: 0,
      history: [],
      best: null,
    };
    let finished = false;
    let provider: FeatureProvider | null = null;
    try {
      this.checkAutoencoderChannels(autoencoder);
      const shapes = this.mapShapes(data.normal);
      if (adversary !== null) {
        discriminator = adversary.createDiscriminator({
          channels: shapes.map((m) => m[2]),
          sizes: shapes.map((m) => m[0]),
          seed: discriminatorSeed,
        });
        dOptimizer = createAdam(o.dLearningRate);
      }
      if (o.resume) {
        await this.restore(state, imageSize, autoencoder, discriminator, aeOptimizer, dOptimizer, data);
      }
      // Decided the same way whatever the cache settings, so random datasets draw the same stream.
      const random = {
        normal: isRandomDataset(data.normal),
        anomalies: useAnomalies && isRandomDataset(data.anomalies as ImageDataset),
      };
      provider = await createFeatureProvider({
        extractor: this.extractor,
        normal: data.normal,
        anomalies: useAnomalies ? (data.anomalies as ImageDataset) : null,
        imageSize,
        mapShapes: shapes,
        cache: o.featureCache,
        worker: o.worker,
        extractorOptions: this.extractorOptions,
        random,
      });
      const status = await this.loop(data, callbacks, state, provider, autoencoder, adversary, discriminator, aeOptimizer, dOptimizer);
      if (state.best !== null) {
        for (const [name, v] of autoencoder.parameters()) v.assign(state.best.weights.get(name) as tf.Tensor);
      }
      finished = true;
      return {
        status,
        autoencoder,
        history: state.history,
        epochs: state.epoch,
        steps: state.step,
        best: state.best === null ? null : { epoch: state.best.epoch, auroc: state.best.auroc },
        features: provider.stats(),
      };
    } finally {
      await provider?.dispose();
      discriminator?.dispose();
      aeOptimizer.dispose();
      dOptimizer?.dispose();
      if (state.best !== null) tf.dispose([...state.best.weights.values()]);
      if (!finished) autoencoder.dispose();
    }
  }

  // ---------------------------------------------------------------------------------------
  // the epoch loop

  private async loop(
    data: TrainingData,
    callbacks: FitCallbacks,
    state: RunState,
    provider: FeatureProvider,
    autoencoder: FeatureAutoEncoder,
    adversary: Adversary | null,
    discriminator: Discriminator | null,
    aeOptimizer: tf.AdamOptimizer,
    dOptimizer: tf.AdamOptimizer | null,
  ): Promise<'completed' | 'aborted'> {
    const o = this.options;
    const imageSize = provider.imageSize;
    const counts = { normal: data.normal.size, anomalies: data.anomalies?.size ?? 0 };
    const save = () => this.save(state, imageSize, counts, autoencoder, discriminator, aeOptimizer, dOptimizer);
    while (state.epoch < o.epochs) {
      // The epoch's batches come from the generator state at its start, so a run resumed in
      // the middle of an epoch regenerates the same batches and skips the ones already done.
      const epochRng = Rng.fromState(state.epochRng);
      const batches = epochBatches(data.normal.size, o.batchSize, epochRng);
      let started = performance.now();
      for (let b = state.batchInEpoch; b < batches.length; b++) {
        if (callbacks.signal?.aborted) {
          state.partialSeconds += (performance.now() - started) / 1000;
          if (o.checkpointDir !== null) await save();
          return 'aborted';
        }
        const anomalyIndices = state.anomalies?.next() ?? null;
        const features = await provider.batch(batches[b], anomalyIndices);
        // While this step trains, a feature worker (if any) computes the next step's features.
        const upcoming = this.peekNext(state, b, batches, epochRng, data.normal.size);
        if (upcoming !== null) provider.prefetch(upcoming.normal, upcoming.anomalies);
        const values = await this.step(features.normal, features.anomalies, { autoencoder, adversary, discriminator, aeOptimizer, dOptimizer });
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
          await callbacks.onStep({
            step: state.step,
            epoch: state.epoch + 1,
            batch: b,
            ...values,
            anomalies: anomalyIndices?.length ?? 0,
          });
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
        log.validationAuroc = await this.validate(autoencoder, data.validation);
        if (state.best === null || log.validationAuroc > state.best.auroc) {
          if (state.best !== null) tf.dispose([...state.best.weights.values()]);
          const weights = new Map([...autoencoder.parameters()].map(([name, v]) => [name, tf.clone(v)]));
          state.best = { epoch: log.epoch, auroc: log.validationAuroc, weights };
        }
      }
      state.history.push(log);
      state.epoch += 1;
      state.batchInEpoch = 0;
      state.epochRng = epochRng.state();
      state.partial = zeroSums();
      state.partialSeconds = 0;
      if (o.checkpointDir !== null) await save();
      if (callbacks.onEpoch) await callbacks.onEpoch(log, autoencoder);
    }
    return 'completed';
  }

  // ---------------------------------------------------------------------------------------
  // one training step (SPEC §4)

  /**
   * The indices of the step after batch `b` of the current epoch (the first batch of the next
   * epoch after the last one), computed from copies of the generators' states; null after the
   * last step of the run.
   */
  private peekNext(
    state: RunState,
    b: number,
    batches: number[][],
    epochRng: Rng,
    normalSize: number,
  ): { normal: number[]; anomalies: number[] | null } | null {
    let normal: number[] | undefined = batches[b + 1];
    if (normal === undefined) {
      if (state.epoch + 1 >= this.options.epochs) return null;
      // The next epoch shuffles with the generator as this epoch's shuffle left it.
      normal = epochBatches(normalSize, this.options.batchSize, Rng.fromState(epochRng.state()))[0];
    }
    const cycler = state.anomalies;
    const anomalies = cycler === null ? null : AnomalyCycler.fromState(cycler.size, this.options.batchSize, cycler.state()).next();
    return normal === undefined ? null : { normal, anomalies };
  }

  /**
   * One training step on the features of a normal batch (and of an anomaly batch); takes
   * ownership of the feature tensors.
   */
  private async step(
    fN: tf.Tensor4D[],
    fA: tf.Tensor4D[] | null,
    models: StepModels,
  ): Promise<StepValues> {
    const { autoencoder, adversary, discriminator, aeOptimizer, dOptimizer } = models;
    const n = fN[0].shape[0];
    const parts = microBatchCount(n, fA === null ? 0 : fA[0].shape[0], this.options.microBatches);
    if (parts > 1) return this.microBatchStep(parts, fN, fA, models);

    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(t);
      return tf.keep(t);
    };
    let lRec: tf.Scalar | null = null;
    let lAdv: tf.Scalar | null = null;
    let lD: tf.Scalar | null = null;
    let dNorm: tf.Scalar | null = null;
    try {
      const aeParameters = autoencoder.parameters();
      const aeVariables = [...aeParameters.values()];
      const { value: lAe, grads } = leanVariableGrads(() => {
        const { objective, lRec: rec, lAdv: adv } = this.autoencoderObjective(fN, fA, autoencoder, adversary, discriminator, (recon) => {
          if (dOptimizer === null || fA === null || adversary === null || discriminator === null) return;
          // Off the auto-encoder's tape: R enters the discriminator step detached.
          [lD, dNorm] = untaped(() => this.discriminatorStep(fN, fA, recon, adversary, discriminator, dOptimizer)).map(keep);
        });
        lRec = keep(rec);
        lAdv = adv === null ? null : keep(adv);
        return objective;
      }, aeVariables);
      kept.push(lAe);
      applyInOrder(
        aeOptimizer,
        aeParameters,
        aeVariables.map((v) => grads[v.name] ?? null),
      );
      tf.dispose(Object.values(grads));
      const read = async (t: tf.Tensor | null) => (t === null ? 0 : (await t.data())[0]);
      return {
        lRec: await read(lRec),
        lAdv: await read(lAdv),
        lD: await read(lD),
        lAe: await read(lAe),
        dGradNorm: await read(dNorm),
      };
    } finally {
      tf.dispose(kept);
      tf.dispose(fN);
      if (fA !== null) tf.dispose(fA);
    }
  }

  /**
   * The auto-encoder's objective on one batch (call it under the auto-encoder's tape):
   * R = G(F(N)) ∪ G(F(A)) (paper eq. 1), L_rec (eq. 2), the strategy's reconstruction
   * objective and, when there is a discriminator and anomalies, λ·L_adv with the discriminator
   * as it is after `beforeAdversarial(R)` (the full step updates it there, as the authors' code;
   * paper eqs. 9 / 12 / 7).
   */
  private autoencoderObjective(
    fN: tf.Tensor4D[],
    fA: tf.Tensor4D[] | null,
    autoencoder: FeatureAutoEncoder,
    adversary: Adversary | null,
    discriminator: Discriminator | null,
    beforeAdversarial: (recon: tf.Tensor4D[]) => void = () => undefined,
  ): { objective: tf.Scalar; lRec: tf.Scalar; lAdv: tf.Scalar | null } {
    const w = this.weights;
    const n = fN[0].shape[0];
    const inputs = fA === null ? fN : fN.map((m, i) => tf.concat([m, fA[i]]));
    const recon = autoencoder.reconstruct(inputs);
    const rN = fA === null ? recon : recon.map((r) => batchSlice(r, 0, n));
    const rA = fA === null ? null : recon.map((r) => batchSlice(r, n));
    const lRec = reconstructionLoss(fN, rN);
    let objective = this.options.strategy.reconstructionObjective(
      { normal: { features: fN, reconstructions: rN }, anomalous: fA === null || rA === null ? null : { features: fA, reconstructions: rA } },
      w,
    );
    let lAdv: tf.Scalar | null = null;
    if (adversary !== null && discriminator !== null && fA !== null) {
      beforeAdversarial(recon);
      lAdv = adversary.generatorLoss(discriminator.forward(recon), w);
      objective = tf.add(objective, tf.mul(w.lambda, lAdv));
    }
    return { objective, lRec, lAdv };
  }

  /** The discriminator's loss on D(F(N)), D(F(A)) (if the adversary looks at anomalies) and D(R). */
  private discriminatorObjective(fN: tf.Tensor4D[], fA: tf.Tensor4D[], recon: tf.Tensor4D[], adversary: Adversary, discriminator: Discriminator): tf.Scalar {
    return adversary.discriminatorLoss(
      {
        normal: discriminator.forward(fN),
        anomalous: adversary.seesAnomalies ? discriminator.forward(fA) : [],
        reconstructed: discriminator.forward(recon),
      },
      this.weights,
    );
  }

  /**
   * The same step as {@link CKAADTrainer.step} in `parts` micro-batches (option
   * `microBatches`), each with n/parts normal and a/parts anomalous images: first the
   * discriminator's gradients are accumulated over the micro-batches (on reconstructions from
   * an untaped auto-encoder pass) and applied once, clipped by their global norm; then the
   * auto-encoder's gradients, with the updated discriminator, are accumulated and applied
   * once. Averaging the micro-batches' mean losses gives the full batch's mean losses, so the
   * update equals the full-batch step up to float rounding. Takes ownership of the features.
   */
  private async microBatchStep(
    parts: number,
    fN: tf.Tensor4D[],
    fA: tf.Tensor4D[] | null,
    models: StepModels,
  ): Promise<StepValues> {
    const { autoencoder, adversary, discriminator, aeOptimizer, dOptimizer } = models;
    const pn = fN[0].shape[0] / parts;
    const pa = fA === null ? 0 : fA[0].shape[0] / parts;
    const slice = (maps: tf.Tensor4D[], size: number, i: number) => maps.map((m) => batchSlice(m, i * size, (i + 1) * size));
    const read = async (t: tf.Tensor | null) => (t === null ? 0 : (await t.data())[0]);
    const values: StepValues = { lRec: 0, lAdv: 0, lD: 0, lAe: 0, dGradNorm: 0 };
    try {
      // 1. The discriminator, on D(F(N)), D(F(A)) and D(R) of each micro-batch.
      if (adversary !== null && discriminator !== null && dOptimizer !== null && fA !== null) {
        const parameters = discriminator.parameters();
        const variables = [...parameters.values()];
        const sums: (tf.Tensor | null)[] = variables.map(() => null);
        try {
          for (let i = 0; i < parts; i++) {
            const xN = slice(fN, pn, i);
            const xA = slice(fA, pa, i);
            const recon = tf.tidy(() => autoencoder.reconstruct(xN.map((m, l) => tf.concat([m, xA[l]]))));
            try {
              const { value, grads } = leanVariableGrads(() => this.discriminatorObjective(xN, xA, recon, adversary, discriminator), variables);
              values.lD += (await read(value)) / parts;
              accumulate(sums, variables, grads);
              tf.dispose([value, ...Object.values(grads)]);
            } finally {
              tf.dispose([...xN, ...xA, ...recon]);
            }
          }
          const mean = averaged(sums, parts);
          const present = mean.filter((g): g is tf.Tensor => g !== null);
          const { clipped, norm } = clipByGlobalNorm(present, this.options.clipNorm);
          values.dGradNorm = await read(norm);
          let next = 0;
          applyInOrder(
            dOptimizer,
            parameters,
            mean.map((g) => (g === null ? null : clipped[next++])),
          );
          tf.dispose([...present, ...clipped, norm]);
        } finally {
          tf.dispose(sums.filter((g): g is tf.Tensor => g !== null));
        }
      }

      // 2. The auto-encoder, with the updated discriminator.
      const parameters = autoencoder.parameters();
      const variables = [...parameters.values()];
      const sums: (tf.Tensor | null)[] = variables.map(() => null);
      try {
        for (let i = 0; i < parts; i++) {
          const xN = slice(fN, pn, i);
          const xA = fA === null ? null : slice(fA, pa, i);
          const kept: tf.Tensor[] = [];
          const keep = <T extends tf.Tensor>(t: T): T => {
            kept.push(t);
            return tf.keep(t);
          };
          try {
            let lRec: tf.Scalar | null = null;
            let lAdv: tf.Scalar | null = null;
            const { value, grads } = leanVariableGrads(() => {
              const terms = this.autoencoderObjective(xN, xA, autoencoder, adversary, discriminator);
              lRec = keep(terms.lRec);
              lAdv = terms.lAdv === null ? null : keep(terms.lAdv);
              return terms.objective;
            }, variables);
            kept.push(value);
            values.lRec += (await read(lRec)) / parts;
            values.lAdv += (await read(lAdv)) / parts;
            values.lAe += (await read(value)) / parts;
            accumulate(sums, variables, grads);
            tf.dispose(Object.values(grads));
          } finally {
            tf.dispose([...kept, ...xN, ...(xA ?? [])]);
          }
        }
        const mean = averaged(sums, parts);
        applyInOrder(aeOptimizer, parameters, mean);
        tf.dispose(mean.filter((g): g is tf.Tensor => g !== null));
      } finally {
        tf.dispose(sums.filter((g): g is tf.Tensor => g !== null));
      }
      return values;
    } finally {
      tf.dispose(fN);
      if (fA !== null) tf.dispose(fA);
    }
  }

  /**
   * The discriminator's update (SPEC §4): loss on D(F(N)), D(F(A)), D(R), gradients with
   * respect to D's parameters only, global-norm clipping, one Adam step.
   *
   * @returns the loss and the gradient norm before clipping.
   */
  private discriminatorStep(
    fN: tf.Tensor4D[],
    fA: tf.Tensor4D[],
    recon: tf.Tensor4D[],
    adversary: Adversary,
    discriminator: Discriminator,
    optimizer: tf.AdamOptimizer,
  ): [tf.Scalar, tf.Scalar] {
    const parameters = discriminator.parameters();
    const variables = [...parameters.values()];
    const { value, grads } = leanVariableGrads(() => this.discriminatorObjective(fN, fA, recon, adversary, discriminator), variables);
    const present = variables.map((v) => grads[v.name] ?? null);
    const { clipped, norm } = clipByGlobalNorm(
      present.filter((g): g is tf.Tensor => g !== null),
      this.options.clipNorm,
    );
    let next = 0;
    applyInOrder(
      optimizer,
      parameters,
      present.map((g) => (g === null ? null : clipped[next++])),
    );
    tf.dispose(Object.values(grads));
    tf.dispose(clipped);
    return [value, norm];
  }

  // ---------------------------------------------------------------------------------------
  // validation

  /** Image AUROC of the current auto-encoder on the validation split (scores as at test time). */
  private async validate(autoencoder: FeatureAutoEncoder, validation: ValidationSet): Promise<number> {
    const scorer = new Scorer({
      extractor: this.extractor,
      autoencoder,
      sigma: this.options.sigma,
      topK: this.options.topK,
      keepMaps: false,
    });
    const { size } = validation.images;
    const batchSize = this.options.batchSize;
    function* batches(): Generator<tf.Tensor4D> {
      for (let start = 0; start < size; start += batchSize) {
        const indices = Array.from({ length: Math.min(batchSize, size - start) }, (_, i) => start + i);
        const batch = validation.images.batch(indices);
        try {
          yield batch;
        } finally {
          batch.dispose();
        }
      }
    }
    const { scores } = await scorer.score(batches());
    return imageAuroc(validation.labels, scores);
  }

  // ---------------------------------------------------------------------------------------
  // checks

  /** Validates the datasets; returns the image size [H, W]. */
  private checkData(data: TrainingData): [number, number] {
    if (typeof data !== 'object' || data === null) {
      throw new InvalidArgumentError('data', 'an object { normal, anomalies?, validation? }', String(data));
    }
    const { batchSize } = this.options;
    const size = probeImageSize(data.normal, 'data.normal', batchSize);
    const minimum = FeatureAutoEncoder.minimumInputSize(this.layers);
    if (Math.min(size[0], size[1]) < minimum) {
      throw new InvalidArgumentError(
        'data.normal',
        `images of at least ${minimum}×${minimum} pixels for layers [${this.layers.join(', ')}] ` +
          '(smaller inputs leave a 1×1 bottleneck, on which instance norm is undefined)',
        `${size[0]}×${size[1]}`,
      );
    }
    if (size[0] === size[1]) {
      try {
        FeatureAutoEncoder.validateInputSize(size[0], this.layers);
      } catch (e) {
        if (e instanceof InvalidArgumentError) {
          throw new InvalidArgumentError('data.normal', e.message.replace(/^Invalid size: expected /, '').replace(/\.$/, ''));
        }
        throw e;
      }
    }
    const same = (name: string, other: [number, number]) => {
      if (other[0] !== size[0] || other[1] !== size[1]) {
        throw new ShapeMismatchError(`${name} image size`, `${size[0]}×${size[1]} (as data.normal)`, `${other[0]}×${other[1]}`);
      }
    };
    if (data.anomalies !== undefined) {
      const anomalySize = probeImageSizeIfAny(data.anomalies, 'data.anomalies');
      if (anomalySize !== null) same('data.anomalies', anomalySize);
    }
    if (data.validation !== undefined) {
      const v = data.validation;
      if (typeof v !== 'object' || v === null || !(v.labels instanceof Uint8Array)) {
        throw new InvalidArgumentError('data.validation', '{ images: ImageDataset, labels: Uint8Array }');
      }
      same('data.validation.images', probeImageSize(v.images, 'data.validation.images'));
      if (v.labels.length !== v.images.size) {
        throw new ShapeMismatchError('data.validation.labels', `${v.images.size} labels (one per image)`, String(v.labels.length));
      }
      if (v.labels.some((l) => l !== 0 && l !== 1)) {
        throw new InvalidArgumentError('data.validation.labels', 'only 0 (normal) and 1 (anomalous)');
      }
      if (!v.labels.includes(0) || !v.labels.includes(1)) {
        throw new InvalidArgumentError('data.validation.labels', 'both normal (0) and anomalous (1) images (AUROC needs both)');
      }
    }
    return size;
  }

  private checkAutoencoderChannels(autoencoder: FeatureAutoEncoder): void {
    const expected = autoencoder.channels.join(', ');
    const found = this.extractor.channels.join(', ');
    if (expected !== found) {
      throw new ShapeMismatchError(
        `extractor channels for a ${this.backbone} auto-encoder on [${this.layers.join(', ')}]`,
        `[${expected}]`,
        `[${found}]`,
      );
    }
  }

  /** Per-image [h, w, c] of every feature map, read from one extracted image. */
  private mapShapes(normal: ImageDataset): MapShape[] {
    const images = normal.batch([0]);
    const maps = this.extractor.extract(images);
    images.dispose();
    const shapes = maps.map((m): MapShape => [m.shape[1], m.shape[2], m.shape[3]]);
    tf.dispose(maps);
    return shapes;
  }

  // ---------------------------------------------------------------------------------------
  // checkpoints

  private async save(
    state: RunState,
    imageSize: [number, number],
    counts: { normal: number; anomalies: number },
    autoencoder: FeatureAutoEncoder,
    discriminator: Discriminator | null,
    aeOptimizer: tf.AdamOptimizer,
    dOptimizer: tf.AdamOptimizer | null,
  ): Promise<void> {
    const tensors = new Map<CheckpointFile, Map<string, tf.Tensor>>();
    const aeParameters = autoencoder.parameters();
    tensors.set('autoencoder', aeParameters);
    const aeAdam = await adamState(aeOptimizer, aeParameters);
    tensors.set('ae-adam', aeAdam.tensors);
    let dScalars: AdamScalars | null = null;
    if (discriminator !== null && dOptimizer !== null) {
      const dParameters = discriminator.parameters();
      tensors.set('discriminator', dParameters);
      const dAdam = await adamState(dOptimizer, dParameters);
      tensors.set('d-adam', dAdam.tensors);
      dScalars = dAdam.scalars;
    }
    if (state.best !== null) tensors.set('best-autoencoder', state.best.weights);
    await writeCheckpoint(
      this.options.checkpointDir as string,
      {
        format: 'ckaad-checkpoint',
        version: 1,
        options: optionsRecord(this.options),
        model: { backbone: this.backbone, layers: [...this.layers], imageSize },
        data: counts,
        progress: {
          epoch: state.epoch,
          batchInEpoch: state.batchInEpoch,
          step: state.step,
          epochRng: state.epochRng,
          anomaly: state.anomalies?.state() ?? null,
          partial: { ...state.partial },
          partialSeconds: state.partialSeconds,
        },
        history: state.history,
        best: state.best === null ? null : { epoch: state.best.epoch, auroc: state.best.auroc },
        adam: { ae: aeAdam.scalars, d: dScalars },
      },
      tensors,
    );
  }

  /** Loads the checkpoint of `checkpointDir` (if any) into the fresh run state and networks. */
  private async restore(
    state: RunState,
    imageSize: [number, number],
    autoencoder: FeatureAutoEncoder,
    discriminator: Discriminator | null,
    aeOptimizer: tf.AdamOptimizer,
    dOptimizer: tf.AdamOptimizer | null,
    data: TrainingData,
  ): Promise<void> {
    const found = await readCheckpoint(this.options.checkpointDir as string);
    if (found === null) return;
    const { state: saved, filesDir } = found;
    this.checkCompatible(saved, imageSize, discriminator !== null, data);
    const file = (name: CheckpointFile) => `${filesDir}/${name}.safetensors`;

    const aeParameters = autoencoder.parameters();
    await loadParameters(aeParameters, file('autoencoder'));
    await this.restoreOptimizer(aeOptimizer, aeParameters, file('ae-adam'), saved.adam.ae);
    if (discriminator !== null && dOptimizer !== null) {
      const dParameters = discriminator.parameters();
      await loadParameters(dParameters, file('discriminator'));
      await this.restoreOptimizer(dOptimizer, dParameters, file('d-adam'), saved.adam.d as AdamScalars);
    }
    if (saved.best !== null) {
      const weights = await loadTensors(file('best-autoencoder'), parameterShapes(aeParameters));
      state.best = { ...saved.best, weights };
    }
    const p = saved.progress;
    state.epoch = p.epoch;
    state.batchInEpoch = p.batchInEpoch;
    state.step = p.step;
    state.epochRng = [...p.epochRng];
    state.partial = { ...p.partial };
    state.partialSeconds = p.partialSeconds;
    state.history = saved.history.map((h) => ({ ...h }));
    if (state.anomalies !== null && p.anomaly !== null) {
      state.anomalies = AnomalyCycler.fromState(state.anomalies.size, this.options.batchSize, p.anomaly);
    }
  }

  private async restoreOptimizer(
    optimizer: tf.AdamOptimizer,
    parameters: Map<string, tf.Variable>,
    path: string,
    scalars: AdamScalars,
  ): Promise<void> {
    const tensors = scalars.iterations === 0 ? new Map<string, tf.Tensor>() : await loadTensors(path, adamShapes(parameters));
    await restoreAdam(optimizer, parameters, tensors, scalars);
    tf.dispose([...tensors.values()]);
  }

  /** Throws unless the checkpoint was written by a run with the same options, model and data layout. */
  private checkCompatible(saved: CheckpointState, imageSize: [number, number], hasDiscriminator: boolean, data: TrainingData): void {
    const mismatch = (what: string, expected: string, found: string) => {
      throw new InvalidArgumentError(
        'options.resume',
        `a checkpoint in ${this.options.checkpointDir} written with the same ${what} (${expected})`,
        found,
      );
    };
    const current = optionsRecord(this.options);
    const keys = new Set([...Object.keys(current), ...Object.keys(saved.options)]);
    const differing = [...keys].filter((k) => current[k] !== saved.options[k]);
    if (differing.length > 0) {
      mismatch(
        'options',
        differing.map((k) => `${k} = ${String(current[k])}`).join(', '),
        differing.map((k) => `${k} = ${String(saved.options[k])}`).join(', '),
      );
    }
    const model = `${this.backbone} [${this.layers.join(', ')}] at ${imageSize.join('×')}`;
    const savedModel = `${saved.model.backbone} [${saved.model.layers.join(', ')}] at ${saved.model.imageSize.join('×')}`;
    if (model !== savedModel) mismatch('model', model, savedModel);
    if (hasDiscriminator !== saved.contents.includes('discriminator')) {
      mismatch('use of a discriminator', String(hasDiscriminator), String(!hasDiscriminator));
    }
    const counts = `${data.normal.size} normal, ${data.anomalies?.size ?? 0} anomalous images`;
    const savedCounts = `${saved.data.normal} normal, ${saved.data.anomalies} anomalous images`;
    if (counts !== savedCounts) mismatch('training data', counts, savedCounts);
  }
}
