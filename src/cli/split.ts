/**
 * Which images a training run uses, as the command line asks for them: the pipeline's split
 * (src/pipeline/split.ts) after checking the protocol options against the dataset, with every
 * error naming the option at fault and notes of what the user should know.
 */

import { trainingSplit as splitOf } from '../pipeline/split.js';
import type { CliDataset, CliItem } from './dataset.js';
import { OptionError } from './errors.js';

export { subsample } from '../pipeline/split.js';

/** Options of {@link trainingSplit} (the protocol options' values plus the seed). */
export interface SplitOptions {
  /** r_l in [0, 1). */
  ratio: number;
  /** k ≥ 1. */
  k: number;
  anomalyClass?: string;
  /** Validation hold-out fraction in [0, 1). */
  validationFraction: number;
  /** Cap on the normal training images. */
  maxNormal?: number;
  seed: number;
}

/** The images of one training run. */
export interface TrainingSplit {
  normal: CliItem[];
  /**
   * Labelled anomalies: images, `'elastic'` (made from the normal images on the fly), or
   * `null` (none: pure reconstruction).
   */
  anomalies: CliItem[] | 'elastic' | null;
  /** Held-out labelled images for model selection (empty: none). */
  validation: CliItem[];
  /** Classes the labelled anomalies come from. */
  anomalyClasses: string[];
  /** What was done that the user should know about (subsampling, too few anomalies). */
  notes: string[];
}

function quoted(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

/**
 * Checks `--normal-class`, `--k` and `--anomaly-class` against the dataset, and resolves the
 * anomaly class case-insensitively to the dataset's name for it.
 */
function checkOptions(dataset: CliDataset, o: SplitOptions): string | undefined {
  if (!dataset.train.some((t) => t.label === 0)) {
    throw new OptionError('--normal-class', `a class with training images in ${dataset.root}`, `'${dataset.normalClass}' (no images)`);
  }
  if (dataset.setting !== 'protocol' || o.ratio <= 0) return o.anomalyClass;
  const anomalyClasses = dataset.classes.filter((c) => c !== dataset.normalClass);
  if (o.k > anomalyClasses.length) {
    throw new OptionError('--k', `at most the number of anomaly classes, ${anomalyClasses.length} (${quoted(anomalyClasses)})`, String(o.k));
  }
  if (o.k > 1) {
    if (o.anomalyClass !== undefined) {
      throw new OptionError('--anomaly-class', 'to be used only with --k 1 (with --k > 1 the classes are drawn at random)', `--k ${o.k}`);
    }
    return undefined;
  }
  if (o.anomalyClass === undefined && anomalyClasses.length > 1) {
    throw new OptionError('--anomaly-class', `the class of the labelled anomalies with --k 1: one of ${quoted(anomalyClasses)}`, 'nothing');
  }
  const chosen = o.anomalyClass ?? anomalyClasses[0];
  const match = anomalyClasses.find((c) => c === chosen) ?? anomalyClasses.find((c) => c.toLowerCase() === chosen.toLowerCase());
  if (match === undefined) {
    throw new OptionError('--anomaly-class', `an anomaly class of this dataset: one of ${quoted(anomalyClasses)}`, `'${chosen}'`);
  }
  if (!dataset.train.some((t) => t.className === match)) {
    throw new OptionError('--anomaly-class', `a class with training images in ${dataset.root}`, `'${match}' (no images)`);
  }
  return match;
}

/**
 * Forms the training split of `dataset`: mvtec / visa train on every normal image with
 * elastic anomalies (`--ratio` 0 turns them off), folder sets on normal/ and anomalous/, and
 * the other sets by the paper's protocol.
 *
 * @throws OptionError naming `--k`, `--anomaly-class`, `--normal-class` or `--ratio` when the
 *   dataset cannot satisfy them (k larger than the number of anomaly classes, a class with no
 *   images, a ratio that leaves no labelled anomaly…).
 */
export function trainingSplit(dataset: CliDataset, o: SplitOptions): TrainingSplit {
  const anomalyClass = checkOptions(dataset, o);
  const split = splitOf(dataset, { labelled: o.ratio, k: o.k, anomalyClass, validationFraction: o.validationFraction, maxNormal: o.maxNormal, seed: o.seed });
  const { facts } = split;
  const notes: string[] = [];
  const capNote = () => {
    if (facts.normalCap !== null) notes.push(`using ${facts.normalCap.kept} of ${facts.normalCap.of} normal training images (--max-normal, seed ${o.seed})`);
  };
  if (facts.noFolderAnomalies) notes.push('no labelled anomalies in anomalous/: training is pure reconstruction');
  capNote();
  const anomalies = Array.isArray(split.anomalies) || split.anomalies === 'elastic' ? split.anomalies : null;
  if (dataset.setting === 'protocol' && o.ratio > 0) {
    const got = (anomalies as CliItem[]).length;
    if (got < facts.requestedAnomalies) {
      notes.push(`only ${got} labelled anomalies available in ${quoted(split.anomalyClasses)} (r_l = ${o.ratio} asks for ${facts.requestedAnomalies})`);
    }
    if (got === 0) {
      throw new OptionError('--ratio', `a ratio that leaves at least one labelled anomaly for ${split.normal.length} normal images`, String(o.ratio));
    }
  }
  if (facts.emptyValidation) notes.push('the validation hold-out is empty (too few images): the last epoch is kept');
  return { normal: split.normal, anomalies, validation: split.validation, anomalyClasses: split.anomalyClasses, notes };
}
