/**
 * Which images a training run uses: normal images, labelled anomalies and a validation
 * hold-out, formed by the dataset's setting (see `DatasetSetting`). Every check here names the
 * command-line option at fault.
 */

import { sampleProtocol } from '../data/sampler.js';
import { Rng } from '../nn/random.js';
import type { CliDataset, CliItem } from './dataset.js';
import { OptionError } from './errors.js';

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

/** A seeded random subset of `n` of `items`, in their original order. */
export function subsample<T>(items: readonly T[], n: number, seed: number): T[] {
  if (items.length <= n) return [...items];
  const keep = new Set(new Rng(seed).shuffle(items.map((_, i) => i)).slice(0, n));
  return items.filter((_, i) => keep.has(i));
}

function quoted(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

/**
 * Forms the training split of `dataset`.
 *
 * @throws OptionError naming `--k`, `--anomaly-class` or `--normal-class` when the dataset
 *   cannot satisfy them (k larger than the number of anomaly classes, a class with no images…).
 */
export function trainingSplit(dataset: CliDataset, o: SplitOptions): TrainingSplit {
  const notes: string[] = [];
  const normalItems = dataset.train.filter((t) => t.label === 0);
  if (normalItems.length === 0) {
    throw new OptionError('--normal-class', `a class with training images in ${dataset.root}`, `'${dataset.normalClass}' (no images)`);
  }
  const capNormal = (items: CliItem[]): CliItem[] => {
    if (o.maxNormal === undefined || items.length <= o.maxNormal) return items;
    notes.push(`using ${o.maxNormal} of ${items.length} normal training images (--max-normal, seed ${o.seed})`);
    return subsample(items, o.maxNormal, o.seed);
  };

  if (dataset.setting === 'industrial') {
    return { normal: capNormal(normalItems), anomalies: o.ratio > 0 ? 'elastic' : null, validation: [], anomalyClasses: [], notes };
  }
  if (dataset.setting === 'folder') {
    const anomalies = dataset.train.filter((t) => t.label === 1);
    if (o.ratio > 0 && anomalies.length === 0) notes.push('no labelled anomalies in anomalous/: training is pure reconstruction');
    return {
      normal: capNormal(normalItems),
      anomalies: o.ratio > 0 && anomalies.length > 0 ? anomalies : null,
      validation: [],
      anomalyClasses: [...new Set(anomalies.map((a) => a.className))],
      notes,
    };
  }

  // The paper's protocol (docs/reference-implementation.md §8).
  const anomalyClasses = dataset.classes.filter((c) => c !== dataset.normalClass);
  const counts = new Map<string, number>();
  for (const t of dataset.train) counts.set(t.className, (counts.get(t.className) ?? 0) + 1);
  if (o.ratio > 0) {
    if (o.k > anomalyClasses.length) {
      throw new OptionError(
        '--k',
        `at most the number of anomaly classes, ${anomalyClasses.length} (${quoted(anomalyClasses)})`,
        String(o.k),
      );
    }
    if (o.k === 1) {
      if (o.anomalyClass === undefined && anomalyClasses.length > 1) {
        throw new OptionError('--anomaly-class', `the class of the labelled anomalies with --k 1: one of ${quoted(anomalyClasses)}`, 'nothing');
      }
      const chosen = o.anomalyClass ?? anomalyClasses[0];
      const match = anomalyClasses.find((c) => c === chosen) ?? anomalyClasses.find((c) => c.toLowerCase() === chosen.toLowerCase());
      if (match === undefined) {
        throw new OptionError('--anomaly-class', `an anomaly class of this dataset: one of ${quoted(anomalyClasses)}`, `'${chosen}'`);
      }
      if ((counts.get(match) ?? 0) === 0) {
        throw new OptionError('--anomaly-class', `a class with training images in ${dataset.root}`, `'${match}' (no images)`);
      }
      o = { ...o, anomalyClass: match };
    } else if (o.anomalyClass !== undefined) {
      throw new OptionError('--anomaly-class', 'to be used only with --k 1 (with --k > 1 the classes are drawn at random)', `--k ${o.k}`);
    }
  }
  const train = o.maxNormal === undefined ? dataset.train : [...capNormal(normalItems), ...dataset.train.filter((t) => t.label === 1)];
  const split = sampleProtocol(train, {
    normalClass: dataset.normalClass,
    labelledRatio: o.ratio,
    anomalyClassCount: o.k,
    anomalyClass: o.anomalyClass,
    validationFraction: o.validationFraction,
    seed: o.seed,
    classes: dataset.classes,
  });
  if (o.ratio > 0 && split.labelledAnomalies.length < split.requestedAnomalies) {
    notes.push(
      `only ${split.labelledAnomalies.length} labelled anomalies available in ${quoted(split.labelledClasses)} (r_l = ${o.ratio} asks for ${split.requestedAnomalies})`,
    );
  }
  if (o.ratio > 0 && split.labelledAnomalies.length === 0) {
    throw new OptionError('--ratio', `a ratio that leaves at least one labelled anomaly for ${split.normal.length} normal images`, String(o.ratio));
  }
  const hasBoth = split.validation.some((v) => v.label === 0) && split.validation.some((v) => v.label === 1);
  if (o.validationFraction > 0 && !hasBoth) notes.push('the validation hold-out is empty (too few images): the last epoch is kept');
  return {
    normal: split.normal,
    anomalies: o.ratio > 0 ? split.labelledAnomalies : null,
    validation: hasBoth ? split.validation : [],
    anomalyClasses: split.labelledClasses,
    notes,
  };
}
