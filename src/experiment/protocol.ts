/**
 * An experiment protocol: the JSON description of a grid of training runs (data set, normal
 * classes or categories, strategies, labelled-anomaly settings r_l, k, seeds, epochs, image
 * size, model, hyper-parameters), and its validation.
 *
 * A protocol file is plain JSON, e.g. (`protocols/fashion-mnist-smoke.json`):
 *
 * ```json
 * {
 *   "name": "fashion-mnist-smoke",
 *   "dataset": { "kind": "fashion-mnist", "root": "/usr/share/datasets/fashion-mnist" },
 *   "normalClasses": ["Trouser"],
 *   "arms": [
 *     { "strategy": "Recon", "labelled": [0] },
 *     { "strategy": "CKAPatch", "labelled": [0.05] }
 *   ],
 *   "labelledClasses": ["Bag"],
 *   "seeds": [0, 1],
 *   "epochs": 2,
 *   "imageSize": 64,
 *   "model": { "arch": "resnet18", "layers": ["layer2", "layer3"], "weights": "random" }
 * }
 * ```
 *
 * {@link parseProtocol} checks every field and fills in the defaults; an invalid field is an
 * {@link InvalidArgumentError} naming it (`protocol.arms[1].labelled[0]`).
 */

import { LAYER_NAMES, RESNET_CONFIGS } from '../backbone/configs.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS } from '../data/synthetic.js';
import type { SyntheticClass, SyntheticDefect } from '../data/synthetic.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';

/** Value of a protocol file's optional `"format"` field. */
export const PROTOCOL_FORMAT = 'ckaad-experiment-protocol';

/** Multi-class data sets: one class is normal, every other class anomalous (docs/reference-implementation.md §8). */
export const MULTI_CLASS_KINDS = ['fashion-mnist', 'mnist', 'chest-xray', 'oct2017', 'br35h', 'isic2018'] as const;
/** Per-category data sets in the MVTec AD layout: `good` is normal, defect types anomalous. */
export const CATEGORY_KINDS = ['mvtec', 'visa', 'synthetic'] as const;

/** Kind of a multi-class data set. */
export type MultiClassKind = (typeof MULTI_CLASS_KINDS)[number];
/** Kind of a per-category data set. */
export type CategoryKind = (typeof CATEGORY_KINDS)[number];

/** A multi-class data set read from `root` by the matching ckaad reader. */
export interface MultiClassDatasetSpec {
  kind: MultiClassKind;
  /** Folder of the data set (as the reader expects it). Required. */
  root: string;
}

/** MVTec AD or VisA, read from `root`. */
export interface RealCategoryDatasetSpec {
  kind: 'mvtec' | 'visa';
  /** Folder of the data set. Required. */
  root: string;
  /** Categories to run (`'all'`: every category of the benchmark). Required. */
  categories: string[] | 'all';
  /** VisA only: split file relative to `root`; default the reader's (`split_csv/1cls.csv`). */
  splitFile?: string;
}

/**
 * The seeded synthetic defect set (`generateSyntheticDefects`), generated on first use into
 * `root` (default `<resultsDir>/data/synthetic-<seed>-<imageSize>`) at the protocol's image size.
 */
export interface SyntheticDatasetSpec {
  kind: 'synthetic';
  /** Where the set is (or is generated). Default under the results folder. */
  root?: string;
  /** Classes (categories) to run; default both (`weave`, `disc`). */
  categories?: SyntheticClass[];
  /** Defect kinds in the test set; default all four. */
  defects?: SyntheticDefect[];
  /** Generator seed of the files; default 0. */
  seed?: number;
  /** Normal training images per class; default 64. */
  trainCount?: number;
  /** Normal test images per class; default 16. */
  testGoodCount?: number;
  /** Test images per class and defect kind; default 8. */
  testDefectCount?: number;
}

/** Where the images come from. */
export type DatasetSpec = MultiClassDatasetSpec | RealCategoryDatasetSpec | SyntheticDatasetSpec;

/**
 * What a run trains with besides normal images:
 * - a number r_l ∈ [0, 1): labelled anomalies make up r_l of the training set (docs/reference-implementation.md §8);
 *   0 trains on normal images only;
 * - `'elastic'`: one elastic transformation of every normal training image, drawn afresh per
 *   batch (docs/reference-implementation.md §5, the paper's industrial setting).
 */
