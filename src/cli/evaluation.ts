/**
 * Scoring a list of images with one model, as `ckaad eval`, `ckaad score` and `ckaad demo` do
 * it: decode in batches, score (paper eq. 14), stream the maps into the pixel metrics, keep
 * the few images that get a heat-map overlay, then compute the metrics and write the overlays.
 *
 * Metrics (docs/reference-implementation.md §7): image AUROC, best F1 and the ACC at its threshold when the images carry
 * labels of both classes; pixel AUROC and PRO (AUPRO up to FPR 0.3, the MVTec AD definition)
 * when ground-truth masks exist. A metric that cannot be computed is `null`.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { MapExtractor, MapReconstructor } from '../scoring/scorer.js';
import { Scorer } from '../scoring/scorer.js';
import { preprocessBatch } from '../node/stream.js';
import type { SkippedImage } from '../node/stream.js';
import { AuproAccumulator } from '../metrics/aupro.js';
import { imageAuroc } from '../metrics/auroc.js';
import { bestF1 } from '../metrics/pr-curve.js';
import { yieldToEventLoop } from './context.js';
import { loadBatches, skipLogger } from './dataset.js';
import type { CliItem } from './dataset.js';
import { InterruptedError } from './errors.js';
import { writeOverlayPng } from './heatmap.js';
import type { CliIo } from './io.js';
import { safeName } from './output.js';
import { startProgress } from './progress.js';

/** The metrics of one model on one test set (`null`: not computable on these images). */
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

/** One scored image. */
export interface ScoredImage {
  name: string;
  path: string;
  className: string;
  /** 0/1 ground truth, or null when unknown (`ckaad score`). */
  label: number | null;
  score: number;
}

/** What {@link evaluate} returns. */
export interface Evaluation {
  metrics: Metrics;
  images: ScoredImage[];
  counts: { scored: number; normal: number; anomalous: number; skipped: number };
  skipped: { path: string; reason: string }[];
  /** Colour range of the overlays: min and max of every map of the run. */
  mapRange: [number, number];
  /** Overlay files written, relative to the output folder. */
  heatmaps: string[];
  seconds: number;
}

/** A trained model ready to score (a `LoadedModel` or the parts of a fresh one). */
export interface ScoringModel {
  extractor: MapExtractor;
  autoencoder: MapReconstructor;
  scoring: { sigma: number; topK: number | 'mean' };
  imageSize: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  model: ScoringModel;
  items: readonly CliItem[];
  /** Whether the items' labels are ground truth (image metrics). */
  labelled: boolean;
  batchSize: number;
  onBadImage: 'skip' | 'fail';
  /** Number of overlays, or all. */
  heatmaps: number | 'all';
  /** Output folder the overlays go under, and their sub-folder (e.g. `heatmaps/recon`). */
  output: { dir: string; subdir: string } | null;
  /** Progress label. */
  label: string;
  io: CliIo;
  signal?: AbortSignal;
}

/** `m` indices spread evenly over `[0, n)`. */
function spread(n: number, m: number): number[] {
  return Array.from({ length: Math.min(n, m) }, (_, i) => Math.floor(((i + 0.5) * n) / Math.min(n, m)));
}

/**
 * Which items get an overlay: with labels, half anomalous and half normal (spread over each
 * group, so every defect type shows up), else spread over all.
 */
export function pickHeatmaps(items: readonly CliItem[], count: number | 'all', labelled: boolean): Set<number> {
  if (count === 'all') return new Set(items.map((_, i) => i));
  if (!labelled) return new Set(spread(items.length, count));
  const anomalous = items.flatMap((it, i) => (it.label === 1 ? [i] : []));
  const normal = items.flatMap((it, i) => (it.label === 0 ? [i] : []));
  const wantAnomalous = Math.min(anomalous.length, Math.max(Math.ceil(count / 2), count - normal.length));
  const wantNormal = Math.min(normal.length, count - wantAnomalous);
  return new Set([...spread(anomalous.length, wantAnomalous).map((i) => anomalous[i]), ...spread(normal.length, wantNormal).map((i) => normal[i])]);
}

function metricOrNull(compute: () => number): number | null {
  try {
    const v = compute();
    return Number.isFinite(v) ? v : null;
  } catch {
    return null; // e.g. only one class present: the metric is undefined
  }
}

