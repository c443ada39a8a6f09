/**
 * Testing one trained model, as `ckaad eval` / `score` / `demo` and the experiment runner all
 * do it: score every test image (paper eq. 14), stream the maps into the pixel metrics, keep a
 * few images (with their maps) for figures, and compute the metrics — over all test images
 * and, when the run had labelled ("seen") anomaly classes, separately over the seen and the
 * unseen classes (each together with every normal test image).
 *
 * Metrics (§7 of docs/reference-implementation.md): image AUROC, best F1 and the ACC at its
 * threshold when the images carry labels of both classes; pixel AUROC and PRO (AUPRO up to
 * FPR 0.3, the MVTec AD definition) when ground-truth masks exist. A metric that cannot be
 * computed is `null`.
 */

import * as tf from '@tensorflow/tfjs-core';

import { AuproAccumulator } from '../metrics/aupro.js';
import { imageAuroc } from '../metrics/auroc.js';
import { bestF1 } from '../metrics/pr-curve.js';
import type { ScoreResult, Scorer } from '../scoring/scorer.js';
import type { SkippedImage } from '../node/stream.js';
import type { DataItem } from './datasets.js';
import { loadBatches } from './decode.js';
import type { LoadOptions } from './decode.js';
import type { TestFeatures } from './feature-cache.js';
import { bytesToInput, range } from './pixels.js';
import type { PixelSource } from './pixels.js';

/** The metrics of one model on a set of test images (`null`: not computable on these images). */
export interface Metrics {
  imageAuroc: number | null;
  /** Best F1 over all thresholds (the medical tables' "F1"). */
  f1: number | null;
  /** Accuracy at the best-F1 threshold (the medical tables' "ACC"). */
  accuracy: number | null;
  /** The best-F1 threshold on the image score. */
  threshold: number | null;
  pixelAuroc: number | null;
  /** AUPRO for FPR ≤ 0.3, normalised to [0, 1]. */
  pro: number | null;
}

/** The test subsets metrics are reported for. */
export type SubsetName = 'all' | 'seen' | 'unseen';

/** Metrics of one subset, with its size. */
export interface SubsetEvaluation {
  metrics: Metrics;
  /** Scored images in the subset. */
  images: number;
  /** Anomalous ones among them (0 for unlabelled images). */
  anomalous: number;
}

/** A batch of test images. */
export interface TestBatch {
  /** The images' positions in the test list. */
  indices: readonly number[];
  /** Their RGB pixels `[n, size, size, 3]` (read only when needed). */
  images(): Uint8Array;
  /** Their 0/1 masks `[n, size, size]`, or null for a set without masks. */
  masks: Uint8Array | null;
}

/** A test image kept for figures, with its map. */
export interface KeptImage {
  index: number;
  /** RGB pixels `[size, size, 3]`. */
  image: Uint8Array;
  /** Mask `[size, size]` of 0/1, or null. */
  mask: Uint8Array | null;
  /** Smoothed anomaly map `[size, size]`. */
  map: Float32Array;
  score: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** The model's scorer (paper eq. 14). */
  scorer: Scorer;
  /** Side of the test images. */
  imageSize: number;
  /** The test images' labels and classes, by position. */
  items: readonly { label: number; className: string }[];
  /** Whether the labels are ground truth (image metrics need them). */
  labelled: boolean;
  /** The test images, in batches (see {@link decodedBatches}, {@link sourceBatches}). */
  batches: AsyncIterable<TestBatch> | Iterable<TestBatch>;
  /** Whether the batches carry masks: pixel metrics. */
  masks: boolean;
  /** The run's labelled ("seen") anomaly classes: adds the seen / unseen subsets. Default none. */
  seenClasses?: readonly string[];
  /** Positions of the images to keep (see {@link KeptImage}). Default none. */
  keep?: ReadonlySet<number>;
  /**
   * The backbone's features of the test images (see `openTestFeatures`): scoring then runs
   * only the auto-encoder. Default: extract them from the pixels.
   */
  features?: TestFeatures;
  /** Awaited before each batch is scored (throw to stop, e.g. on an abort signal). */
  beforeBatch?: () => void | Promise<void>;
  /** Called after each batch is scored. */
  afterBatch?: (batch: TestBatch) => void;
}