export type LabelledSetting = number | 'elastic';

/** Hyper-parameters of {@link CKAADTrainer} a protocol (or one arm) may set. */
export interface TrainingSettings {
  /** Normal images per step. Default 16. */
  batchSize?: number;
  /** Adam learning rate of the auto-encoder. Default 1e-3. */
  aeLearningRate?: number;
  /** Adam learning rate of the discriminator. Default 1e-4. */
  dLearningRate?: number;
  /** γ. Default: the strategy's own, else 0.5. */
  gamma?: number;
  /** λ. Default: the strategy's own, else 0.02. */
  lambda?: number;
  /** Energy margin a. Default: the strategy's own, else 5. */
  margin?: number;
  /** Global gradient-norm clip of the discriminator. Default 1. */
  clipNorm?: number;
  /** Micro-batches per step (see `TrainerOptions.microBatches`): less memory, same update. Default 1. */
  microBatches?: number;
}

/** One arm of the grid: a strategy and the labelled-anomaly settings it is run with. */
export interface ArmSpec {
  /** Row label in the tables. Default: the strategy name. Arm names must be distinct. */
  name?: string;
  /**
   * A built-in strategy (`Recon`, `ReconSub`, `GAN`, `CKAImg`, `CKAPatch`) or the name of one
   * passed to `runExperiment` in `options.strategies`.
   */
  strategy: string;
  /** The r_l values (or `'elastic'`) this arm runs with; each is a separate grid point. */
  labelled: LabelledSetting[];
  /** Hyper-parameters overriding the protocol's `training` for this arm. */
  training?: TrainingSettings;
}

/** The frozen backbone. */
export interface ModelSettings {
  /** torchvision architecture. */
  arch: ResNetName;
  /** Reconstructed layers, consecutive and increasing. */
  layers: LayerName[];
  /** Path of an ImageNet `model.safetensors` (torchvision names), or `'random'`. Default `'random'`. */
  weights?: string;
  /** Seed of random backbone weights (only with `'random'`). Default 0. */
  seed?: number;
}

/** Scoring (paper eq. 14). */
export interface ScoringSettings {
  /** σ of the Gaussian smoothing. Default 4. */
  sigma?: number;
  /** Image score: mean of the top-k map values, or `'mean'`. Default 100. */
  topK?: number | 'mean';
}

/** Sub-sampling for smoke runs: at most this many images per class (seeded, fixed for the whole grid). */
export interface LimitSettings {
  /** Training images per class, applied before the protocol split. Default: no limit. */
  trainPerClass?: number;
  /** Test images per class. Default: no limit. */
  testPerClass?: number;
  /** Seed of the sub-sampling. Default 0. */
  seed?: number;
}

/** Fields the tables can be grouped by (seeds are always the replicate axis). */
export type GroupField = 'arm' | 'labelled' | 'target' | 'labelledClass';

/** The table layout of the summary. */
export interface ReportSettings {
  /**
   * One table per entry, grouped by these fields. Default
   * `[['arm', 'labelled'], ['target', 'arm', 'labelled']]`.
   */
  groupBy?: GroupField[][];
  /** Metric columns in the markdown tables (e.g. `'all.imageAuroc'`). Default: every metric present. */
  metrics?: string[];
}

/**
 * The labelled ("seen") classes of a grid with k = 1: `'each'` anomaly class in turn, one list
 * for every normal class, or a list per normal class (or category).
 */
export type LabelledClasses = 'each' | string[] | Record<string, string[]>;

