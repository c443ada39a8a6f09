/**
 * `ckaad train`: trains one model on a dataset and saves it as a model folder (`--model`)
 * that `ckaad eval` and `ckaad score` load.
 *
 *   ckaad train --dataset mvtec --root ./mvtec_anomaly_detection --category bottle \
 *     --weights wide_resnet50_2.safetensors --backbone wide_resnet50_2 --model models/bottle
 */

import { resolve } from 'node:path';

import type { Command } from 'commander';

import { InvalidArgumentError } from '../../errors.js';
import { checkTopK } from '../../validate.js';
import { describeExtractor, saveModel, trainingRecord } from '../../io/saved-model.js';
import { removeAbandoned } from '../../node/atomic.js';
import { checkModelTarget, checkpointFolder, cleanCheckpointFolder, modelFolder } from '../../node/folders.js';
import { readCheckpointProgress } from '../../training/checkpoint.js';
import { resolveTrainerOptions } from '../../training/options.js';
import type { TrainerOptions } from '../../training/options.js';
import type { EpochLog } from '../../training/history.js';
import { selectBackend } from '../backend.js';
import type { CommandContext } from '../context.js';
import { asOptionError, openDataset } from '../dataset.js';
import type { CliDataset } from '../dataset.js';
import { OptionError } from '../errors.js';
import { log, println } from '../io.js';
import {
  addBackendOption,
  addDataOptions,
  addJsonOption,
  addModelOptions,
  addProtocolOptions,
  addTrainerOptions,
} from '../options.js';
import type { BackendValues, DataValues, ModelValues, ProtocolValues, TrainerValues } from '../options.js';
import { fmt, markdownTable } from '../output.js';
import { formatDuration } from '../progress.js';
import { trainingSplit } from '../split.js';
import type { TrainingSplit } from '../split.js';
import { buildExtractor, modelConfig, trainOnSplit } from '../training.js';

/** Option values of `ckaad train`. */
export type TrainValues = DataValues &
  ProtocolValues &
  ModelValues &
  TrainerValues &
  BackendValues & { model: string; overwrite: boolean; json: boolean };

/** The trainer option each command-line flag sets (for error messages). */
const TRAINER_FLAGS: Record<string, string> = {
  'options.gamma': '--gamma',
  'options.lambda': '--lambda',
  'options.margin': '--margin',
  'options.aeLearningRate': '--lr',
  'options.dLearningRate': '--d-lr',
  'options.batchSize': '--batch-size',
  'options.epochs': '--epochs',
  'options.seed': '--seed',
  'options.anomalyShuffle': '--anomaly-shuffle',
  'options.clipNorm': '--clip-norm',
  'options.sigma': '--sigma',
  'options.topK': '--top-k',
  'options.checkpoint': '--checkpoint-dir',
  'options.resume': '--resume',
  'options.microBatches': '--micro-batches',
};

/**
 * The trainer's options from the flags, validated (errors name the flag) — with `imageSize`,
 * also against the image size as scoring will check them (top-k at most H·W), so that no
 * run trains a model that `score` and `eval` would then refuse.
 */
export function trainerOptionsOf(v: TrainerValues, imageSize?: number): TrainerOptions & { batchSize: number; epochs: number; seed: number } {
  const options = {
    strategy: v.strategy,
    epochs: v.epochs,
    batchSize: v.batchSize,
    aeLearningRate: v.lr,
    dLearningRate: v.dLr,
    gamma: v.gamma,
    lambda: v.lambda,
    margin: v.margin,
    clipNorm: v.clipNorm,
    seed: v.seed,
    anomalyShuffle: v.anomalyShuffle,
    sigma: v.sigma,
    topK: v.topK,
    checkpoint: v.checkpointDir,
    resume: v.resume,
    microBatches: v.microBatches,
  };
  try {
    resolveTrainerOptions(options);
    if (imageSize !== undefined) checkTopK(options.topK, 'options.topK', [imageSize, imageSize]);
  } catch (e) {
    if (e instanceof InvalidArgumentError && TRAINER_FLAGS[e.argument] !== undefined) throw asOptionError(e, TRAINER_FLAGS[e.argument]);
    throw e;
  }
  return options;
}

