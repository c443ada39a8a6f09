/**
 * `ckaad eval`: scores a dataset's test split with one or more saved models and reports the
 * paper's metrics side by side — image AUROC, best F1 and ACC; pixel AUROC and PRO when the
 * dataset has masks — as a markdown table (stdout and results.md), results.json and
 * heat-map overlays, all written to `--out` at once.
 *
 *   ckaad eval --model models/recon --model models/ckapatch --dataset mvtec --root ./mvtec --category bottle
 */

import { basename, resolve } from 'node:path';

import { Option } from 'commander';
import type { Command } from 'commander';

import { selectBackend } from '../backend.js';
import type { CommandContext } from '../context.js';
import { DATASET_KINDS, openDataset } from '../dataset.js';
import type { CliDataset, CliItem, DatasetKind } from '../dataset.js';
import { OptionError } from '../errors.js';
import { evaluate } from '../evaluation.js';
import type { Evaluation } from '../evaluation.js';
import { openModel, weightsFiles } from '../models.js';
import { log, println } from '../io.js';
import { addBackendOption, addJsonOption, integerAtLeast, parseHeatmaps } from '../options.js';
import { RESULTS_FILE, RESULTS_FORMAT, fmt, markdownTable, safeName, stageOutput, writeJson, writeText } from '../output.js';
import { subsample } from '../split.js';

/** Option values of `ckaad eval`. */
export interface EvalValues {
  /** Model folders (undefined when `--model` was not given). */
  model?: string[];
  dataset: DatasetKind;
  root: string;
  category?: string;
  normalClass?: string;
  /** Backbone weights files, when they are no longer where the models record them. */
  weights?: string[];
  out: string;
  heatmaps: number | 'all';
  batchSize: number;
  maxTest?: number;
  seed: number;
  onBadImage: 'skip' | 'fail';
  json: boolean;
  backend?: string;
  threads?: number;
}

/** One model's row of the results. */
export interface ModelResult extends Evaluation {
  name: string;
  path: string;
  strategy: string | null;
  imageSize: number;
  /**
   * The decision threshold stored with the model (best F1 on its validation split) and F1 /
   * ACC on this test split at it; null for a model stored without one.
   */
  storedThreshold?: ThresholdMetrics | null;
}

/** F1 and accuracy of the decision "anomalous when score ≥ threshold". */
export interface ThresholdMetrics {
  threshold: number;
  /** Null when the images do not carry labels of both classes. */
  f1: number | null;
  accuracy: number | null;
}

/**
 * F1 and accuracy on `labels` (1 = anomalous) of calling every score ≥ `threshold`
 * anomalous — the same decision and F1 formula as the best-F1 metric, at a fixed threshold.
 */
export function metricsAtThreshold(labels: readonly number[], scores: readonly number[], threshold: number): ThresholdMetrics {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  labels.forEach((label, i) => {
    const flagged = scores[i] >= threshold;
    if (label === 1 && flagged) tp++;
    else if (label === 1) fn++;
    else if (flagged) fp++;
    else tn++;
  });
  if (tp + fn === 0 || fp + tn === 0) return { threshold, f1: null, accuracy: null };
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp / (tp + fn);
  return { threshold, f1: (2 * (precision * recall)) / (precision + recall + 1e-16), accuracy: (tp + tn) / labels.length };
}

/** The decision thresholds of `ckaad eval`: each model's stored one next to this test split's best-F1 one. */
export function thresholdTable(results: readonly ModelResult[]): string {
  const headers = ['model', 'stored threshold', 'F1 at it', 'ACC at it', 'best-F1 threshold', 'best F1', 'ACC at best'];
  const rows = results.map((r) => [
    r.name,
    r.storedThreshold ? r.storedThreshold.threshold.toPrecision(6) : 'none',
    fmt(r.storedThreshold?.f1),
    fmt(r.storedThreshold?.accuracy),
    r.metrics.threshold === null ? '—' : r.metrics.threshold.toPrecision(6),
    fmt(r.metrics.f1),
    fmt(r.metrics.accuracy),
  ]);
  return markdownTable(headers, rows, headers.slice(1));
}

