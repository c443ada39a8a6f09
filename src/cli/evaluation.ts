/**
 * Scoring a list of images with one model, as `ckaad eval`, `ckaad score` and `ckaad demo` do
 * it: the pipeline's evaluator (src/pipeline/evaluate.ts) over images decoded in batches, with
 * a progress display, then the heat-map overlays of a few images.
 *
 * Metrics (§7 of docs/reference-implementation.md): image AUROC, best F1 and the ACC at its
 * threshold when the images carry labels of both classes; pixel AUROC and PRO (AUPRO up to
 * FPR 0.3, the MVTec AD definition) when ground-truth masks exist. A metric that cannot be
 * computed is `null`.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { decodedBatches, evaluate as evaluateImages, spreadPicks } from '../pipeline/evaluate.js';
import type { Metrics } from '../pipeline/evaluate.js';
import type { MapExtractor, MapReconstructor } from '../scoring/scorer.js';
import { Scorer } from '../scoring/scorer.js';
import type { SkippedImage } from '../node/stream.js';
import { yieldToEventLoop } from './context.js';
import { skipLogger } from './dataset.js';
import type { CliItem } from './dataset.js';
import { InterruptedError } from './errors.js';
import { writeOverlayPng } from './heatmap.js';
import type { CliIo } from './io.js';
import { safeName } from './output.js';
import { startProgress } from './progress.js';

export type { Metrics };

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
  /** Scoring settings; `threshold` (when known) is shown on the heat maps. */
  scoring: { sigma: number; topK: number | 'mean'; threshold?: number | null };
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
  /**
   * The decision threshold the overlays compare each score with. Default: the model's stored
   * one (`scoring.threshold`), if any.
   */
  threshold?: number | null;
  /** Output folder the overlays go under, and their sub-folder (e.g. `heatmaps/recon`). */
  output: { dir: string; subdir: string } | null;
  /** Progress label. */
  label: string;
  io: CliIo;
  signal?: AbortSignal;
}

/**
 * Which items get an overlay: with labels, half anomalous and half normal (spread over each
 * group, so every defect type shows up), else spread over all.
 */
export function pickHeatmaps(items: readonly CliItem[], count: number | 'all', labelled: boolean): Set<number> {
  return spreadPicks(items, count, labelled);
}

/**
 * Scores `items` with `model` (the pipeline's `evaluate`) and writes the overlays of the
 * picked images (see the module notes).
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
  const skipped: SkippedImage[] = [];
  const progress = startProgress(io, o.label, items.length);
  const result = await evaluateImages({
    scorer,
    imageSize: size,
    items,
    labelled: o.labelled,
    batches: decodedBatches(items, { size, batchSize: o.batchSize, masks: hasMasks, onBadImage: o.onBadImage, onSkip: skipLogger(io, skipped) }),
    masks: hasMasks,
    keep: o.output === null ? new Set<number>() : pickHeatmaps(items, o.heatmaps, o.labelled),
    beforeBatch: async () => {
      await yieldToEventLoop(); // so that Ctrl-C is seen between batches
      if (o.signal?.aborted) throw new InterruptedError('scoring interrupted');
    },
    afterBatch: (batch) => progress.update(batch.indices[batch.indices.length - 1] + 1),
  });
  progress.stop();
  const scored: ScoredImage[] = result.scored.map(({ index, score }) => {
    const item = items[index];
    return { name: item.name, path: item.path, className: item.className, label: o.labelled ? item.label : null, score };
  });

  const heatmaps: string[] = [];
  if (o.output !== null && result.kept.length > 0) {
    await mkdir(join(o.output.dir, o.output.subdir), { recursive: true });
    const [lo, hi] = result.mapRange;
    const threshold = o.threshold !== undefined ? o.threshold : (model.scoring.threshold ?? null);
    for (const k of result.kept) {
      const item = items[k.index];
      const tag = o.labelled ? `${item.label === 1 ? 'anomalous' : 'normal'}_` : '';
      const rel = join(o.output.subdir, `${tag}${safeName(item.name)}.png`);
      await writeOverlayPng(join(o.output.dir, rel), {
        size,
        image: k.image,
        map: k.map,
        mask: k.mask ?? undefined,
        lo,
        hi,
        name: item.name,
        score: k.score,
        threshold,
        label: o.labelled ? item.label : null,
        className: item.className,
      });
      heatmaps.push(rel);
    }
  }
  return {
    metrics: result.subsets.all.metrics,
    images: scored,
    counts: {
      scored: scored.length,
      normal: scored.filter((s) => s.label === 0).length,
      anomalous: scored.filter((s) => s.label === 1).length,
      skipped: skipped.length,
    },
    skipped: skipped.map((s) => ({ path: s.path, reason: s.error.message })),
    mapRange: result.mapRange,
    heatmaps,
    seconds: (io.now() - started) / 1000,
  };
}