/** One line describing the split, e.g. "5700 normal, 300 labelled anomalies ('Pullover'), validation 300". */
export function describeSplit(dataset: CliDataset, split: TrainingSplit): string {
  const anomalies =
    split.anomalies === 'elastic'
      ? 'labelled anomalies: elastic transformations of the normal images'
      : split.anomalies === null
        ? 'no labelled anomalies'
        : `${split.anomalies.length} labelled anomalies (${split.anomalyClasses.map((c) => `'${c}'`).join(', ')})`;
  const validation = split.validation.length > 0 ? `, validation hold-out ${split.validation.length}` : '';
  return `${dataset.kind}${dataset.category ? `/${dataset.category}` : ''}: normal class '${dataset.normalClass}', ${split.normal.length} normal training images, ${anomalies}${validation}`;
}

/** The per-epoch table printed after training. */
export function epochTable(history: readonly EpochLog[]): string {
  return markdownTable(
    ['epoch', 'L_rec', 'L_adv', 'L_D', 'val AUROC', 'seconds'],
    history.map((e) => [String(e.epoch), fmt(e.lRec, 4), fmt(e.lAdv, 4), fmt(e.lD, 4), fmt(e.validationAuroc), e.seconds.toFixed(1)]),
    ['epoch', 'L_rec', 'L_adv', 'L_D', 'val AUROC', 'seconds'],
  );
}

/**
 * Checks `--checkpoint-dir` against `--resume` before training and says what will happen:
 * resuming (from which epoch and step), or starting fresh because the folder holds no
 * checkpoint yet. Also removes what killed runs left in the folder (only ckaad's own names).
 *
 * @throws OptionError naming `--resume` when the folder holds a checkpoint and `resume` is
 *   false: a new run never silently replaces an earlier run's checkpoint.
 */
export async function checkpointPlan(dir: string, resume: boolean, epochs: number): Promise<string> {
  const location = resolve(dir);
  const p = await readCheckpointProgress(checkpointFolder(location));
  await cleanCheckpointFolder(location);
  if (p === null) {
    return resume ? `no checkpoint in ${location}: starting fresh` : `checkpoints go to ${location}`;
  }
  const where = `${p.epoch} epoch${p.epoch === 1 ? '' : 's'} and ${p.step} step${p.step === 1 ? '' : 's'} done`;
  if (!resume) {
    throw new OptionError(
      '--checkpoint-dir',
      'a folder without a checkpoint (add --resume to continue the run it holds, or pick another folder)',
      `${location} (a checkpoint: ${where})`,
    );
  }
  if (p.epoch >= epochs) return `resuming from ${location}: all ${epochs} epochs are done already (${where})`;
  return `resuming from epoch ${p.epoch + 1}, step ${p.step + 1} (checkpoint in ${location}: ${where})`;
}

/**
 * Runs `ckaad train` (see the module notes).
 *
 * @returns the summary that `--json` prints.
 */