/** A protocol as written in a file (optional fields may be absent). */
export interface ExperimentProtocol {
  /** Optional marker, {@link PROTOCOL_FORMAT}. */
  format?: string;
  /** Name of the experiment (shown in the tables). Required. */
  name: string;
  /** Free text. */
  description?: string;
  /** The data set. */
  dataset: DatasetSpec;
  /**
   * Multi-class sets: the normal classes to run, one grid point each (`'all'`: every class).
   * Default for the medical sets: the reader's normal class; required for MNIST-format sets;
   * not allowed for per-category sets (their normal class is `good`).
   */
  normalClasses?: string[] | 'all';
  /** The arms (strategy × labelled settings). */
  arms: ArmSpec[];
  /** k: number of anomaly classes the labelled anomalies come from. Default 1. */
  anomalyClassCount?: number;
  /**
   * With k = 1 and r_l > 0: the anomaly classes (defect kinds) that serve as the labelled
   * ("seen") class, one grid point each. Default `'each'`: every anomaly class. With k > 1 the k
   * classes are drawn at random per seed instead. A list applies to every normal class (a
   * listed class that is the normal class itself is skipped); an object maps each normal class
   * (or category) of the grid to its own list, e.g. `{ "Trouser": ["Bag"], "Bag": ["Coat"] }`,
   * for a reduced grid with one known class per normal class.
   */
  labelledClasses?: LabelledClasses;
  /** Seeds: each grid point runs once per seed. Required. */
  seeds: number[];
  /** Training epochs. Required. */
  epochs: number;
  /** Side of the square input images. Required. */
  imageSize: number;
  /** The frozen backbone. Required. */
  model: ModelSettings;
  /** Hyper-parameters shared by all arms. */
  training?: TrainingSettings;
  /** Scoring settings. */
  scoring?: ScoringSettings;
  /**
   * Which epoch's weights are tested: `'validation'` (default) the epoch with the best image
   * AUROC on the validation split, `'last'` the last one.
   */
  selection?: 'validation' | 'last';
  /** Fraction of each of normal / anomalous training images held out for validation. Default 0.05. */
  validationFraction?: number;
  /** Sub-sampling for smoke runs. */
  limits?: LimitSettings;
  /** Test images per class kept (image, mask, map) for figures. Default 2. */
  examplesPerClass?: number;
  /** Table layout. */
  report?: ReportSettings;
}

/** A protocol with every default filled in (what the runner uses); see {@link ExperimentProtocol}. */
export interface ResolvedProtocol {
  /** Name of the experiment. */
  name: string;
  /** Free text ('' when absent). */
  description: string;
  /** The data set. */
  dataset: DatasetSpec;
  /** Multi-class sets: the normal classes (or `'all'`); empty for per-category sets. */
  normalClasses: string[] | 'all';
  /** The arms, with names. */
  arms: ResolvedArm[];
  /** k. */
  anomalyClassCount: number;
  /** The labelled classes with k = 1: `'each'`, one list for all, or a list per normal class. */
  labelledClasses: LabelledClasses;
  /** Seeds. */
  seeds: number[];
  /** Training epochs. */
  epochs: number;
  /** Side of the square input images. */
  imageSize: number;
  /** The backbone, with `weights` (`'random'` by default) and `seed` filled in. */
  model: Required<ModelSettings>;
  /** Hyper-parameters shared by all arms (unset ones take the trainer's defaults). */
  training: TrainingSettings;
  /** Scoring, with defaults σ = 4, top-100. */
  scoring: Required<ScoringSettings>;
  /** How the reported epoch is chosen. */
  selection: 'validation' | 'last';
  /** Validation hold-out fraction. */
  validationFraction: number;
  /** Sub-sampling, or null. */
  limits: LimitSettings | null;
  /** Examples kept per test class. */
  examplesPerClass: number;
  /** Table layout (metrics null: all). */
  report: { groupBy: GroupField[][]; metrics: string[] | null };
}

/** An arm with its defaults filled in. */
export interface ResolvedArm {
  /** Row label (default: the strategy name). */
  name: string;
  /** Strategy name. */
  strategy: string;
  /** r_l values or `'elastic'`. */
  labelled: LabelledSetting[];
  /** The arm's hyper-parameter overrides ({} for none). */
  training: TrainingSettings;
}

/** Default table layout. */
export const DEFAULT_GROUP_BY: readonly (readonly GroupField[])[] = [
  ['arm', 'labelled'],
  ['target', 'arm', 'labelled'],
];

const GROUP_FIELDS: readonly GroupField[] = ['arm', 'labelled', 'target', 'labelledClass'];
const TRAINING_KEYS: readonly (keyof TrainingSettings)[] = [
  'batchSize',
  'aeLearningRate',
  'dLearningRate',
  'gamma',
  'lambda',
  'margin',
  'clipNorm',
  'microBatches',
];

// -----------------------------------------------------------------------------------------
// small checkers

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function show(x: unknown): string {
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function noExtraKeys(o: Json, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new InvalidArgumentError(`${where}.${k}`, `no such field (allowed: ${allowed.join(', ')})`);
  }
}

function string(x: unknown, where: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new InvalidArgumentError(where, 'a non-empty string', show(x));
  return x;
}