/** What {@link evaluate} returns. */
export interface Evaluation {
  /** Metrics of `all` and, when they apply, of the `seen` and `unseen` subsets. */
  subsets: { all: SubsetEvaluation } & Partial<Record<'seen' | 'unseen', SubsetEvaluation>>;
  /** Image scores of the scored images, in test order. */
  scored: { index: number; score: number }[];
  /** The kept images, in the order they were scored. */
  kept: KeptImage[];
  /** Minimum and maximum of every map (`[0, 0]` when nothing was scored). */
  mapRange: [number, number];
}

/**
 * Which subsets to report: `all`, and `seen` / `unseen` when the run has seen classes and the
 * test set has anomalies both of a seen and of another class. Returns a predicate per subset.
 */
export function testSubsets(items: readonly { label: number; className: string }[], seenClasses: readonly string[]): Map<SubsetName, (i: number) => boolean> {
  const subsets = new Map<SubsetName, (i: number) => boolean>([['all', () => true]]);
  const seen = new Set(seenClasses);
  const anomalous = items.filter((t) => t.label === 1);
  if (seen.size > 0 && anomalous.some((t) => seen.has(t.className)) && anomalous.some((t) => !seen.has(t.className))) {
    subsets.set('seen', (i) => items[i].label === 0 || seen.has(items[i].className));
    subsets.set('unseen', (i) => items[i].label === 0 || !seen.has(items[i].className));
  }
  return subsets;
}

/** `m` indices spread evenly over `[0, n)`. */
function spread(n: number, m: number): number[] {
  return Array.from({ length: Math.min(n, m) }, (_, i) => Math.floor(((i + 0.5) * n) / Math.min(n, m)));
}

/**
 * Images to keep for heat maps, spread over the list: with labels, half anomalous and half
 * normal (spread over each group, so every defect type shows up), else spread over all.
 */
export function spreadPicks(items: readonly { label: number }[], count: number | 'all', labelled: boolean): Set<number> {
  if (count === 'all') return new Set(items.map((_, i) => i));
  if (!labelled) return new Set(spread(items.length, count));
  const anomalous = items.flatMap((it, i) => (it.label === 1 ? [i] : []));
  const normal = items.flatMap((it, i) => (it.label === 0 ? [i] : []));
  const wantAnomalous = Math.min(anomalous.length, Math.max(Math.ceil(count / 2), count - normal.length));
  const wantNormal = Math.min(normal.length, count - wantAnomalous);
  return new Set([...spread(anomalous.length, wantAnomalous).map((i) => anomalous[i]), ...spread(normal.length, wantNormal).map((i) => normal[i])]);
}

/**
 * Images to keep as examples per class: the first `perClass` test images of each class,
 * normal class first, then the seen classes, then the others (alphabetically within each
 * group), in that order.
 */
export function classPicks(items: readonly { label: number; className: string }[], seenClasses: readonly string[], perClass: number): number[] {
  const seen = new Set(seenClasses);
  const classes = [...new Set(items.map((t) => t.className))];
  const rank = (c: string) => {
    const item = items.find((t) => t.className === c);
    return item?.label === 0 ? 0 : seen.has(c) ? 1 : 2;
  };
  classes.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: number[] = [];
  for (const c of classes) {
    let taken = 0;
    items.forEach((t, i) => {
      if (t.className === c && taken < perClass) {
        out.push(i);
        taken++;
      }
    });
  }
  return out;
}

/** Test batches decoded from files (or IDX stacks) as they are scored; see `loadBatches`. */
export async function* decodedBatches(items: readonly DataItem[], options: LoadOptions & { onSkip?: (s: SkippedImage) => void }): AsyncGenerator<TestBatch> {
  for await (const batch of loadBatches(items, options)) {
    yield { indices: batch.indices, images: () => batch.images, masks: batch.masks ?? null };
  }
}

/** Test batches read from decoded pixels (and masks), `batchSize` at a time. */
export function* sourceBatches(pixels: PixelSource, masks: PixelSource | null, batchSize: number): Generator<TestBatch> {
  for (let start = 0; start < pixels.count; start += batchSize) {
    const indices = range(Math.min(batchSize, pixels.count - start)).map((i) => start + i);
    yield { indices, images: () => pixels.read(indices), masks: masks?.read(indices) ?? null };
  }
}

