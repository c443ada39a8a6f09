/**
 * The results folder: one sub-folder per run, each written so that a crash or a stop at any
 * moment loses at most the run in progress.
 *
 *   <resultsDir>/
 *     protocol.json                   the resolved protocol of the last invocation
 *     runs/<run id>/checkpoint/       trainer checkpoint while the run is in progress
 *     runs/<run id>/scores.json       test scores, labels and classes (for figures)
 *     runs/<run id>/examples.safetensors  a few test images, masks and anomaly maps (for figures)
 *     runs/<run id>/result.json       written last: its presence marks the run as complete
 *     summary.json, summary.md        mean ± std tables over the complete runs
 *
 * Every file is written to a temporary sibling, flushed and renamed into place, so a reader
 * sees either no file or a complete one. A run whose `result.json` exists, parses, and has
 * the run's settings hash is skipped on the next invocation; a run without it starts again
 * (from its checkpoint, when the trainer wrote one).
 */

import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { EpochLog } from '../training/history.js';
import { writeFileAtomic, writeJsonAtomic } from '../node/atomic.js';
import { FileFormatError } from '../errors.js';
import type { RunSpec } from './grid.js';

/** Value of `format` in a run's result.json. */
export const RUN_RESULT_FORMAT = 'ckaad-experiment-run';
/** Value of `format` in a run's scores.json. */
export const RUN_SCORES_FORMAT = 'ckaad-experiment-scores';

/** Metrics over one subset of the test set. */
export interface MetricSet {
  /** Test images in the subset. */
  images: number;
  /** Anomalous images among them. */
  anomalous: number;
  /** Image AUROC. */
  imageAuroc: number;
  /** Best F1 over the precision–recall curve. */
  f1: number;
  /** Accuracy at the best-F1 threshold. */
  accuracy: number;
  /** Pixel AUROC (only for sets with ground-truth masks). */
  pixelAuroc?: number;
  /** AUPRO up to FPR 0.3, MVTec AD definition (only with masks). */
  aupro?: number;
}

/**
 * Test metrics of a run: over the whole test set, and — when the run has labelled ("seen")
 * anomaly classes that are not all anomaly classes — over normal test images together with
 * the test anomalies of the seen classes, and of the unseen classes.
 */
export interface RunMetrics {
  all: MetricSet;
  seen?: MetricSet;
  unseen?: MetricSet;
}

/** What a complete run leaves in `result.json`. */
export interface RunResult {
  format: typeof RUN_RESULT_FORMAT;
  version: 1;
  /** Name of the protocol. */
  protocol: string;
  /** The run's grid coordinates and settings (its `settingsHash` is checked on resume). */
  run: RunSpec;
  /** What the run trained and was tested on. */
  data: {
    normal: number;
    labelledAnomalies: number;
    validationNormal: number;
    validationAnomalous: number;
    test: number;
    /** The anomaly classes the labelled anomalies came from ([] for none, ['elastic'] for elastic ones). */
    labelledClasses: string[];
  };
  /** How training went. */
  training: {
    /** Epochs trained. */
    epochs: number;
    /** Steps trained. */
    steps: number;
    /** The epoch whose weights were tested (best on validation, or the last). */
    reportedEpoch: number;
    /** Validation AUROC of the reported epoch, or null with `selection: 'last'`. */
    validationAuroc: number | null;
    /** Per-epoch losses and validation AUROC. */
    history: EpochLog[];
    /** Wall-clock seconds of the attempt that completed the run (training, validation, testing; an interrupted earlier attempt is not included — per-epoch times are in `history`). */
    seconds: number;
  };
  /** Test metrics of the reported epoch only. */
  metrics: RunMetrics;
  /** Files of the run folder. */
  files: { scores: string; examples: string | null };
  /** Provenance. */
  environment: {
    backend: string;
    node: string;
    extractorWeightsSha256: string | null;
    /** With random backbone weights: the generator that drew them (`'rng'`; absent in results of ckaad before 0.2.0). */
    randomWeightsGenerator?: string;
    finishedAt: string;
  };
}

/** Contents of scores.json: one entry per test image, in test order. */
export interface RunScores {
  format: typeof RUN_SCORES_FORMAT;
  version: 1;
  runId: string;
  names: string[];
  classNames: string[];
  labels: number[];
  scores: number[];
}

