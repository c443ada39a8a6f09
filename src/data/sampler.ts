/**
 * The paper's experimental protocol for datasets with several classes (docs/reference-implementation.md §8): from a
 * training set holding every class, hold out a small balanced validation split, then keep
 * the normal class plus a fraction r_l of labelled anomalies drawn from k anomaly classes.
 *
 * What the reference code does, and where we differ:
 * - Validation: it shuffles the normal and the anomalous training indices, computes
 *   n = min(⌊0.05·#normal⌋, ⌊0.05·#anomalous⌋) and moves the first n + 1 of each into the
 *   validation split (an off-by-one); we move exactly n of each. It defines "normal" as
 *   class 0 whatever normal class was chosen (docs/reference-implementation.md §9); we use the chosen normal class.
 *   Validation anomalies come from every anomaly class, as in the reference.
 * - Labelled anomalies (after the hold-out): m = round(n_normal / (1 − r_l) − n_normal),
 *   so that anomalies make up r_l of the final training set; from one chosen class
 *   (k = 1) or from k classes drawn at random (k > 1); the pooled images of those classes
 *   are shuffled and the first m kept. When the classes hold fewer than m images, all are
 *   kept (as the reference's slicing does) and `requestedAnomalies` records m.
 *   Python's `round` rounds halves to even; so do we.
 */

import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import type { Label, LabelledItem } from './labelled.js';

/** Options of {@link sampleProtocol}. */
export interface ProtocolOptions {
  /** The normal class (label 0); every other class is anomalous. Required. */
  normalClass: string;
  /** r_l: fraction of labelled anomalies in the final training set, in [0, 1). Required. */
  labelledRatio: number;
  /** k: number of anomaly classes the labelled anomalies come from; default 1. */
  anomalyClassCount?: number;
  /**
   * With k = 1: the class the labelled anomalies come from. Required when the dataset has
   * more than one anomaly class (the paper runs one experiment per class).
   */
  anomalyClass?: string;
  /** Fraction of each of normal / anomalous held out for validation; default 0.05. */
  validationFraction?: number;
  /** Seed of the shuffles and class draw; default 0. */
  seed?: number;
  /** The dataset's classes (e.g. a reader's `classes`); default: the classes seen in `train`, sorted. */
  classes?: readonly string[];
}

/** The result of {@link sampleProtocol}: copies of the input items, relabelled. */
export interface ProtocolSplit<T extends LabelledItem> {
  /** Normal training images (all normal images not held out), in input order. */
  normal: (T & { label: Label })[];
  /** Labelled anomalous training images, shuffled. */
  labelledAnomalies: (T & { label: Label })[];
  /** Held-out validation images: n normal followed by n anomalous. */
  validation: (T & { label: Label })[];
  /** The anomaly classes the labelled anomalies were drawn from. */
  labelledClasses: string[];
  /** m = round(n_normal / (1 − r_l) − n_normal), the number of anomalies asked for. */
  requestedAnomalies: number;
}

/** Python 3's `round`: nearest integer, halves to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Number of labelled anomalies for `normalCount` normal images at ratio `ratio`
 * (r_l of the final training set): m = round(n / (1 − r_l) − n).
 */
export function labelledAnomalyCount(normalCount: number, ratio: number): number {
  return roundHalfEven(normalCount / (1 - ratio) - normalCount);
}

/**
 * Split a multi-class training set by the paper's protocol (see the module notes).
 *
 * @param train every training item with its `className` (a reader's `train`).
 * @returns relabelled copies: label 0 for `normalClass`, 1 for the rest.
 * @throws InvalidArgumentError when r_l ∉ [0, 1), k is not an integer in [1, number of
 *   anomaly classes], a class name is unknown, or the anomaly class equals the normal one.
 *
 * @example
 * ```ts
 * const ds = await readOct2017('/data/OCT2017');
 * const split = sampleProtocol(ds.train, { normalClass: 'NORMAL', labelledRatio: 0.05,
 *   anomalyClass: 'CNV', seed: 1 });
 * split.normal.length; split.labelledAnomalies.length; split.validation.length;
 * ```
 */