function integer(x: unknown, where: string, min: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw new InvalidArgumentError(where, `an integer ≥ ${min}`, show(x));
  return x;
}

function positive(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new InvalidArgumentError(where, 'a finite number > 0', show(x));
  return x;
}

function stringList(x: unknown, where: string): string[] {
  if (!Array.isArray(x) || x.length === 0) throw new InvalidArgumentError(where, 'a non-empty array of strings', show(x));
  const list = x.map((v, i) => string(v, `${where}[${i}]`));
  if (new Set(list).size !== list.length) throw new InvalidArgumentError(where, 'distinct names', show(x));
  return list;
}

function listOrKeyword<K extends string>(x: unknown, keyword: K, where: string): string[] | K {
  if (x === keyword) return keyword;
  if (!Array.isArray(x)) throw new InvalidArgumentError(where, `"${keyword}" or a non-empty array of names`, show(x));
  return stringList(x, where);
}

function labelledClassesSetting(x: unknown): LabelledClasses {
  const where = 'protocol.labelledClasses';
  if (x === undefined) return 'each';
  if (!isObject(x)) return listOrKeyword(x, 'each', where);
  const keys = Object.keys(x);
  if (keys.length === 0) throw new InvalidArgumentError(where, '"each", a non-empty array of names, or an object { normalClass: [names] }', '{}');
  const out: Record<string, string[]> = {};
  for (const key of keys) {
    const list = x[key];
    if (!Array.isArray(list)) throw new InvalidArgumentError(`${where}[${show(key)}]`, 'a non-empty array of names', show(list));
    out[key] = stringList(list, `${where}[${show(key)}]`);
  }
  return out;
}

function trainingSettings(x: unknown, where: string): TrainingSettings {
  if (x === undefined) return {};
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object of trainer options', show(x));
  noExtraKeys(x, TRAINING_KEYS, where);
  const out: TrainingSettings = {};
  if (x.batchSize !== undefined) out.batchSize = integer(x.batchSize, `${where}.batchSize`, 1);
  if (x.microBatches !== undefined) out.microBatches = integer(x.microBatches, `${where}.microBatches`, 1);
  for (const k of ['aeLearningRate', 'dLearningRate', 'margin', 'clipNorm'] as const) {
    if (x[k] !== undefined) out[k] = positive(x[k], `${where}.${k}`);
  }
  if (x.gamma !== undefined) {
    const g = x.gamma;
    if (typeof g !== 'number' || !(g > 0 && g <= 1)) throw new InvalidArgumentError(`${where}.gamma`, 'a number in (0, 1]', show(g));
    out.gamma = g;
  }
  if (x.lambda !== undefined) {
    const l = x.lambda;
    if (typeof l !== 'number' || !Number.isFinite(l) || l < 0) throw new InvalidArgumentError(`${where}.lambda`, 'a finite number ≥ 0', show(l));
    out.lambda = l;
  }
  return out;
}

function labelledSetting(x: unknown, where: string): LabelledSetting {
  if (x === 'elastic') return x;
  if (typeof x !== 'number' || !(x >= 0 && x < 1)) throw new InvalidArgumentError(where, 'a ratio r_l in [0, 1) or "elastic"', show(x));
  return x;
}

// -----------------------------------------------------------------------------------------
// the sections

