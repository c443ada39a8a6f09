/**
 * Which images a training run uses — normal images, labelled anomalies and a validation
 * hold-out — formed by the dataset's setting (see `DatasetSetting`):
 *
 * - `protocol` (multi-class sets): the paper's protocol (`sampleProtocol`, §8 of
 *   docs/reference-implementation.md): a balanced validation hold-out, the normal class, and
 *   r_l labelled anomalies drawn from k anomaly classes;
 * - `industrial` (per-category sets): every normal training image; labelled anomalies are
 *   elastic transformations of them drawn afresh per batch (§5), or — for the synthetic set,
 *   with r_l > 0 — rendered images of the seen defect kinds. Optionally a seeded fraction of
 *   the normal images is held out for validation, with anomalies made for it;
 * - `folder`: normal/ for training and everything in anomalous/ as labelled anomalies.
 *
 * The split lists items only; `run-data.ts` turns them into pixels.
 */

import type { LabelledItem } from '../data/labelled.js';
import { labelledAnomalyCount, sampleProtocol } from '../data/sampler.js';
import { Rng } from '../nn/random.js';
import type { DataItem, Dataset } from './datasets.js';
import { derivedSeed } from './keys.js';

/** Images of the seen defect kinds, rendered by the synthetic set's generator (never test images). */
export interface RenderedAnomalies {
  kind: 'rendered';
  /** The defect kinds, used in turn. */
  defects: string[];
  /** Number of images. */
  count: number;
}

/** The synthetic set's extras: what {@link trainingSplit} needs to render labelled anomalies. */
export interface SyntheticExtras {
  /** The set's defect kinds (the labelled ones are drawn from these). */
  defects: readonly string[];
  /** The set's generator seed (part of every derived seed of its runs). */
  seed: number;
}

/** Options of {@link trainingSplit}. */
export interface SplitOptions {
  /**
   * r_l in [0, 1): labelled anomalies as a fraction of the final training set; or `'elastic'`:
   * elastic transformations of the normal images (per-category and folder sets; a multi-class
   * set then gets no labelled anomalies). For per-category sets any r_l > 0 means elastic
   * anomalies, unless `synthetic` is given (then it renders r_l of seen defect kinds).
   */
  labelled: number | 'elastic';
  /** k ≥ 1: number of anomaly classes the labelled anomalies come from. */
  k: number;
  /** With k = 1: the class of the labelled anomalies (the dataset's name for it). */
  anomalyClass?: string;
  /** Validation hold-out fraction in [0, 1). */
  validationFraction: number;
  /**
   * Per-category sets: hold out `validationFraction` of the normal training images for
   * validation (seeded by `seed`), with anomalies made for it. Default false: train on all.
   */
  industrialValidation?: boolean;
  /** Cap on the normal training images (a seeded subset). */
  maxNormal?: number;
  /** Seed of the split. */
  seed: number;
  /** The synthetic set's extras (per-category sets only). */
  synthetic?: SyntheticExtras;
}

/** What a split did that its caller may want to report. */
export interface SplitFacts {
  /** `maxNormal` took effect: the images kept, of how many. */
  normalCap: { kept: number; of: number } | null;
  /** A folder set asked for labelled anomalies but anomalous/ is empty. */
  noFolderAnomalies: boolean;
  /** m, the labelled anomalies r_l asks for (0 where r_l does not apply). */
  requestedAnomalies: number;
  /** A validation hold-out was asked for but came out empty (too few images). */
  emptyValidation: boolean;
}

/** The images of one training run. */
export interface TrainingSplit {
  normal: DataItem[];
  /**
   * Labelled anomalies: images, `'elastic'` (made from the normal images on the fly),
   * rendered images, or `null` (none: pure reconstruction).
   */
  anomalies: DataItem[] | 'elastic' | RenderedAnomalies | null;
  /** Held-out labelled images for model selection (empty: none). */
  validation: DataItem[];
  /** Anomalies added to the held-out normal images of a per-category set, or null. */
  validationAnomalies: 'elastic' | RenderedAnomalies | null;
  /** Classes the labelled anomalies come from (images only; [] for elastic ones). */
  anomalyClasses: string[];
  facts: SplitFacts;
}

/** A seeded random subset of `n` of `items`, in their original order. */
export function subsample<T>(items: readonly T[], n: number, seed: number): T[] {
  if (items.length <= n) return [...items];
  const keep = new Set(new Rng(seed).shuffle(items.map((_, i) => i)).slice(0, n));
  return items.filter((_, i) => keep.has(i));
}

/** At most `perClass` items of each class, chosen by a seeded shuffle, in their original order. */
export function limitPerClass<T extends LabelledItem>(items: readonly T[], perClass: number, seed: number): T[] {
  const rng = new Rng(seed);
  const byClass = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = byClass.get(item.className) ?? [];
    list.push(i);
    byClass.set(item.className, list);
  });
  const keep = new Set<number>();
  for (const name of [...byClass.keys()].sort()) {
    for (const i of rng.shuffle(byClass.get(name) as number[]).slice(0, perClass)) keep.add(i);
  }
  return items.filter((_, i) => keep.has(i));
}

