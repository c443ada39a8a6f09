/**
 * Testing one trained model of a run with the pipeline's evaluator (`pipeline/evaluate.ts`):
 * the metrics of the whole test set and of its seen / unseen subsets as result.json records
 * them, the scores in test order, and a few examples (image, mask, anomaly map) per class for
 * figures.
 */

import { classPicks, evaluate, sourceBatches, testSubsets as subsetsOf } from '../pipeline/evaluate.js';
import type { SubsetEvaluation, SubsetName } from '../pipeline/evaluate.js';
import type { TestFeatures } from '../pipeline/feature-cache.js';
import { abortedError } from '../pipeline/pixel-cache.js';
import type { Scorer } from '../scoring/scorer.js';
import { InvalidArgumentError } from '../errors.js';
import type { TestSet } from './data.js';
import type { MetricSet, RunMetrics } from './results.js';

/** Test images kept for figures. */
export interface Examples {
  /** Number of examples. */
  count: number;
  /** Side length. */
  size: number;
  /** RGB pixels `[count, size, size, 3]`. */
  images: Uint8Array;
  /** Masks `[count, size, size]` of 0/1, or null for sets without masks. */
  masks: Uint8Array | null;
  /** Smoothed anomaly maps `[count, size, size]`. */
  maps: Float32Array;
  /** Image scores. */
  scores: Float32Array;
  /** Test image names. */
  names: string[];
  /** Their classes. */
  classNames: string[];
  /** Their labels (0 normal, 1 anomalous). */
  labels: number[];
}

/** Options of {@link evaluateTestSet}. */
export interface EvaluateOptions {
  /** Images per scoring batch. */
  batchSize: number;
  /** The seen anomaly classes (labelled classes of the run); [] for none. */
  seenClasses: readonly string[];
  /** Examples kept per class. Default 2. */
  examplesPerClass?: number;
  /** Stops between batches (throws the aborted error). */
  signal?: AbortSignal;
  /**
   * The backbone's features of the test images (see `openTestFeatures`): scoring then runs
   * only the auto-encoder. Default: extract them from the pixels.
   */
  features?: TestFeatures;
}

/** What {@link evaluateTestSet} returns. */
export interface Evaluation {
  /** Metrics over all / seen / unseen test images. */
  metrics: RunMetrics;
  /** Image scores in test order. */
  scores: Float32Array;
  /** The kept examples, or null with `examplesPerClass` 0. */
  examples: Examples | null;
}

/** Which subsets to report for `test` (see the pipeline's `testSubsets`). */
export function testSubsets(test: TestSet, seenClasses: readonly string[]): Map<SubsetName, (i: number) => boolean> {
  return subsetsOf(test.items, seenClasses);
}

/**
 * The indices of the examples: the first `perClass` test images of each class, normal class
 * first, then the seen classes, then the others (alphabetically within each group).
 */
export function exampleIndices(test: TestSet, seenClasses: readonly string[], perClass: number): number[] {
  return classPicks(test.items, seenClasses, perClass);
}

/**
 * A subset's metrics as result.json records them.
 *
 * @throws InvalidArgumentError when the subset lacks normal or anomalous images (no image metrics).
 */
export function metricSet(subset: SubsetEvaluation): MetricSet {
  const { metrics: m } = subset;
  if (m.imageAuroc === null || m.f1 === null || m.accuracy === null) {
    throw new InvalidArgumentError('labels', 'test images of both classes (normal and anomalous)', `${subset.images} images, ${subset.anomalous} anomalous`);
  }
  const set: MetricSet = { images: subset.images, anomalous: subset.anomalous, imageAuroc: m.imageAuroc, f1: m.f1, accuracy: m.accuracy };
  if (m.pixelAuroc !== null && m.pro !== null) {
    set.pixelAuroc = m.pixelAuroc;
    set.aupro = m.pro;
  }
  return set;
}

/**
 * Scores the test set with `scorer` and computes the run's metrics.
 *
 * @throws the aborted error when `signal` fires between two batches.
 */
export async function evaluateTestSet(scorer: Scorer, test: TestSet, options: EvaluateOptions): Promise<Evaluation> {
  const n = test.items.length;
  const size = test.pixels.size;
  const hw = size * size;
  const picks = exampleIndices(test, options.seenClasses, options.examplesPerClass ?? 2);
  const result = await evaluate({
    scorer,
    imageSize: size,
    items: test.items,
    labelled: true,
    batches: sourceBatches(test.pixels, test.masks, options.batchSize),
    masks: test.masks !== null,
    seenClasses: options.seenClasses,
    keep: new Set(picks),
    features: options.features,
    beforeBatch: () => {
      if (options.signal?.aborted) throw abortedError();
    },
  });

  const scores = new Float32Array(n);
  for (const s of result.scored) scores[s.index] = s.score;
  let examples: Examples | null = null;
  if (picks.length > 0) {
    const e = picks.length;
    const position = new Map(picks.map((index, k) => [index, k]));
    examples = {
      count: e,
      size,
      images: new Uint8Array(e * hw * 3),
      masks: test.masks === null ? null : new Uint8Array(e * hw),
      maps: new Float32Array(e * hw),
      scores: new Float32Array(e),
      names: new Array<string>(e).fill(''),
      classNames: new Array<string>(e).fill(''),
      labels: new Array<number>(e).fill(0),
    };
    for (const kept of result.kept) {
      const k = position.get(kept.index) as number;
      examples.images.set(kept.image, k * hw * 3);
      if (examples.masks !== null && kept.mask !== null) examples.masks.set(kept.mask, k * hw);
      examples.maps.set(kept.map, k * hw);
      examples.scores[k] = kept.score;
      examples.names[k] = test.items[kept.index].name;
      examples.classNames[k] = test.items[kept.index].className;
      examples.labels[k] = test.items[kept.index].label;
    }
  }
  const metrics: Partial<RunMetrics> = {};
  for (const [name, subset] of Object.entries(result.subsets) as [SubsetName, SubsetEvaluation][]) metrics[name] = metricSet(subset);
  return { metrics: metrics as RunMetrics, scores, examples };
}
