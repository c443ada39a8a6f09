/**
 * One training run as `ckaad train` and `ckaad demo` do it: check the model options, build
 * the frozen extractor, decode the split's images, train with a progress display, and return
 * the trained auto-encoder with what happened (counts, skipped files, time).
 */

import { access } from 'node:fs/promises';

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { LAYER_NAMES } from '../backbone/configs.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import { createResNetExtractor } from '../backbone/extractor.js';
import type { ResNetExtractorOptions, ResNetFeatureExtractor } from '../backbone/extractor.js';
import type { SkippedImage } from '../node/stream.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { renameArguments } from '../pipeline/arguments.js';
import { loadRunData, memoryLoader } from '../pipeline/run-data.js';
import { trainRun } from '../pipeline/train.js';
import type { CKAADTrainer } from '../training/trainer.js';
import type { TrainingResult } from '../training/history.js';
import type { TrainerOptions } from '../training/options.js';
import { yieldToEventLoop } from './context.js';
import { asOptionError, skipLogger } from './dataset.js';
import { InterruptedError, OptionError } from './errors.js';
import { defaultLayers } from './options.js';
import { log } from './io.js';
import type { CliIo } from './io.js';
import { startProgress } from './progress.js';
import type { Progress } from './progress.js';
import type { TrainingSplit } from './split.js';

/** The frozen extractor and image size of a model, checked. */
export interface ModelConfig {
  extractor: ResNetExtractorOptions;
  imageSize: number;
}

/**
 * Checks `--backbone`, `--layers`, `--weights` and `--image-size` together.
 *
 * @throws OptionError naming the flag: layers that are not consecutive, an image size the
 *   layers cannot use (naming the smallest valid one), a weights file that does not exist.
 */
export async function modelConfig(values: {
  backbone: ResNetName;
  layers?: LayerName[];
  weights?: string;
  imageSize: number;
  seed: number;
}): Promise<ModelConfig> {
  const layers = [...(values.layers ?? defaultLayers(values.backbone))].sort((a, b) => LAYER_NAMES.indexOf(a) - LAYER_NAMES.indexOf(b));
  try {
    FeatureAutoEncoder.minimumInputSize(layers);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw asOptionError(e, '--layers');
    throw e;
  }
  try {
    FeatureAutoEncoder.validateInputSize(values.imageSize, layers);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw asOptionError(e, '--image-size');
    throw e;
  }
  if (values.weights !== undefined) {
    try {
      await access(values.weights);
    } catch {
      throw new FileFormatError(values.weights, `file not found (--weights: a model.safetensors of ${values.backbone} with torchvision parameter names)`);
    }
  }
  return {
    extractor: { arch: values.backbone, layers, weights: values.weights ?? 'random', seed: values.seed },
    imageSize: values.imageSize,
  };
}

/** The warning printed when no `--weights` is given. */
export const RANDOM_BACKBONE_WARNING =
  'warning: no --weights given: the backbone is randomly initialised, so the features (and scores) ' +
  'only show that the pipeline works. Real use needs ImageNet weights, e.g. model.safetensors from ' +
  'huggingface.co/timm/resnet18.tv_in1k or huggingface.co/timm/wide_resnet50_2.tv_in1k, passed with --weights.';

/** Builds the frozen extractor of `config` (warning on stderr when it is randomly initialised). */
export async function buildExtractor(config: ModelConfig, io: CliIo, warn = true): Promise<ResNetFeatureExtractor> {
  if (config.extractor.weights === 'random' && warn) log(io, RANDOM_BACKBONE_WARNING);
  return createResNetExtractor(config.extractor);
}

/** Options of {@link trainOnSplit}. */
export interface TrainOnSplitOptions {
  /** The images to use (see `trainingSplit`). */
  split: TrainingSplit;
  imageSize: number;
  extractor: ResNetFeatureExtractor;
  /** The options `extractor` was built with (lets the trainer rebuild it in a feature worker thread). */
  extractorOptions?: ResNetExtractorOptions;
  /** The trainer's options (strategy, epochs, batch size, seed…). */
  trainer: TrainerOptions & { batchSize: number; epochs: number; seed: number };
  onBadImage: 'skip' | 'fail';
  /** Progress label, e.g. `'train CKAPatch'`. */
  label: string;
  io: CliIo;
  signal?: AbortSignal;
}

