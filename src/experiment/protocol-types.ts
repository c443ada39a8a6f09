/**
 * The types of an experiment protocol: the JSON a protocol file holds ({@link
 * ExperimentProtocol}) and the same with every default filled in ({@link ResolvedProtocol}),
 * which the runner uses and hashes.
 */

import type { LayerName, ResNetName } from '../backbone/configs.js';
import type { SyntheticClass, SyntheticDefect } from '../data/synthetic.js';
import type { AnomalyShuffle } from '../training/batches.js';
import type { MultiClassKind } from '../pipeline/datasets.js';

/** Value of a protocol file's optional `"format"` field. */
export const PROTOCOL_FORMAT = 'ckaad-experiment-protocol';

// The data set kinds are the pipeline registry's (src/pipeline/datasets.ts).
export { CATEGORY_KINDS, MULTI_CLASS_KINDS } from '../pipeline/datasets.js';
export type { CategoryKind, MultiClassKind } from '../pipeline/datasets.js';

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
  /**
   * When the labelled anomalies are reshuffled (see `TrainerOptions.anomalyShuffle`):
   * `'every-pass'` (default) or `'every-epoch'` (the authors' code).
   */
  anomalyShuffle?: AnomalyShuffle;
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