function datasetSpec(x: unknown): DatasetSpec {
  const where = 'protocol.dataset';
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { kind, root, ... }', show(x));
  const kinds = [...MULTI_CLASS_KINDS, ...CATEGORY_KINDS] as string[];
  if (typeof x.kind !== 'string' || !kinds.includes(x.kind)) {
    throw new InvalidArgumentError(`${where}.kind`, `one of ${kinds.join(', ')}`, show(x.kind));
  }
  if ((MULTI_CLASS_KINDS as readonly string[]).includes(x.kind)) {
    noExtraKeys(x, ['kind', 'root'], where);
    return { kind: x.kind as MultiClassKind, root: string(x.root, `${where}.root`) };
  }
  if (x.kind === 'mvtec' || x.kind === 'visa') {
    noExtraKeys(x, ['kind', 'root', 'categories', 'splitFile'], where);
    const spec: RealCategoryDatasetSpec = {
      kind: x.kind,
      root: string(x.root, `${where}.root`),
      categories: listOrKeyword(x.categories, 'all', `${where}.categories`),
    };
    if (x.splitFile !== undefined) {
      if (x.kind !== 'visa') throw new InvalidArgumentError(`${where}.splitFile`, 'only for kind "visa"');
      spec.splitFile = string(x.splitFile, `${where}.splitFile`);
    }
    return spec;
  }
  noExtraKeys(x, ['kind', 'root', 'categories', 'defects', 'seed', 'trainCount', 'testGoodCount', 'testDefectCount'], where);
  const spec: SyntheticDatasetSpec = { kind: 'synthetic' };
  if (x.root !== undefined) spec.root = string(x.root, `${where}.root`);
  if (x.categories !== undefined) {
    const c = stringList(x.categories, `${where}.categories`);
    c.forEach((v, i) => {
      if (!(SYNTHETIC_CLASSES as readonly string[]).includes(v)) {
        throw new InvalidArgumentError(`${where}.categories[${i}]`, `one of ${SYNTHETIC_CLASSES.join(', ')}`, show(v));
      }
    });
    spec.categories = c as SyntheticClass[];
  }
  if (x.defects !== undefined) {
    const d = stringList(x.defects, `${where}.defects`);
    d.forEach((v, i) => {
      if (!(SYNTHETIC_DEFECTS as readonly string[]).includes(v)) {
        throw new InvalidArgumentError(`${where}.defects[${i}]`, `one of ${SYNTHETIC_DEFECTS.join(', ')}`, show(v));
      }
    });
    if (d.length < 2) throw new InvalidArgumentError(`${where}.defects`, 'at least two defect kinds (one seen, others unseen)', show(d));
    spec.defects = d as SyntheticDefect[];
  }
  if (x.seed !== undefined) spec.seed = integer(x.seed, `${where}.seed`, 0);
  for (const k of ['trainCount', 'testGoodCount', 'testDefectCount'] as const) {
    if (x[k] !== undefined) spec[k] = integer(x[k], `${where}.${k}`, 1);
  }
  return spec;
}

function modelSettings(x: unknown, imageSize: number): Required<ModelSettings> {
  const where = 'protocol.model';
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { arch, layers, weights? }', show(x));
  noExtraKeys(x, ['arch', 'layers', 'weights', 'seed'], where);
  if (typeof x.arch !== 'string' || !Object.prototype.hasOwnProperty.call(RESNET_CONFIGS, x.arch)) {
    throw new InvalidArgumentError(`${where}.arch`, `one of ${Object.keys(RESNET_CONFIGS).join(', ')}`, show(x.arch));
  }
  const layers = stringList(x.layers, `${where}.layers`);
  layers.forEach((l, i) => {
    if (!(LAYER_NAMES as readonly string[]).includes(l)) {
      throw new InvalidArgumentError(`${where}.layers[${i}]`, `one of ${LAYER_NAMES.join(', ')}`, show(l));
    }
  });
  const weights = x.weights === undefined ? 'random' : string(x.weights, `${where}.weights`);
  const seed = x.seed === undefined ? 0 : integer(x.seed, `${where}.seed`, 0);
  if (weights !== 'random' && seed !== 0) {
    throw new InvalidArgumentError(`${where}.seed`, 'no seed (or 0) with a weights file: it only seeds random weights', String(seed));
  }
  try {
    FeatureAutoEncoder.validateInputSize(imageSize, layers as LayerName[]);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new InvalidArgumentError('protocol.imageSize', e.message.replace(/^Invalid [^:]*: expected /, '').replace(/\.$/, ''), String(imageSize));
    throw e;
  }
  return { arch: x.arch as ResNetName, layers: layers as LayerName[], weights, seed };
}

function scoringSettings(x: unknown): Required<ScoringSettings> {
  const where = 'protocol.scoring';
  if (x === undefined) return { sigma: 4, topK: 100 };
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { sigma?, topK? }', show(x));
  noExtraKeys(x, ['sigma', 'topK'], where);
  const sigma = x.sigma === undefined ? 4 : positive(x.sigma, `${where}.sigma`);
  const topK = x.topK === undefined ? 100 : x.topK === 'mean' ? 'mean' : integer(x.topK, `${where}.topK`, 1);
  return { sigma, topK };
}