/** Sub-sampling of a dataset for smoke runs: at most so many images per class. */
export interface DatasetLimits {
  trainPerClass?: number;
  testPerClass?: number;
  /** Seed of the sub-sampling (default 0). */
  seed?: number;
}

/** `dataset` with its training and test images limited per class (see {@link limitPerClass}). */
export function limitDataset(dataset: Dataset, limits: DatasetLimits | null | undefined): Dataset {
  const limit = (items: DataItem[], n: number | undefined) => (n === undefined || limits == null ? [...items] : limitPerClass(items, n, limits.seed ?? 0));
  return { ...dataset, train: limit(dataset.train, limits?.trainPerClass), test: limit(dataset.test, limits?.testPerClass) };
}

/**
 * Forms the training split of `dataset` (see the module notes).
 *
 * @throws InvalidArgumentError from `sampleProtocol` for protocol options the dataset cannot
 *   satisfy (the command line checks them first, for messages in the user's terms).
 */
export function trainingSplit(dataset: Dataset, o: SplitOptions): TrainingSplit {
  const facts: SplitFacts = { normalCap: null, noFolderAnomalies: false, requestedAnomalies: 0, emptyValidation: false };
  const normalItems = dataset.train.filter((t) => t.label === 0);
  const capNormal = (items: DataItem[]): DataItem[] => {
    if (o.maxNormal === undefined || items.length <= o.maxNormal) return items;
    facts.normalCap = { kept: o.maxNormal, of: items.length };
    return subsample(items, o.maxNormal, o.seed);
  };

  if (dataset.setting === 'industrial') return industrialSplit(capNormal(normalItems), o, facts);
  if (dataset.setting === 'folder') {
    const anomalies = dataset.train.filter((t) => t.label === 1);
    const wanted = o.labelled === 'elastic' || o.labelled > 0;
    facts.noFolderAnomalies = wanted && o.labelled !== 'elastic' && anomalies.length === 0;
    return {
      normal: capNormal(normalItems),
      anomalies: o.labelled === 'elastic' ? 'elastic' : wanted && anomalies.length > 0 ? anomalies : null,
      validation: [],
      validationAnomalies: null,
      anomalyClasses: [...new Set(anomalies.map((a) => a.className))],
      facts,
    };
  }

  // The paper's protocol; 'elastic' does not apply to multi-class sets (no labelled anomalies).
  const ratio = o.labelled === 'elastic' ? 0 : o.labelled;
  const train = o.maxNormal === undefined ? dataset.train : [...capNormal(normalItems), ...dataset.train.filter((t) => t.label === 1)];
  const split = sampleProtocol(train, {
    normalClass: dataset.normalClass,
    labelledRatio: ratio,
    anomalyClassCount: o.k,
    anomalyClass: o.anomalyClass,
    validationFraction: o.validationFraction,
    seed: o.seed,
    classes: dataset.classes,
  });
  facts.requestedAnomalies = split.requestedAnomalies;
  const hasBoth = split.validation.some((v) => v.label === 0) && split.validation.some((v) => v.label === 1);
  facts.emptyValidation = o.validationFraction > 0 && !hasBoth;
  return {
    normal: split.normal,
    anomalies: ratio > 0 ? split.labelledAnomalies : null,
    validation: hasBoth ? split.validation : [],
    validationAnomalies: null,
    anomalyClasses: split.labelledClasses,
    facts,
  };
}

/** The split of a per-category set (normal images only; see the module notes). */
function industrialSplit(items: DataItem[], o: SplitOptions, facts: SplitFacts): TrainingSplit {
  // Validation hold-out of normal images (seeded by the run's seed).
  const nVal = o.industrialValidation === true ? Math.floor(o.validationFraction * items.length) : 0;
  const order = new Rng(derivedSeed('holdout', o.seed)).shuffle(items.map((_, i) => i));
  const heldOut = order.slice(0, nVal).sort((a, b) => a - b);
  const kept = order.slice(nVal).sort((a, b) => a - b);
  const normal = kept.map((i) => items[i]);
  const validation = heldOut.map((i) => items[i]);
  facts.emptyValidation = o.industrialValidation === true && o.validationFraction > 0 && nVal === 0;

  let anomalies: TrainingSplit['anomalies'] = null;
  let validationAnomalies: TrainingSplit['validationAnomalies'] = nVal > 0 ? 'elastic' : null;
  if (o.labelled === 'elastic' || (o.labelled > 0 && o.synthetic === undefined)) {
    anomalies = 'elastic';
  } else if (o.labelled > 0 && o.synthetic !== undefined) {
    const defects =
      o.anomalyClass !== undefined
        ? [o.anomalyClass]
        : new Rng(derivedSeed('kinds', o.synthetic.seed, o.seed)).shuffle([...o.synthetic.defects]).slice(0, o.k);
    facts.requestedAnomalies = labelledAnomalyCount(normal.length, o.labelled);
    anomalies = { kind: 'rendered', defects, count: facts.requestedAnomalies };
    validationAnomalies = nVal > 0 ? { kind: 'rendered', defects, count: nVal } : null;
  }
  return { normal, anomalies, validation, validationAnomalies, anomalyClasses: [], facts };
}
