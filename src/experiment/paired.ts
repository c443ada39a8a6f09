/**
 * Paired comparisons on the seen and unseen anomaly classes. A run with labelled anomalies
 * reports its AUROC over normal + seen-class and normal + unseen-class test images; a baseline
 * run without labelled anomalies (Recon) has no seen class of its own. This module scores the
 * baseline run of the same seed and normal class on exactly the same two subsets, so that
 * "did the labelled class help on itself, and did it hurt on the others" can be read off.
 */

import { InvalidArgumentError } from '../errors.js';
import { imageAuroc } from '../metrics/auroc.js';
import type { LabelledSetting } from './protocol.js';
import type { RunResult, RunScores } from './results.js';

/** A complete run with its test scores. */
export interface ScoredRun {
  result: RunResult;
  scores: RunScores;
}

/** AUROC of a run and of its baseline on one test subset. */
export interface PairedAuroc {
  run: number;
  baseline: number;
}

/** One run with a seen class next to the baseline run of the same seed and normal class. */
export interface PairedComparison {
  target: string;
  seed: number;
  arm: string;
  labelled: LabelledSetting;
  seenClass: string;
  baselineArm: string;
  /** Normal + seen-class test images. */
  seen: PairedAuroc;
  /** Normal + every other anomaly class. */
  unseen: PairedAuroc;
  /** Every test image. */
  all: PairedAuroc;
}

/** Image AUROC over the test images `keep` selects. */
function subsetAuroc(s: RunScores, keep: (className: string, label: number) => boolean): number {
  const labels: number[] = [];
  const scores: number[] = [];
  s.labels.forEach((label, i) => {
    if (keep(s.classNames[i], label)) {
      labels.push(label);
      scores.push(s.scores[i]);
    }
  });
  return imageAuroc(Uint8Array.from(labels), Float32Array.from(scores));
}

/**
 * Pairs every run that has a seen class (k = 1) with the run of arm `baselineArm` of the same
 * seed and normal class, and computes both runs' image AUROC on the seen subset, the unseen
 * subset and all test images. Runs without a baseline partner are left out.
 *
 * @throws InvalidArgumentError if two paired runs scored different test images (the test
 *   names or their order differ).
 */
export function pairedComparisons(runs: readonly ScoredRun[], baselineArm: string): PairedComparison[] {
  const baselines = new Map<string, ScoredRun>();
  for (const r of runs) {
    if (r.result.run.arm === baselineArm) baselines.set(`${r.result.run.seed}\u0000${r.result.run.target}`, r);
  }
  const out: PairedComparison[] = [];
  for (const r of runs) {
    const run = r.result.run;
    const seen = run.labelledClass;
    if (run.arm === baselineArm || seen === null) continue;
    const base = baselines.get(`${run.seed}\u0000${run.target}`);
    if (base === undefined) continue;
    const a = r.scores;
    const b = base.scores;
    if (a.names.length !== b.names.length || a.names.some((n, i) => n !== b.names[i])) {
      throw new InvalidArgumentError('runs', `runs ${run.id} and ${base.result.run.id} scored on the same test images in the same order`, 'different test images');
    }
    const inSeen = (c: string, label: number) => label === 0 || c === seen;
    const inUnseen = (c: string, label: number) => label === 0 || c !== seen;
    const all = () => true;
    out.push({
      target: run.target,
      seed: run.seed,
      arm: run.arm,
      labelled: run.labelled,
      seenClass: seen,
      baselineArm,
      seen: { run: subsetAuroc(a, inSeen), baseline: subsetAuroc(b, inSeen) },
      unseen: { run: subsetAuroc(a, inUnseen), baseline: subsetAuroc(b, inUnseen) },
      all: { run: subsetAuroc(a, all), baseline: subsetAuroc(b, all) },
    });
  }
  return out.sort((x, y) => x.seed - y.seed || (x.target < y.target ? -1 : x.target > y.target ? 1 : 0) || (x.arm < y.arm ? -1 : x.arm > y.arm ? 1 : 0));
}

/**
 * A markdown table of {@link pairedComparisons}: one row per pair, in percent, with the
 * difference run − baseline per subset, and a mean row per arm.
 */
export function formatPairedMarkdown(rows: readonly PairedComparison[]): string {
  if (rows.length === 0) return '(no run with a seen class has a baseline partner)\n';
  const pct = (x: number) => (100 * x).toFixed(2);
  const diff = (p: PairedAuroc) => `${p.run >= p.baseline ? '+' : ''}${(100 * (p.run - p.baseline)).toFixed(2)}`;
  const base = rows[0].baselineArm;
  const lines = [
    `| normal class / category | seed | arm | seen class | seen: ${base} | seen: arm | Δ | unseen: ${base} | unseen: arm | Δ | all: ${base} | all: arm | Δ |`,
    '|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.target} | ${r.seed} | ${r.arm} | ${r.seenClass} | ${pct(r.seen.baseline)} | ${pct(r.seen.run)} | ${diff(r.seen)} | ` +
        `${pct(r.unseen.baseline)} | ${pct(r.unseen.run)} | ${diff(r.unseen)} | ${pct(r.all.baseline)} | ${pct(r.all.run)} | ${diff(r.all)} |`,
    );
  }
  for (const arm of [...new Set(rows.map((r) => r.arm))]) {
    const mine = rows.filter((r) => r.arm === arm);
    const mean = (pick: (r: PairedComparison) => PairedAuroc): PairedAuroc => ({
      run: mine.reduce((s, r) => s + pick(r).run, 0) / mine.length,
      baseline: mine.reduce((s, r) => s + pick(r).baseline, 0) / mine.length,
    });
    const seen = mean((r) => r.seen);
    const unseen = mean((r) => r.unseen);
    const all = mean((r) => r.all);
    lines.push(
      `| **mean of ${mine.length}** | | ${arm} | | ${pct(seen.baseline)} | ${pct(seen.run)} | ${diff(seen)} | ` +
        `${pct(unseen.baseline)} | ${pct(unseen.run)} | ${diff(unseen)} | ${pct(all.baseline)} | ${pct(all.run)} | ${diff(all)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