function limitSettings(x: unknown): LimitSettings | null {
  const where = 'protocol.limits';
  if (x === undefined || x === null) return null;
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { trainPerClass?, testPerClass?, seed? }', show(x));
  noExtraKeys(x, ['trainPerClass', 'testPerClass', 'seed'], where);
  const out: LimitSettings = {};
  if (x.trainPerClass !== undefined) out.trainPerClass = integer(x.trainPerClass, `${where}.trainPerClass`, 1);
  if (x.testPerClass !== undefined) out.testPerClass = integer(x.testPerClass, `${where}.testPerClass`, 1);
  out.seed = x.seed === undefined ? 0 : integer(x.seed, `${where}.seed`, 0);
  return out;
}

function reportSettings(x: unknown): { groupBy: GroupField[][]; metrics: string[] | null } {
  const where = 'protocol.report';
  const defaults = DEFAULT_GROUP_BY.map((g) => [...g]);
  if (x === undefined) return { groupBy: defaults, metrics: null };
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { groupBy?, metrics? }', show(x));
  noExtraKeys(x, ['groupBy', 'metrics'], where);
  let groupBy = defaults;
  if (x.groupBy !== undefined) {
    if (!Array.isArray(x.groupBy) || x.groupBy.length === 0) throw new InvalidArgumentError(`${where}.groupBy`, 'a non-empty array of field lists', show(x.groupBy));
    groupBy = x.groupBy.map((g, i) => {
      const fields = stringList(g, `${where}.groupBy[${i}]`);
      fields.forEach((f, j) => {
        if (!(GROUP_FIELDS as readonly string[]).includes(f)) {
          throw new InvalidArgumentError(`${where}.groupBy[${i}][${j}]`, `one of ${GROUP_FIELDS.join(', ')}`, show(f));
        }
      });
      return fields as GroupField[];
    });
  }
  const metrics = x.metrics === undefined || x.metrics === null ? null : stringList(x.metrics, `${where}.metrics`);
  return { groupBy, metrics };
}

// -----------------------------------------------------------------------------------------

/** The normal class a medical reader uses by default. */
export const DEFAULT_NORMAL_CLASS: Readonly<Record<Exclude<MultiClassKind, 'fashion-mnist' | 'mnist'>, string>> = {
  'chest-xray': 'NORMAL',
  oct2017: 'NORMAL',
  br35h: 'no',
  isic2018: 'NV',
};

/**
 * Validates a protocol (parsed JSON) and fills in its defaults.
 *
 * @throws InvalidArgumentError naming the first invalid field, e.g. `protocol.arms[0].strategy`.
 *
 * @example
 * ```ts
 * const protocol = parseProtocol(JSON.parse(await readFile('protocols/fashion-mnist-smoke.json', 'utf8')));
 * ```
 */