/** A seeded subset of at most `n` test items keeping the normal/anomalous proportion. */
export function stratifiedSubset(items: readonly CliItem[], n: number, seed: number): CliItem[] {
  if (items.length <= n) return [...items];
  const normal = items.filter((i) => i.label === 0);
  const anomalous = items.filter((i) => i.label === 1);
  const keepNormal = Math.max(normal.length > 0 ? 1 : 0, Math.round((n * normal.length) / items.length));
  const kept = new Set([...subsample(normal, keepNormal, seed), ...subsample(anomalous, n - keepNormal, seed + 1)]);
  return items.filter((i) => kept.has(i));
}

/** Distinct display names for the model folders (their base names, numbered on collisions). */
export function modelNames(dirs: readonly string[]): string[] {
  const bases = dirs.map((d) => safeName(basename(resolve(d))));
  return bases.map((b, i) => (bases.filter((x) => x === b).length > 1 ? `${b}-${i + 1}` : b));
}

/** The side-by-side metrics table of `ckaad eval` and `ckaad demo`. */
export function metricsTable(results: readonly ModelResult[], firstColumn?: { header: string; values: string[] }): string {
  const headers = [
    ...(firstColumn ? [firstColumn.header] : []),
    'model',
    'strategy',
    'image AUROC',
    'F1',
    'ACC',
    'pixel AUROC',
    'PRO@0.3',
    'images',
    'skipped',
  ];
  const rows = results.map((r, i) => [
    ...(firstColumn ? [firstColumn.values[i]] : []),
    r.name,
    r.strategy ?? '?',
    fmt(r.metrics.imageAuroc),
    fmt(r.metrics.f1),
    fmt(r.metrics.accuracy),
    fmt(r.metrics.pixelAuroc),
    fmt(r.metrics.pro),
    String(r.counts.scored),
    String(r.counts.skipped),
  ]);
  return markdownTable(headers, rows, ['image AUROC', 'F1', 'ACC', 'pixel AUROC', 'PRO@0.3', 'images', 'skipped']);
}

/** Describes the test set in one line. */
function describeTest(dataset: CliDataset, items: readonly CliItem[], total: number): string {
  const anomalous = items.filter((i) => i.label === 1).length;
  const subset = items.length < total ? ` (a seeded subset of ${total}, --max-test)` : '';
  return `${dataset.kind}${dataset.category ? `/${dataset.category}` : ''} test split: ${items.length} images, ${items.length - anomalous} normal ('${dataset.normalClass}'), ${anomalous} anomalous${subset}`;
}