export function sampleProtocol<T extends LabelledItem>(train: readonly T[], options: ProtocolOptions): ProtocolSplit<T> {
  const { normalClass, labelledRatio: ratio, anomalyClassCount: k = 1, validationFraction = 0.05, seed = 0 } = options ?? ({} as ProtocolOptions);
  if (!Array.isArray(train) || train.length === 0) throw new InvalidArgumentError('train', 'a non-empty array of labelled items');
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio < 1)) {
    throw new InvalidArgumentError('options.labelledRatio', 'a number in [0, 1) (r_l)', String(ratio));
  }
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new InvalidArgumentError('options.validationFraction', 'a number in [0, 1)', String(validationFraction));
  }
  const classes = options.classes ? [...options.classes] : [...new Set(train.map((t) => t.className))].sort();
  if (!classes.includes(normalClass)) {
    throw new InvalidArgumentError('options.normalClass', `one of ${classes.map((c) => `'${c}'`).join(', ')}`, `'${normalClass}'`);
  }
  for (const t of train) {
    if (!classes.includes(t.className)) {
      throw new InvalidArgumentError('train', `items of the classes ${classes.join(', ')}`, `an item of class '${t.className}'`);
    }
  }
  const anomalyClasses = classes.filter((c) => c !== normalClass);
  if (ratio > 0) {
    if (!Number.isInteger(k) || k < 1 || k > anomalyClasses.length) {
      throw new InvalidArgumentError(
        'options.anomalyClassCount',
        `an integer in [1, ${anomalyClasses.length}] (anomaly classes: ${anomalyClasses.join(', ')})`,
        String(k),
      );
    }
  }
  const rng = new Rng(seed);
  const relabel = (t: T): T & { label: Label } => ({ ...t, label: t.className === normalClass ? 0 : 1 });

  // 1. Balanced validation hold-out.
  const normalIdx = rng.shuffle(train.flatMap((t, i) => (t.className === normalClass ? [i] : [])));
  const anomalyIdx = rng.shuffle(train.flatMap((t, i) => (t.className !== normalClass ? [i] : [])));
  const nVal = Math.min(Math.floor(normalIdx.length * validationFraction), Math.floor(anomalyIdx.length * validationFraction));
  const validation = [...normalIdx.slice(0, nVal), ...anomalyIdx.slice(0, nVal)].map((i) => relabel(train[i]));
  const held = new Set([...normalIdx.slice(0, nVal), ...anomalyIdx.slice(0, nVal)]);
  const remaining = train.map((_, i) => i).filter((i) => !held.has(i));

  // 2. Normal training images, in input order.
  const normal = remaining.filter((i) => train[i].className === normalClass).map((i) => relabel(train[i]));

  // 3. Labelled anomalies from k classes.
  let labelledClasses: string[] = [];
  let labelledAnomalies: (T & { label: Label })[] = [];
  let requested = 0;
  if (ratio > 0) {
    if (k === 1) {
      if (options.anomalyClass === undefined) {
        if (anomalyClasses.length !== 1) {
          throw new InvalidArgumentError('options.anomalyClass', `one of ${anomalyClasses.map((c) => `'${c}'`).join(', ')} (required with anomalyClassCount 1)`);
        }
        labelledClasses = [anomalyClasses[0]];
      } else if (!anomalyClasses.includes(options.anomalyClass)) {
        throw new InvalidArgumentError('options.anomalyClass', `an anomaly class: one of ${anomalyClasses.map((c) => `'${c}'`).join(', ')}`, `'${options.anomalyClass}'`);
      } else {
        labelledClasses = [options.anomalyClass];
      }
    } else {
      labelledClasses = rng.shuffle([...anomalyClasses]).slice(0, k);
    }
    requested = labelledAnomalyCount(normal.length, ratio);
    const pool = remaining.filter((i) => labelledClasses.includes(train[i].className));
    labelledAnomalies = rng.shuffle(pool).slice(0, requested).map((i) => relabel(train[i]));
  }
  return { normal, labelledAnomalies, validation, labelledClasses, requestedAnomalies: requested };
}