/** Folder of a run. */
export function runDir(resultsDir: string, runId: string): string {
  return join(resultsDir, 'runs', runId);
}

/** Path of a run's result.json. */
export function resultPath(resultsDir: string, runId: string): string {
  return join(runDir(resultsDir, runId), 'result.json');
}

/** Writes a run's result atomically (the run counts as complete once this returns). */
export async function writeRunResult(resultsDir: string, result: RunResult): Promise<void> {
  await writeJsonAtomic(resultPath(resultsDir, result.run.id), result);
}

/** Writes a run's scores.json atomically. */
export async function writeRunScores(resultsDir: string, scores: RunScores): Promise<void> {
  await writeFileAtomic(join(runDir(resultsDir, scores.runId), 'scores.json'), JSON.stringify(scores) + '\n');
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function checkMetricSet(m: unknown): m is MetricSet {
  if (typeof m !== 'object' || m === null) return false;
  const s = m as Record<string, unknown>;
  return (
    isFiniteNumber(s.images) &&
    isFiniteNumber(s.anomalous) &&
    isFiniteNumber(s.imageAuroc) &&
    isFiniteNumber(s.f1) &&
    isFiniteNumber(s.accuracy) &&
    (s.pixelAuroc === undefined || isFiniteNumber(s.pixelAuroc)) &&
    (s.aupro === undefined || isFiniteNumber(s.aupro))
  );
}

/**
 * Parses result.json text; returns null unless it is a complete run result (right format and
 * version, run id and settings hash present, finite metrics).
 */
export function parseRunResult(text: string): RunResult | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<RunResult>;
  const ok =
    r.format === RUN_RESULT_FORMAT &&
    r.version === 1 &&
    typeof r.run?.id === 'string' &&
    typeof r.run.settingsHash === 'string' &&
    typeof r.training?.reportedEpoch === 'number' &&
    r.metrics !== undefined &&
    checkMetricSet(r.metrics.all) &&
    (r.metrics.seen === undefined || checkMetricSet(r.metrics.seen)) &&
    (r.metrics.unseen === undefined || checkMetricSet(r.metrics.unseen));
  return ok ? (r as RunResult) : null;
}

/** A run's result, or null if it has none or an incomplete/unreadable one. */
export async function readRunResult(resultsDir: string, runId: string): Promise<RunResult | null> {
  let text: string;
  try {
    text = await readFile(resultPath(resultsDir, runId), 'utf8');
  } catch {
    return null;
  }
  return parseRunResult(text);
}

/**
 * Every complete run result under `<resultsDir>/runs`, sorted by run id.
 *
 * @throws FileFormatError if `resultsDir/runs` exists but cannot be listed.
 */
export async function readRunResults(resultsDir: string): Promise<RunResult[]> {
  let ids: string[];
  try {
    ids = (await readdir(join(resultsDir, 'runs'), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FileFormatError(join(resultsDir, 'runs'), `cannot list run folders (${(e as Error).message})`);
  }
  const results: RunResult[] = [];
  for (const id of ids.sort()) {
    const r = await readRunResult(resultsDir, id);
    if (r !== null && r.run.id === id) results.push(r);
  }
  return results;
}

/**
 * A run's scores.json.
 *
 * @throws FileFormatError if it is missing or malformed.
 */
export async function readRunScores(resultsDir: string, runId: string): Promise<RunScores> {
  const path = join(runDir(resultsDir, runId), 'scores.json');
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new FileFormatError(path, `cannot read scores (${(e as Error).message})`);
  }
  const s = value as Partial<RunScores>;
  const n = s.scores?.length;
  const ok =
    s.format === RUN_SCORES_FORMAT &&
    Array.isArray(s.scores) &&
    Array.isArray(s.labels) &&
    Array.isArray(s.classNames) &&
    Array.isArray(s.names) &&
    s.labels.length === n &&
    s.classNames.length === n &&
    s.names.length === n;
  if (!ok) throw new FileFormatError(path, `not a ${RUN_SCORES_FORMAT} file with equally long names, classNames, labels and scores`);
  return s as RunScores;
}