function metricOrNull(compute: () => number): number | null {
  try {
    const v = compute();
    return Number.isFinite(v) ? v : null;
  } catch {
    return null; // e.g. only one class present: the metric is undefined
  }
}

/** Image metrics of scores with 0/1 labels: null unless both classes occur. */
function imageMetrics(labels: Uint8Array, scores: Float32Array): Pick<Metrics, 'imageAuroc' | 'f1' | 'accuracy' | 'threshold'> {
  if (!(labels.includes(0) && labels.includes(1))) return { imageAuroc: null, f1: null, accuracy: null, threshold: null };
  const best = bestF1(labels, scores);
  return { imageAuroc: metricOrNull(() => imageAuroc(labels, scores)), f1: best.f1, accuracy: best.accuracy, threshold: best.threshold };
}

/** Pixel metrics of an accumulator: null without one, or without both normal and anomalous pixels. */
function pixelMetrics(acc: AuproAccumulator | undefined): Pick<Metrics, 'pixelAuroc' | 'pro'> {
  if (acc === undefined || acc.anomalousCount === 0 || acc.normalCount === 0) return { pixelAuroc: null, pro: null };
  return { pixelAuroc: metricOrNull(() => acc.pixelAuroc()), pro: metricOrNull(() => acc.compute()) };
}

/**
 * Scores the test images with `o.scorer` and computes the metrics (see the module notes).
 *
 * @throws what `beforeBatch` or the batches throw (e.g. an unreadable image).
 */
export async function evaluate(o: EvaluateOptions): Promise<Evaluation> {
  const { scorer, items } = o;
  const size = o.imageSize;
  const hw = size * size;
  const subsets = testSubsets(items, o.seenClasses ?? []);
  const accumulators = new Map<SubsetName, AuproAccumulator>();
  if (o.masks) for (const name of subsets.keys()) accumulators.set(name, new AuproAccumulator({ height: size, width: size, fprLimit: 0.3 }));
  const keep = o.keep ?? new Set<number>();
  const kept: KeptImage[] = [];
  const scored: { index: number; score: number }[] = [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;

  for await (const batch of o.batches) {
    await o.beforeBatch?.();
    const { indices } = batch;
    // Pixels are needed to extract features, or to keep an image.
    const pixels = o.features === undefined || indices.some((i) => keep.has(i)) ? batch.images() : null;
    let result: ScoreResult;
    if (o.features !== undefined) {
      const maps = o.features.read(indices);
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
    const { maps } = result;
    for (let i = 0; i < maps.length; i++) {
      if (maps[i] < lo) lo = maps[i];
      if (maps[i] > hi) hi = maps[i];
    }
    indices.forEach((index, j) => {
      const map = maps.subarray(j * hw, (j + 1) * hw);
      const mask = batch.masks === null ? null : batch.masks.subarray(j * hw, (j + 1) * hw);
      if (mask !== null) {
        for (const [name, inSubset] of subsets) if (inSubset(index)) accumulators.get(name)?.add(map, mask);
      }
      scored.push({ index, score: result.scores[j] });
      if (keep.has(index)) {
        kept.push({ index, image: (pixels as Uint8Array).slice(j * hw * 3, (j + 1) * hw * 3), mask: mask?.slice() ?? null, map: map.slice(), score: result.scores[j] });
      }
    });
    o.afterBatch?.(batch);
  }

  const evaluation = {} as Evaluation['subsets'];
  for (const [name, inSubset] of subsets) {
    const members = scored.filter((s) => inSubset(s.index));
    const labels = Uint8Array.from(members.map((s) => (o.labelled ? items[s.index].label : 0)));
    const image = o.labelled ? imageMetrics(labels, Float32Array.from(members.map((s) => s.score))) : imageMetrics(new Uint8Array(0), new Float32Array(0));
    let anomalous = 0;
    for (const l of labels) anomalous += l;
    evaluation[name] = { metrics: { ...image, ...pixelMetrics(accumulators.get(name)) }, images: members.length, anomalous };
  }
  return { subsets: evaluation, scored, kept, mapRange: [Number.isFinite(lo) ? lo : 0, Number.isFinite(hi) ? hi : 0] };
}
