/**
 * Testing one trained model: score every test image (paper eq. 14), compute the metrics over
 * the whole test set and — when the run had labelled ("seen") anomaly classes — separately
 * over the seen and the unseen anomaly classes (each together with every normal test image),
 * and keep a few examples (image, mask, anomaly map) for figures.
 */

import * as tf from '@tensorflow/tfjs-core';

import { AuproAccumulator } from '../metrics/aupro.js';
import { imageAuroc } from '../metrics/auroc.js';
import { bestF1 } from '../metrics/pr-curve.js';
import type { Scorer } from '../scoring/scorer.js';
import type { TestSet } from './data.js';
import type { TestFeatures } from './test-features.js';
import { abortedError, bytesToInput } from './pixels.js';
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
  /** Stops between batches (throws the runner's aborted error). */
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

/**
 * Which subsets to report: `all`, and `seen` / `unseen` when the run has seen classes and the
 * test set has anomalies both of a seen and of another class. Returns a predicate per subset.
 */
export function testSubsets(test: TestSet, seenClasses: readonly string[]): Map<'all' | 'seen' | 'unseen', (i: number) => boolean> {
  const subsets = new Map<'all' | 'seen' | 'unseen', (i: number) => boolean>([['all', () => true]]);
  const seen = new Set(seenClasses);
  const anomalous = test.items.filter((t) => t.label === 1);
  if (seen.size > 0 && anomalous.some((t) => seen.has(t.className)) && anomalous.some((t) => !seen.has(t.className))) {
    subsets.set('seen', (i) => test.items[i].label === 0 || seen.has(test.items[i].className));
    subsets.set('unseen', (i) => test.items[i].label === 0 || !seen.has(test.items[i].className));
  }
  return subsets;
}

/**
 * The indices of the examples: the first `perClass` test images of each class, normal class
 * first, then the seen classes, then the others (alphabetically within each group).
 */
export function exampleIndices(test: TestSet, seenClasses: readonly string[], perClass: number): number[] {
  const seen = new Set(seenClasses);
  const classes = [...new Set(test.items.map((t) => t.className))];
  const rank = (c: string) => {
    const item = test.items.find((t) => t.className === c);
    return item?.label === 0 ? 0 : seen.has(c) ? 1 : 2;
  };
  classes.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: number[] = [];
  for (const c of classes) {
    let taken = 0;
    test.items.forEach((t, i) => {
      if (t.className === c && taken < perClass) {
        out.push(i);
        taken++;
      }
    });
  }
  return out;
}

/** Image metrics of a subset. */
function imageMetrics(labels: Uint8Array, scores: Float32Array): MetricSet {
  const best = bestF1(labels, scores);
  let anomalous = 0;
  for (const l of labels) anomalous += l;
  return { images: labels.length, anomalous, imageAuroc: imageAuroc(labels, scores), f1: best.f1, accuracy: best.accuracy };
}

/**
 * Scores the test set with `scorer` and computes the run's metrics.
 *
 * @throws the runner's aborted error when `signal` fires between two batches.
 */
export async function evaluateTestSet(scorer: Scorer, test: TestSet, options: EvaluateOptions): Promise<Evaluation> {
  const n = test.items.length;
  const size = test.pixels.size;
  const hw = size * size;
  const subsets = testSubsets(test, options.seenClasses);
  const pixelAccumulators = new Map<string, AuproAccumulator>();
  if (test.masks !== null) {
    for (const name of subsets.keys()) pixelAccumulators.set(name, new AuproAccumulator({ height: size, width: size, fprLimit: 0.3 }));
  }
  const examplePositions = new Map(exampleIndices(test, options.seenClasses, options.examplesPerClass ?? 2).map((index, k) => [index, k]));
  const e = examplePositions.size;
  const examples: Examples | null =
    e === 0
      ? null
      : {
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

  const scores = new Float32Array(n);
  for (let start = 0; start < n; start += options.batchSize) {
    if (options.signal?.aborted) throw abortedError();
    const indices = Array.from({ length: Math.min(options.batchSize, n - start) }, (_, i) => start + i);
    // Pixels are needed to extract features, or to keep an example.
    const pixels = options.features === undefined || indices.some((i) => examplePositions.has(i)) ? test.pixels.read(indices) : null;
    let result;
    if (options.features !== undefined) {
      const maps = options.features.read(indices);
      try {
        result = scorer.scoreFeatureBatch(maps, [size, size]);
      } finally {
        tf.dispose(maps);
      }
    } else {
      const input = bytesToInput(pixels as Uint8Array, indices.length, size);
      try {
        result = scorer.scoreBatch(input);
      } finally {
        input.dispose();
      }
    }
    scores.set(result.scores, start);
    const masks = test.masks?.read(indices) ?? null;
    indices.forEach((index, j) => {
      const map = result.maps.subarray(j * hw, (j + 1) * hw);
      const mask = masks === null ? null : masks.subarray(j * hw, (j + 1) * hw);
      if (mask !== null) {
        for (const [name, inSubset] of subsets) if (inSubset(index)) (pixelAccumulators.get(name) as AuproAccumulator).add(map, mask);
      }
      const k = examplePositions.get(index);
      if (examples !== null && k !== undefined) {
        examples.images.set((pixels as Uint8Array).subarray(j * hw * 3, (j + 1) * hw * 3), k * hw * 3);
        if (examples.masks !== null && mask !== null) examples.masks.set(mask, k * hw);
        examples.maps.set(map, k * hw);
        examples.scores[k] = result.scores[j];
        examples.names[k] = test.items[index].name;
        examples.classNames[k] = test.items[index].className;
        examples.labels[k] = test.items[index].label;
      }
    });
  }

  const metrics: Partial<RunMetrics> = {};
  for (const [name, inSubset] of subsets) {
    const members = Array.from({ length: n }, (_, i) => i).filter(inSubset);
    const labels = Uint8Array.from(members.map((i) => test.items[i].label));
    const set = imageMetrics(labels, Float32Array.from(members.map((i) => scores[i])));
    const acc = pixelAccumulators.get(name);
    if (acc !== undefined && acc.anomalousCount > 0 && acc.normalCount > 0) {
      set.pixelAuroc = acc.pixelAuroc();
      set.aupro = acc.compute();
    }
    metrics[name] = set;
  }
  return { metrics: metrics as RunMetrics, scores, examples };
}