/**
 * Scores `items` with `model` and computes the metrics (see the module notes).
 *
 * @throws FileFormatError for an unreadable image with `onBadImage: 'fail'`;
 *   InterruptedError when `signal` fires.
 */
export async function evaluate(o: EvaluateOptions): Promise<Evaluation> {
  const { model, items, io } = o;
  const size = model.imageSize;
  const started = io.now();
  const hasMasks = items.some((i) => i.maskPath !== undefined);
  const scorer = new Scorer({ extractor: model.extractor, autoencoder: model.autoencoder, sigma: model.scoring.sigma, topK: model.scoring.topK });
  const pixels = hasMasks ? new AuproAccumulator({ height: size, width: size }) : null;
  const chosen = o.output === null ? new Set<number>() : pickHeatmaps(items, o.heatmaps, o.labelled);
  const kept: { index: number; image: Uint8Array; mask?: Uint8Array; map: Float32Array }[] = [];
  const skipped: SkippedImage[] = [];
  const scored: ScoredImage[] = [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;

  const progress = startProgress(io, o.label, items.length);
  const hw = size * size;
  for await (const batch of loadBatches(items, { size, batchSize: o.batchSize, masks: hasMasks, onBadImage: o.onBadImage, onSkip: skipLogger(io, skipped) })) {
    await yieldToEventLoop(); // so that Ctrl-C is seen between batches
    if (o.signal?.aborted) throw new InterruptedError('scoring interrupted');
    const x = preprocessBatch(batch);
    let result;
    try {
      result = await scorer.score([x]);
    } finally {
      x.dispose();
    }
    const { scores, maps } = result;
    for (let i = 0; i < maps.length; i++) {
      if (maps[i] < lo) lo = maps[i];
      if (maps[i] > hi) hi = maps[i];
    }
    if (pixels !== null && batch.masks !== undefined) pixels.add(maps, batch.masks);
    batch.items.forEach((item, j) => {
      scored.push({ name: item.name, path: item.path, className: item.className, label: o.labelled ? item.label : null, score: scores[j] });
      const index = batch.indices[j];
      if (chosen.has(index)) {
        kept.push({
          index,
          image: batch.images.slice(j * hw * 3, (j + 1) * hw * 3),
          mask: hasMasks ? batch.masks?.slice(j * hw, (j + 1) * hw) : undefined,
          map: maps.slice(j * hw, (j + 1) * hw),
        });
      }
    });
    progress.update(batch.indices[batch.count - 1] + 1);
  }
  progress.stop();

  const labels = scored.map((s) => s.label ?? 0);
  const values = Float64Array.from(scored.map((s) => s.score));
  const labelledBoth = o.labelled && labels.includes(0) && labels.includes(1);
  const f1 = labelledBoth ? bestF1(labels, values) : null;
  const metrics: Metrics = {
    imageAuroc: labelledBoth ? metricOrNull(() => imageAuroc(labels, values)) : null,
    f1: f1?.f1 ?? null,
    accuracy: f1?.accuracy ?? null,
    threshold: f1?.threshold ?? null,
    pixelAuroc: pixels === null ? null : metricOrNull(() => pixels.pixelAuroc()),
    pro: pixels === null ? null : metricOrNull(() => pixels.compute()),
  };

  const heatmaps: string[] = [];
  if (o.output !== null && kept.length > 0) {
    await mkdir(join(o.output.dir, o.output.subdir), { recursive: true });
    for (const k of kept) {
      const item = items[k.index];
      const tag = o.labelled ? `${item.label === 1 ? 'anomalous' : 'normal'}_` : '';
      const rel = join(o.output.subdir, `${tag}${safeName(item.name)}.png`);
      await writeOverlayPng(join(o.output.dir, rel), { size, image: k.image, map: k.map, mask: k.mask, lo, hi });
      heatmaps.push(rel);
    }
  }
  return {
    metrics,
    images: scored,
    counts: {
      scored: scored.length,
      normal: scored.filter((s) => s.label === 0).length,
      anomalous: scored.filter((s) => s.label === 1).length,
      skipped: skipped.length,
    },
    skipped: skipped.map((s) => ({ path: s.path, reason: s.error.message })),
    mapRange: [Number.isFinite(lo) ? lo : 0, Number.isFinite(hi) ? hi : 0],
    heatmaps,
    seconds: (io.now() - started) / 1000,
  };
}