/** What {@link trainOnSplit} returns. */
export interface TrainOutcome {
  trainer: CKAADTrainer;
  result: TrainingResult;
  /** Images actually used (after skipping unreadable ones). */
  counts: { normal: number; anomalies: number | 'elastic'; validation: number };
  skipped: SkippedImage[];
  /** Wall time of decoding + training. */
  seconds: number;
}

/**
 * Decodes the split and trains one model on it (the pipeline's `loadRunData` and `trainRun`),
 * with a progress display.
 *
 * @throws OptionError for a batch size larger than the normal images; FileFormatError for
 *   unreadable images with `onBadImage: 'fail'`; InterruptedError when `signal` fires.
 */
export async function trainOnSplit(o: TrainOnSplitOptions): Promise<TrainOutcome> {
  const { split, imageSize: size, io } = o;
  const started = io.now();
  const skipped: SkippedImage[] = [];
  const usesAnomalies = o.trainer.strategy?.usesAnomalies ?? true;
  const run = await renameArguments(
    () =>
      loadRunData(usesAnomalies ? split : { ...split, anomalies: null }, {
        loader: memoryLoader({ size, onBadImage: o.onBadImage, onSkip: skipLogger(io, skipped) }),
        seeds: { elastic: o.trainer.seed, validationElastic: o.trainer.seed },
        minNormal: o.trainer.batchSize,
      }),
    { batchSize: '--batch-size' },
    OptionError,
  );
  if (o.signal?.aborted) throw new InterruptedError('interrupted before training started');

  const stepsPerEpoch = Math.floor(run.counts.normal / o.trainer.batchSize);
  const totalSteps = stepsPerEpoch * o.trainer.epochs;
  let progress: Progress | null = null;
  let firstStep = 0;
  const { trainer, result } = await trainRun({
    data: run.data,
    extractor: o.extractor,
    extractorOptions: o.extractorOptions,
    trainer: o.trainer,
    signal: o.signal,
    onStep: async (s) => {
      await yieldToEventLoop(); // so that Ctrl-C is seen between steps
      if (progress === null) {
        firstStep = s.step - 1;
        progress = startProgress(io, o.label, (totalSteps - firstStep) * o.trainer.batchSize);
      }
      progress.update((s.step - firstStep) * o.trainer.batchSize, `epoch ${s.epoch}/${o.trainer.epochs} ${stepLosses(s)}`);
    },
    onEpoch: (e) => {
      if (!io.isTTY && e.validationAuroc !== null) log(io, `${o.label}: epoch ${e.epoch} validation AUROC ${e.validationAuroc.toFixed(4)}`);
    },
  });
  const shown = progress as Progress | null;
  if (result.status === 'aborted') {
    shown?.interrupt();
    result.autoencoder.dispose();
    const where = trainer.options.checkpoint === null ? '' : `; checkpoint in ${trainer.options.checkpoint.location} (resume with --resume)`;
    const epoch = Math.min(result.epochs + 1, o.trainer.epochs);
    throw new InterruptedError(`training interrupted after step ${result.steps} of ${totalSteps} (epoch ${epoch} of ${o.trainer.epochs})${where}`);
  }
  shown?.stop();
  const validation = run.data.validation === undefined ? 0 : run.counts.validationNormal + run.counts.validationAnomalous;
  return {
    trainer,
    result,
    counts: { normal: run.counts.normal, anomalies: run.counts.anomalies, validation },
    skipped,
    seconds: (io.now() - started) / 1000,
  };
}

/** A step's losses as the progress display shows them: `L_rec 0.1234` (and L_adv, L_D with a discriminator). */
export function stepLosses(s: { lRec: number; lAdv: number; lD: number }): string {
  const adversarial = s.lD !== 0 || s.lAdv !== 0 ? ` L_adv ${s.lAdv.toFixed(4)} L_D ${s.lD.toFixed(4)}` : '';
  return `L_rec ${s.lRec.toFixed(4)}${adversarial}`;
}
