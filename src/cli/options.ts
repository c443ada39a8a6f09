/**
 * Parsers of option values and the option groups several subcommands share (backend, model,
 * trainer, data). A bad value is rejected by commander before anything runs, with a message
 * naming the option and what it expects (exit code 2).
 */

import { Command, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';

import { LAYER_NAMES, RESNET_CONFIGS } from '../backbone/configs.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import { STRATEGIES } from '../training/strategies.js';
import type { Strategy } from '../training/strategies.js';
import { TRAINER_DEFAULTS } from '../training/options.js';
import { ANOMALY_SHUFFLES } from '../training/batches.js';
import type { AnomalyShuffle } from '../training/batches.js';
import { DATASET_KINDS } from './dataset.js';
import type { DatasetKind } from './dataset.js';

// -----------------------------------------------------------------------------------------
// value parsers (commander calls them with the raw string)

/** An integer ≥ `min`. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min) {
      throw new CommanderArgumentError(`Expected an integer ≥ ${min}.`);
    }
    return n;
  };
}

/** A finite number in the interval described by `lo`/`hi` and their openness. */
export function numberIn(lo: number, hi: number, { loOpen = false, hiOpen = false } = {}): (value: string) => number {
  const interval = `${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? '∞' : hi}${hiOpen || hi === Infinity ? ')' : ']'}`;
  return (value) => {
    const n = Number(value);
    const ok = value.trim() !== '' && Number.isFinite(n) && (loOpen ? n > lo : n >= lo) && (hiOpen ? n < hi : n <= hi);
    if (!ok) throw new CommanderArgumentError(`Expected a number in ${interval}.`);
    return n;
  };
}

/** `--top-k`: an integer ≥ 1 or `mean`. */
export function parseTopK(value: string): number | 'mean' {
  if (value === 'mean') return 'mean';
  return integerAtLeast(1)(value);
}

/** `--heatmaps`: a count ≥ 0 or `all`. */
export function parseHeatmaps(value: string): number | 'all' {
  if (value === 'all') return 'all';
  return integerAtLeast(0)(value);
}

/** `--backbone`: a torchvision ResNet name. */
export function parseBackbone(value: string): ResNetName {
  if (!Object.prototype.hasOwnProperty.call(RESNET_CONFIGS, value)) {
    throw new CommanderArgumentError(`Expected one of ${Object.keys(RESNET_CONFIGS).join(', ')}.`);
  }
  return value as ResNetName;
}

/** `--layers`: comma-separated distinct layer names, e.g. `layer2,layer3`. */
export function parseLayers(value: string): LayerName[] {
  const layers = value.split(',').map((l) => l.trim());
  const bad = layers.filter((l) => !(LAYER_NAMES as readonly string[]).includes(l));
  if (layers.length === 0 || bad.length > 0) {
    throw new CommanderArgumentError(
      `Expected comma-separated names among ${LAYER_NAMES.join(', ')}${bad.length > 0 ? ` (unknown: ${bad.join(', ')})` : ''}.`,
    );
  }
  if (new Set(layers).size !== layers.length) throw new CommanderArgumentError('Expected each layer at most once.');
  return layers as LayerName[];
}

/** `--strategy`: one of the built-in strategies, case-insensitive. */
export function parseStrategy(value: string): Strategy {
  const name = Object.keys(STRATEGIES).find((k) => k.toLowerCase() === value.toLowerCase());
  if (name === undefined) throw new CommanderArgumentError(`Expected one of ${Object.keys(STRATEGIES).join(', ')}.`);
  return STRATEGIES[name as keyof typeof STRATEGIES];
}

/** `--strategies`: comma-separated built-in strategies. */
export function parseStrategies(value: string): Strategy[] {
  const list = value.split(',').map((s) => parseStrategy(s.trim()));
  if (new Set(list.map((s) => s.name)).size !== list.length) throw new CommanderArgumentError('Expected each strategy at most once.');
  return list;
}

/** Default layers of a backbone: {2, 3} for resnet18/34 (the paper's medical setting), {1, 2, 3} otherwise. */
export function defaultLayers(backbone: ResNetName): LayerName[] {
  return backbone === 'resnet18' || backbone === 'resnet34' ? ['layer2', 'layer3'] : ['layer1', 'layer2', 'layer3'];
}

// -----------------------------------------------------------------------------------------
// option groups

/** Values of {@link addBackendOption}. */
export interface BackendValues {
  backend?: string;
  threads?: number;
}

/** `--backend <name>`, `--threads <n>`. */
export function addBackendOption(cmd: Command, fallback = "ckaad's default backend, see docs/backends.md"): Command {
  return cmd
    .option(
      '--backend <name>',
      `tfjs backend: wasm, cpu, or tensorflow (needs @tensorflow/tfjs-node or -node-gpu installed) (default: ${fallback})`,
    )
    .option(
      '--threads <n>',
      'threads of the wasm backend (XNNPACK), 1 to 8; 1 runs the single-threaded build (default: the number of cores)',
      integerAtLeast(1),
    );
}

/** Values of {@link addModelOptions}. */
export interface ModelValues {
  backbone: ResNetName;
  layers?: LayerName[];
  weights?: string;
  imageSize: number;
}

/** `--backbone`, `--layers`, `--weights`, `--image-size`. */
export function addModelOptions(cmd: Command, imageSize = 256): Command {
  return cmd
    .addOption(
      new Option('--backbone <arch>', `frozen feature extractor: ${Object.keys(RESNET_CONFIGS).join(', ')}`)
        .argParser(parseBackbone)
        .default('resnet18'),
    )
    .option(
      '--layers <list>',
      'backbone layers to reconstruct, comma-separated (default: layer2,layer3 for resnet18/34, layer1,layer2,layer3 otherwise)',
      parseLayers,
    )
    .option(
      '--weights <file>',
      "ImageNet weights of the backbone: a model.safetensors with torchvision parameter names (default: random initialisation — only for trying things out)",
    )
    .option('--image-size <px>', 'side of the square images the model sees (≥ 64 for layer2,layer3; multiple of 32)', integerAtLeast(32), imageSize);
}

/** Values of {@link addTrainerOptions}. */
export interface TrainerValues {
  strategy: Strategy;
  epochs: number;
  batchSize: number;
  lr: number;
  dLr: number;
  gamma?: number;
  lambda?: number;
  margin?: number;
  clipNorm: number;
  seed: number;
  anomalyShuffle: AnomalyShuffle;
  sigma: number;
  topK: number | 'mean';
  checkpointDir?: string;
  resume: boolean;
  microBatches: number;
}

/** The trainer's options (see `TrainerOptions`), with its defaults. */
export function addTrainerOptions(cmd: Command, defaults: { epochs?: number; batchSize?: number } = {}): Command {
  return cmd
    .addOption(
      new Option('--strategy <name>', `how labelled anomalies are used: ${Object.keys(STRATEGIES).join(', ')}`)
        .argParser(parseStrategy)
        .default(STRATEGIES.CKAPatch, 'CKAPatch'),
    )
    .option('--epochs <n>', 'passes over the normal training images', integerAtLeast(0), defaults.epochs ?? TRAINER_DEFAULTS.epochs)
    .option('--batch-size <n>', 'normal images per step', integerAtLeast(1), defaults.batchSize ?? TRAINER_DEFAULTS.batchSize)
    .option('--lr <rate>', 'Adam learning rate of the auto-encoder (the paper: 1e-3 medical, 5e-3 industrial)', numberIn(0, Infinity, { loOpen: true }), TRAINER_DEFAULTS.aeLearningRate)
    .option('--d-lr <rate>', 'Adam learning rate of the discriminator', numberIn(0, Infinity, { loOpen: true }), TRAINER_DEFAULTS.dLearningRate)
    .option('--gamma <γ>', `weight of reconstructions vs. anomalies in the discriminator loss, in (0, 1] (default: ${TRAINER_DEFAULTS.gamma})`, numberIn(0, 1, { loOpen: true }))
    .option('--lambda <λ>', `weight of the adversarial term, ≥ 0 (default: ${TRAINER_DEFAULTS.lambda})`, numberIn(0, Infinity))
    .option('--margin <a>', `margin of the energy hinge, > 0 (default: ${TRAINER_DEFAULTS.margin})`, numberIn(0, Infinity, { loOpen: true }))
    .option('--clip-norm <n>', "global norm the discriminator's gradients are clipped to", numberIn(0, Infinity, { loOpen: true }), TRAINER_DEFAULTS.clipNorm)
    .option('--seed <n>', 'seed of the weights, the batch order and the data split', integerAtLeast(0), TRAINER_DEFAULTS.seed)
    .addOption(
      new Option(
        '--anomaly-shuffle <when>',
        "when the labelled anomalies are reshuffled: every pass through them, or (the authors' code) once per epoch, the epoch's batches repeated in order",
      )
        .choices(ANOMALY_SHUFFLES)
        .default(TRAINER_DEFAULTS.anomalyShuffle),
    )
    .option('--sigma <σ>', 'Gaussian σ of the anomaly maps (pixels)', numberIn(0, Infinity, { loOpen: true }), TRAINER_DEFAULTS.sigma)
    .option('--top-k <k>', "image score: mean of the top-k map values, or 'mean'", parseTopK, TRAINER_DEFAULTS.topK)
    .option(
      '--micro-batches <k>',
      'split each step into up to k micro-batches and accumulate their gradients: same update, about 1/k of the memory (e.g. 16 for wide_resnet50_2 on wasm)',
      integerAtLeast(1),
      1,
    )
    .option('--checkpoint-dir <dir>', 'write a checkpoint after every epoch (and on Ctrl-C) to this folder; one that holds a checkpoint already needs --resume')
    .option('--resume', 'continue the run whose checkpoint is in --checkpoint-dir, exactly where it stopped (with none there: start fresh, saying so)', false);
}

/** Values of {@link addDataOptions}. */
export interface DataValues {
  dataset: DatasetKind;
  root: string;
  category?: string;
  normalClass?: string;
  onBadImage: 'skip' | 'fail';
}

/** `--dataset`, `--root`, `--category`, `--normal-class`, `--on-bad-image`. */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--dataset <kind>', 'dataset layout').choices(DATASET_KINDS).makeOptionMandatory())
    .requiredOption('--root <dir>', 'dataset folder (for fashion-mnist / mnist: the folder holding the four IDX files)')
    .option('--category <name>', 'object category (mvtec, visa), e.g. bottle')
    .option('--normal-class <name>', 'the normal class (name or, for IDX sets, label value); default: the dataset\'s own (NORMAL, …)')
    .addOption(
      new Option('--on-bad-image <action>', 'a corrupt or unreadable image: skip it (and count it in the summary) or stop the run')
        .choices(['skip', 'fail'])
        .default('fail'),
    );
}