export async function runTrain(v: TrainValues, ctx: CommandContext): Promise<Record<string, unknown>> {
  const { io } = ctx;
  const target = resolve(v.model);
  // A save of this model that was killed may have left temporaries (even the model, moved aside).
  await removeAbandoned(target);
  await checkModelTarget(target, v.overwrite, '--model', 'add --overwrite', OptionError);
  const config = await modelConfig({ ...v, seed: v.seed });
  const trainer = trainerOptionsOf(v, config.imageSize);
  if (v.checkpointDir !== undefined) log(io, await checkpointPlan(v.checkpointDir, v.resume, v.epochs));
  const backend = await selectBackend(v.backend, v.threads);
  const dataset = await openDataset(v);
  const split = trainingSplit(dataset, { ...v, seed: v.seed });
  log(io, `ckaad train: ${describeSplit(dataset, split)}; ${v.strategy.name} on ${config.extractor.arch} [${config.extractor.layers.join(', ')}] at ${config.imageSize}×${config.imageSize}, backend ${backend}`);
  for (const note of split.notes) log(io, `note: ${note}`);

  const extractor = await buildExtractor(config, io);
  try {
    const outcome = await trainOnSplit({
      split,
      imageSize: config.imageSize,
      extractor,
      extractorOptions: config.extractor,
      trainer,
      onBadImage: v.onBadImage,
      label: `train ${v.strategy.name}`,
      io,
      signal: ctx.signal,
    });
    const { result } = outcome;
    try {
      await saveModel(modelFolder(target, { overwrite: v.overwrite }), {
        extractor: await describeExtractor(config.extractor),
        autoencoder: result.autoencoder,
        imageSize: config.imageSize,
        scoring: { sigma: v.sigma, topK: v.topK, threshold: result.best?.threshold ?? null },
        training: trainingRecord(outcome.trainer, result),
      });
    } finally {
      result.autoencoder.dispose();
    }
    const summary = {
      format: 'ckaad-train',
      model: target,
      backend,
      strategy: v.strategy.name,
      dataset: { kind: dataset.kind, root: dataset.root, category: dataset.category ?? null, normalClass: dataset.normalClass },
      images: { ...outcome.counts, skipped: outcome.skipped.map((s) => ({ path: s.path, reason: s.error.message })) },
      anomalyClasses: split.anomalyClasses,
      notes: split.notes,
      epochs: result.epochs,
      steps: result.steps,
      best: result.best,
      seconds: outcome.seconds,
      history: result.history,
    };
    if (v.json) {
      println(io, JSON.stringify(summary, null, 2));
    } else {
      println(io, epochTable(result.history));
      println(io);
      const best =
        result.best === null
          ? '; no validation split, so no decision threshold is stored (`ckaad score` then needs --threshold to label images)'
          : `; best validation AUROC ${result.best.auroc.toFixed(4)} at epoch ${result.best.epoch} (kept), decision threshold ` +
            `${result.best.threshold.toPrecision(6)} (best F1 on the validation split; \`ckaad score\` uses it)`;
      const n = outcome.skipped.length;
      const skipped = n > 0 ? `; ${n} unreadable image${n === 1 ? '' : 's'} skipped (--on-bad-image skip)` : '';
      println(io, `${v.strategy.name}: ${result.steps} steps in ${formatDuration(outcome.seconds)}${best}${skipped}. Model saved to ${target}`);
    }
    return summary;
  } finally {
    extractor.dispose();
  }
}

/** Adds `train` to the program. */
export function registerTrain(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('train')
    .summary('train a model on a dataset and save it')
    .description(
      'Train CKAAD (or an ablation strategy) on a dataset and save the model folder that `eval` and `score` load. ' +
        'mvtec / visa: the labelled anomalies are elastic transformations of the normal images (the paper\'s industrial setting). ' +
        'chest-xray, oct2017, br35h, isic2018, fashion-mnist, mnist: the paper\'s protocol — keep the normal class, add r_l ' +
        'labelled anomalies from k classes, and hold out a validation split to pick the best epoch. ' +
        'folder: normal/ for training, everything in anomalous/ as labelled anomalies.',
    );
  addDataOptions(cmd);
  addProtocolOptions(cmd);
  addModelOptions(cmd);
  addTrainerOptions(cmd);
  addBackendOption(cmd);
  cmd.requiredOption('--model <dir>', 'folder to save the trained model to');
  cmd.option('--overwrite', 'replace an existing ckaad model folder (never a folder of other files)', false);
  addJsonOption(cmd);
  cmd.addHelpText(
    'after',
    '\nExample (Fashion-MNIST from Debian\'s dataset-fashion-mnist package):\n' +
      '  ckaad train --dataset fashion-mnist --root /usr/share/datasets/fashion-mnist --normal-class 1 \\\n' +
      '    --anomaly-class Pullover --ratio 0.05 --k 1 --image-size 64 --model models/fmnist-trouser',
  );
  cmd.action(async (values: TrainValues) => {
    await runTrain(values, ctx);
  });
}