export function parseProtocol(value: unknown): ResolvedProtocol {
  if (!isObject(value)) throw new InvalidArgumentError('protocol', 'a JSON object', show(value));
  noExtraKeys(
    value,
    [
      'format', 'name', 'description', 'dataset', 'normalClasses', 'arms', 'anomalyClassCount', 'labelledClasses', 'seeds',
      'epochs', 'imageSize', 'model', 'training', 'scoring', 'selection', 'validationFraction', 'limits', 'examplesPerClass', 'report',
    ],
    'protocol',
  );
  if (value.format !== undefined && value.format !== PROTOCOL_FORMAT) {
    throw new InvalidArgumentError('protocol.format', `"${PROTOCOL_FORMAT}" (or no format field)`, show(value.format));
  }
  const name = string(value.name, 'protocol.name');
  if (value.description !== undefined && typeof value.description !== 'string') {
    throw new InvalidArgumentError('protocol.description', 'a string', show(value.description));
  }
  const dataset = datasetSpec(value.dataset);
  const multiClass = (MULTI_CLASS_KINDS as readonly string[]).includes(dataset.kind);

  let normalClasses: string[] | 'all';
  if (multiClass) {
    const kind = dataset.kind as MultiClassKind;
    if (value.normalClasses === undefined) {
      if (kind === 'fashion-mnist' || kind === 'mnist') {
        throw new InvalidArgumentError('protocol.normalClasses', `the normal classes to run (or "all") for ${kind}`);
      }
      normalClasses = [DEFAULT_NORMAL_CLASS[kind]];
    } else {
      normalClasses = listOrKeyword(value.normalClasses, 'all', 'protocol.normalClasses');
    }
  } else {
    if (value.normalClasses !== undefined && !(Array.isArray(value.normalClasses) && value.normalClasses.length === 0)) {
      throw new InvalidArgumentError('protocol.normalClasses', `nothing for ${dataset.kind} (its normal class is "good"; choose dataset.categories)`);
    }
    normalClasses = [];
  }

  if (!Array.isArray(value.arms) || value.arms.length === 0) throw new InvalidArgumentError('protocol.arms', 'a non-empty array of arms', show(value.arms));
  const arms: ResolvedArm[] = value.arms.map((a, i) => {
    const where = `protocol.arms[${i}]`;
    if (!isObject(a)) throw new InvalidArgumentError(where, 'an object { strategy, labelled, name?, training? }', show(a));
    noExtraKeys(a, ['name', 'strategy', 'labelled', 'training'], where);
    const strategy = string(a.strategy, `${where}.strategy`);
    if (!Array.isArray(a.labelled) || a.labelled.length === 0) {
      throw new InvalidArgumentError(`${where}.labelled`, 'a non-empty array of r_l values or "elastic"', show(a.labelled));
    }
    const labelled = a.labelled.map((l, j) => labelledSetting(l, `${where}.labelled[${j}]`));
    if (new Set(labelled).size !== labelled.length) throw new InvalidArgumentError(`${where}.labelled`, 'distinct values', show(a.labelled));
    return {
      name: a.name === undefined ? strategy : string(a.name, `${where}.name`),
      strategy,
      labelled,
      training: trainingSettings(a.training, `${where}.training`),
    };
  });
  const armNames = arms.map((a) => a.name);
  if (new Set(armNames).size !== armNames.length) {
    throw new InvalidArgumentError('protocol.arms', 'distinct arm names (set "name" to tell arms with the same strategy apart)', show(armNames));
  }

  const anomalyClassCount = value.anomalyClassCount === undefined ? 1 : integer(value.anomalyClassCount, 'protocol.anomalyClassCount', 1);
  const labelledClasses = labelledClassesSetting(value.labelledClasses);
  if (anomalyClassCount > 1 && labelledClasses !== 'each') {
    throw new InvalidArgumentError('protocol.labelledClasses', '"each" (or nothing) when anomalyClassCount > 1: the k classes are drawn at random per seed');
  }

  if (!Array.isArray(value.seeds) || value.seeds.length === 0) throw new InvalidArgumentError('protocol.seeds', 'a non-empty array of integer seeds', show(value.seeds));
  const seeds = value.seeds.map((s, i) => integer(s, `protocol.seeds[${i}]`, 0));
  if (new Set(seeds).size !== seeds.length) throw new InvalidArgumentError('protocol.seeds', 'distinct seeds', show(value.seeds));

  const epochs = integer(value.epochs, 'protocol.epochs', 1);
  const imageSize = integer(value.imageSize, 'protocol.imageSize', 32);
  const model = modelSettings(value.model, imageSize);
  const training = trainingSettings(value.training, 'protocol.training');
  const scoring = scoringSettings(value.scoring);
  const selection = value.selection === undefined ? 'validation' : value.selection;
  if (selection !== 'validation' && selection !== 'last') {
    throw new InvalidArgumentError('protocol.selection', '"validation" or "last"', show(selection));
  }
  let validationFraction = 0.05;
  if (value.validationFraction !== undefined) {
    const f = value.validationFraction;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new InvalidArgumentError('protocol.validationFraction', 'a number in (0, 1)', show(f));
    validationFraction = f;
  }
  const limits = limitSettings(value.limits);
  const examplesPerClass = value.examplesPerClass === undefined ? 2 : integer(value.examplesPerClass, 'protocol.examplesPerClass', 0);
  const report = reportSettings(value.report);

  return {
    name,
    description: typeof value.description === 'string' ? value.description : '',
    dataset,
    normalClasses,
    arms,
    anomalyClassCount,
    labelledClasses,
    seeds,
    epochs,
    imageSize,
    model,
    training,
    scoring,
    selection,
    validationFraction,
    limits,
    examplesPerClass,
    report,
  };
}

/**
 * Reads and validates a protocol file.
 *
 * @throws FileFormatError naming the file if it cannot be read or is not JSON;
 *   InvalidArgumentError (prefixed with the file name) for an invalid field.
 */
export async function readProtocol(path: string): Promise<ResolvedProtocol> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FileFormatError(path, `cannot read protocol file (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  try {
    return parseProtocol(json);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new FileFormatError(path, e.message);
    throw e;
  }
}