/** Values of {@link addProtocolOptions}. */
export interface ProtocolValues {
  ratio: number;
  k: number;
  anomalyClass?: string;
  validationFraction: number;
  maxNormal?: number;
}

/** The paper's protocol for multi-class sets: r_l, k, the anomaly class, the validation hold-out. */
export function addProtocolOptions(cmd: Command): Command {
  return cmd
    .option(
      '--ratio <r_l>',
      'r_l: labelled anomalies as a fraction of the final training set, in [0, 1) (protocol datasets; for mvtec / visa / folder, 0 turns their anomalies off)',
      numberIn(0, 1, { hiOpen: true }),
      0.05,
    )
    .option('--k <n>', 'number of anomaly classes the labelled anomalies come from', integerAtLeast(1), 1)
    .option('--anomaly-class <name>', 'with --k 1: the class the labelled anomalies come from')
    .option(
      '--validation-fraction <f>',
      'fraction of each of normal / anomalous training images held out to pick the best epoch (0: none)',
      numberIn(0, 1, { hiOpen: true }),
      0.05,
    )
    .option('--max-normal <n>', 'use at most n normal training images (a seeded random subset) to save time', integerAtLeast(1));
}

/** `--json`: print JSON on stdout instead of the markdown table. */
export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print the results as JSON instead of a markdown table', false);
}