/** Runs `ckaad eval` (see the module notes); returns the results.json contents. */
export async function runEval(v: EvalValues, ctx: CommandContext): Promise<Record<string, unknown>> {
  const { io } = ctx;
  const models = v.model ?? [];
  if (models.length === 0) throw new OptionError('--model', 'at least one model folder written by `ckaad train`', 'none');
  const weights = await weightsFiles(v.weights);
  const out = await stageOutput(v.out, '--out');
  try {
    const backend = await selectBackend(v.backend, v.threads);
    const dataset = await openDataset(v);
    const items = v.maxTest === undefined ? dataset.test : stratifiedSubset(dataset.test, v.maxTest, v.seed);
    log(io, `ckaad eval: ${describeTest(dataset, items, dataset.test.length)}; backend ${backend}`);
    const names = modelNames(models);
    const results: ModelResult[] = [];
    for (const [i, dir] of models.entries()) {
      const model = await openModel(dir, weights);
      try {
        const evaluation = await evaluate({
          model: { ...model, imageSize: model.imageSize },
          items,
          labelled: true,
          batchSize: v.batchSize,
          onBadImage: v.onBadImage,
          heatmaps: v.heatmaps,
          output: { dir: out.dir, subdir: `heatmaps/${names[i]}` },
          label: `eval ${names[i]}`,
          io,
          signal: ctx.signal,
        });
        const stored = model.scoring.threshold;
        const storedThreshold =
          stored === null ? null : metricsAtThreshold(evaluation.images.map((im) => im.label ?? 0), evaluation.images.map((im) => im.score), stored);
        results.push({ name: names[i], path: resolve(dir), strategy: model.record.training?.strategy ?? null, imageSize: model.imageSize, ...evaluation, storedThreshold });
      } finally {
        model.dispose();
      }
    }
    const report = {
      format: RESULTS_FORMAT,
      version: 1,
      command: 'eval',
      backend,
      dataset: {
        kind: dataset.kind,
        root: dataset.root,
        category: dataset.category ?? null,
        normalClass: dataset.normalClass,
        testImages: items.length,
        testImagesTotal: dataset.test.length,
      },
      models: results,
    };
    const table = metricsTable(results);
    const thresholds = thresholdTable(results);
    const thresholdNote =
      'Decision thresholds: "stored" is the one saved with the model (best F1 on its validation split at training time; `ckaad score` uses it); ' +
      '"best-F1" is the best one on this test split, which the F1 and ACC columns above use.';
    const title = `# ckaad eval: ${describeTest(dataset, items, dataset.test.length)}`;
    await writeJson(`${out.dir}/${RESULTS_FILE}`, report);
    await writeText(`${out.dir}/results.md`, `${title}\n\n${table}\n\n${thresholds}\n\n${thresholdNote}\n`);
    await out.commit();
    for (const r of results) {
      if (r.storedThreshold === null) log(io, `note: ${r.name} stores no decision threshold (it was trained without a validation split)`);
    }
    if (v.json) println(io, JSON.stringify(report, null, 2));
    else {
      println(io, table);
      println(io);
      println(io, thresholds);
      println(io);
      println(io, thresholdNote);
      println(io, `Results, per-image scores and heat maps in ${out.target}`);
    }
    return report;
  } catch (e) {
    await out.discard();
    throw e;
  }
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds `eval` to the program. */
export function registerEval(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('eval')
    .summary("score a dataset's test split with saved models and report the metrics")
    .description(
      "Score a dataset's test split with one or more models saved by `train`, and print image AUROC, best F1, ACC, " +
        'pixel AUROC and PRO (AUPRO, FPR ≤ 0.3; when the dataset has masks) side by side. Writes results.json, ' +
        'results.md and heat-map overlays (original | mask | anomaly map) to --out.',
    )
    .option('--model <dir>', 'a model folder written by `ckaad train` (repeat to compare models)', collect)
    .addOption(new Option('--dataset <kind>', 'dataset layout').choices(DATASET_KINDS).makeOptionMandatory())
    .requiredOption('--root <dir>', 'dataset folder')
    .option('--category <name>', 'object category (mvtec, visa)')
    .option('--normal-class <name>', 'the normal class (as used for training)')
    .option(
      '--weights <file>',
      "backbone weights, if they moved since training: used for the models whose model.json records this file's SHA-256 (repeat for models on different weights)",
      collect,
    )
    .option('--out <dir>', 'results folder (replaced as a whole when the run succeeds)', 'ckaad-eval')
    .option('--heatmaps <n>', "number of heat-map overlays per model (half anomalous, half normal), or 'all'", parseHeatmaps, 16)
    .option('--batch-size <n>', 'images scored at once', integerAtLeast(1), 16)
    .option('--max-test <n>', 'score a seeded subset of at most n test images (same normal/anomalous proportion)', integerAtLeast(2))
    .option('--seed <n>', 'seed of --max-test', integerAtLeast(0), 0)
    .addOption(new Option('--on-bad-image <action>', 'a corrupt image: skip it (counted in the summary) or stop').choices(['skip', 'fail']).default('fail'));
  addBackendOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (values: EvalValues) => {
    await runEval(values, ctx);
  });
}
