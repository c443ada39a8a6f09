/**
 * `ckaad score`: anomaly scores and heat maps for any images with a saved model.
 *
 *   ckaad score --model models/bottle photos/ extra.png --out scored
 *
 * Each image is labelled anomalous when its score reaches the decision threshold: the one
 * stored with the model (best F1 on its validation split at training time) unless
 * `--threshold` overrides it; a model stored without one gives scores only, with a note.
 */

import { stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';

import { Option } from 'commander';
import type { Command } from 'commander';

import { FileFormatError } from '../../errors.js';
import { IMAGE_EXTENSIONS, isImageFile, listImages } from '../../node/readers/files.js';
import { selectBackend } from '../backend.js';
import type { CommandContext } from '../context.js';
import type { CliItem } from '../dataset.js';
import { OptionError } from '../errors.js';
import { evaluate } from '../evaluation.js';
import { openModel, weightsFiles } from '../models.js';
import { log, println } from '../io.js';
import { addBackendOption, addJsonOption, integerAtLeast, numberIn, parseHeatmaps } from '../options.js';
import { RESULTS_FILE, RESULTS_FORMAT, markdownTable, stageOutput, writeJson, writeText } from '../output.js';

/** Option values of `ckaad score`. */
export interface ScoreValues {
  model: string;
  out: string;
  heatmaps: number | 'all';
  batchSize: number;
  threshold?: number;
  /** The backbone weights, when they are no longer where the model records them. */
  weights?: string;
  onBadImage: 'skip' | 'fail';
  json: boolean;
  backend?: string;
  threads?: number;
}

function stem(path: string): string {
  return basename(path, extname(path));
}

/**
 * The images named on the command line: files as given, folders as the images directly
 * inside them (sorted).
 *
 * @throws FileFormatError naming a path that does not exist, is not an image file, or is a
 *   folder without images.
 */
export async function collectImages(paths: readonly string[]): Promise<CliItem[]> {
  if (paths.length === 0) throw new OptionError('<images…>', 'at least one image file or folder', 'none');
  const files: { path: string; name: string }[] = [];
  for (const p of paths) {
    const s = await stat(p).catch(() => null);
    if (s === null) throw new FileFormatError(p, 'no such file or folder (expected an image file or a folder of images)');
    if (s.isDirectory()) {
      for (const f of await listImages(p, `images to score (${IMAGE_EXTENSIONS.join(' ')})`)) {
        files.push({ path: f, name: `${basename(resolve(p))}/${stem(f)}` });
      }
    } else if (isImageFile(p)) {
      files.push({ path: p, name: `${basename(dirname(resolve(p)))}/${stem(p)}` });
    } else {
      throw new FileFormatError(p, `not an image file (expected one of ${IMAGE_EXTENSIONS.join(' ')})`);
    }
  }
  const seen = new Map<string, number>();
  return files.map((f) => {
    const n = (seen.get(f.name) ?? 0) + 1;
    seen.set(f.name, n);
    return { label: 0, className: '', path: f.path, name: n === 1 ? f.name : `${f.name}-${n}` };
  });
}

/** Where the decision threshold of a `score` run comes from. */
export type ThresholdSource = '--threshold' | 'model' | null;

/**
 * The threshold `score` labels images with: `--threshold` when given, else the one stored
 * with the model (the best-F1 threshold on its validation split), else none.
 */
export function decisionThreshold(option: number | undefined, stored: number | null): { threshold: number | null; source: ThresholdSource } {
  if (option !== undefined) return { threshold: option, source: '--threshold' };
  if (stored !== null) return { threshold: stored, source: 'model' };
  return { threshold: null, source: null };
}

/** One phrase saying which threshold labelled the images and how many it flags. */
export function describeDecision(threshold: number | null, source: ThresholdSource, flagged: number, total: number): string {
  if (threshold === null || source === null) {
    return 'the model stores no decision threshold (it was trained without a validation split), so images get scores but no verdict; pass --threshold t to label them';
  }
  const from = source === 'model' ? "stored with the model: best F1 on its validation split; --threshold overrides it" : '--threshold';
  return `threshold ${threshold.toPrecision(6)} (${from}) flags ${flagged} of ${total} images as anomalous`;
}

/** Runs `ckaad score`; returns the results.json contents. */
export async function runScore(paths: string[], v: ScoreValues, ctx: CommandContext): Promise<Record<string, unknown>> {
  const { io } = ctx;
  const items = await collectImages(paths);
  const weights = await weightsFiles(v.weights === undefined ? [] : [v.weights]);
  const out = await stageOutput(v.out, '--out');
  try {
    const backend = await selectBackend(v.backend, v.threads);
    const model = await openModel(v.model, weights);
    log(io, `ckaad score: ${items.length} images with ${resolve(v.model)} (${model.record.extractor.arch}, ${model.imageSize}×${model.imageSize}); backend ${backend}`);
    const { threshold, source } = decisionThreshold(v.threshold, model.scoring.threshold);
    let evaluation;
    try {
      evaluation = await evaluate({
        model,
        items,
        labelled: false,
        batchSize: v.batchSize,
        onBadImage: v.onBadImage,
        heatmaps: v.heatmaps,
        threshold,
        output: { dir: out.dir, subdir: 'heatmaps' },
        label: 'score',
        io,
        signal: ctx.signal,
      });
    } finally {
      model.dispose();
    }
    const verdict = (score: number) => (threshold === null ? null : score >= threshold ? 'anomalous' : 'normal');
    const images = evaluation.images.map((i) => ({ path: resolve(i.path), name: i.name, score: i.score, verdict: verdict(i.score) }));
    const flagged = images.filter((i) => i.verdict === 'anomalous').length;
    const report = {
      format: RESULTS_FORMAT,
      version: 1,
      command: 'score',
      backend,
      model: resolve(v.model),
      threshold,
      thresholdSource: source,
      flagged: threshold === null ? null : flagged,
      images,
      skipped: evaluation.skipped,
      mapRange: evaluation.mapRange,
      heatmaps: evaluation.heatmaps,
      seconds: evaluation.seconds,
    };
    const headers = threshold === null ? ['image', 'score'] : ['image', 'score', 'verdict'];
    const table = markdownTable(
      headers,
      images.map((i) => [i.name, i.score.toFixed(4), ...(i.verdict === null ? [] : [i.verdict])]),
      ['score'],
    );
    await writeJson(`${out.dir}/${RESULTS_FILE}`, report);
    await writeText(`${out.dir}/results.md`, `# ckaad score: ${resolve(v.model)}\n\n${table}\n`);
    await out.commit();
    const decision = describeDecision(threshold, source, flagged, images.length);
    if (threshold === null) log(io, `note: ${decision}`);
    if (v.json) println(io, JSON.stringify(report, null, 2));
    else {
      println(io, table);
      const n = evaluation.skipped.length;
      const skipped = n > 0 ? ` (${n} unreadable image${n === 1 ? '' : 's'} skipped)` : '';
      println(io);
      println(io, `${images.length} images scored${skipped}${threshold === null ? '' : `; ${decision}`}; heat maps in ${out.target}`);
    }
    return report;
  } catch (e) {
    await out.discard();
    throw e;
  }
}

/** Adds `score` to the program. */
export function registerScore(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('score')
    .summary('anomaly scores and heat maps for images')
    .description(
      'Score image files (or every image directly inside the given folders) with a model saved by `train`. ' +
        'Prints a table of image scores and writes results.json, results.md and heat-map overlays (original | anomaly map) to --out.',
    )
    .argument('<images...>', 'image files or folders of images')
    .requiredOption('--model <dir>', 'a model folder written by `ckaad train`')
    .option('--out <dir>', 'results folder (replaced as a whole when the run succeeds)', 'ckaad-score')
    .option('--heatmaps <n>', "number of heat-map overlays, or 'all'", parseHeatmaps, 'all')
    .option(
      '--threshold <t>',
      "label each image anomalous when its score ≥ t (default: the threshold stored with the model — best F1 on its validation split — if it has one)",
      numberIn(-Infinity, Infinity),
    )
    .option('--weights <file>', "the backbone weights, if they moved since training (checked against the SHA-256 in the model's model.json)")
    .option('--batch-size <n>', 'images scored at once', integerAtLeast(1), 16)
    .addOption(new Option('--on-bad-image <action>', 'a corrupt image: skip it (counted in the summary) or stop').choices(['skip', 'fail']).default('fail'));
  addBackendOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (paths: string[], values: ScoreValues) => {
    await runScore(paths, values, ctx);
  });
}
