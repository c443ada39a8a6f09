/**
 * Aggregation of run results into mean ± std tables (markdown and JSON).
 *
 * Seeds are the replicate axis. Within a table row (a group of runs, e.g. one arm at one r_l),
 * each metric is first averaged over the row's runs of the same seed (normal classes, labelled
 * classes, categories), giving one value per seed; the row reports the mean of those per-seed
 * values and their sample standard deviation (n − 1 in the denominator; 0 for a single seed).
 * So "93.21 ± 0.40" reads: averaged over everything the row covers, and the spread that
 * re-running with other seeds produces.
 */

import { join } from 'node:path';

import { writeFileAtomic, writeJsonAtomic } from '../node/atomic.js';
import type { RunSpec } from './grid.js';
import { labelledTag } from './grid.js';
import type { GroupField } from './protocol.js';
import { DEFAULT_GROUP_BY } from './protocol.js';
import type { MetricSet, RunMetrics, RunResult } from './results.js';

/** Value of `format` in summary.json. */
export const SUMMARY_FORMAT = 'ckaad-experiment-summary';

/** Mean ± std of one metric over seeds. */
export interface MetricSummary {
  /** Mean of the per-seed values. */
  mean: number;
  /** Sample standard deviation of the per-seed values (0 for one seed). */
  std: number;
  /** Number of seeds with a value. */
  n: number;
  /** The per-seed values (seed order as in `SummaryRow.seeds`, seeds without a value skipped). */
  perSeed: number[];
}

/** One row of a table. */
export interface SummaryRow {
  /** The row's value of each grouping field. */
  key: Partial<Record<GroupField, string>>;
  /** Seeds with at least one complete run in the row, ascending. */
  seeds: number[];
  /** Complete runs in the row. */
  runs: number;
  /** Runs the grid has in the row, or null when the grid was not given. */
  expectedRuns: number | null;
  /** Metric name (`all.imageAuroc`, `seen.aupro`, …) → its summary. */
  metrics: Record<string, MetricSummary>;
}

/** One table. */
export interface SummaryTable {
  /** The grouping fields (the leading columns). */
  groupBy: GroupField[];
  /** Metric names present in at least one row, in display order. */
  metrics: string[];
  rows: SummaryRow[];
}

/** Contents of summary.json. */
export interface ExperimentSummary {
  format: typeof SUMMARY_FORMAT;
  version: 1;
  /** Protocol name. */
  protocol: string;
  /** Complete runs aggregated, and the grid's size when known. */
  runs: { complete: number; expected: number | null };
  /** How the std is computed. */
  std: 'sample standard deviation over seeds of per-seed means (n - 1)';
  tables: SummaryTable[];
}

/** Options of {@link aggregateResults}. */
export interface AggregateOptions {
  /** Protocol name for the summary. Default: the first result's. */
  protocol?: string;
  /** One table per entry. Default `[['arm', 'labelled'], ['target', 'arm', 'labelled']]`. */
  groupBy?: readonly (readonly GroupField[])[];
  /**
   * The whole grid (from `expandGrid`): orders rows as the grid does, counts expected runs per
   * row, and ignores results of runs that are not in it. Default: none.
   */
  expected?: readonly RunSpec[];
}

const SUBSETS = ['all', 'seen', 'unseen'] as const;
const METRIC_NAMES = ['imageAuroc', 'f1', 'accuracy', 'pixelAuroc', 'aupro'] as const;

/** A run's metrics as flat `subset.metric` → value pairs (`all.imageAuroc`, `unseen.aupro`, …). */
export function flattenMetrics(metrics: RunMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const subset of SUBSETS) {
    const set: MetricSet | undefined = metrics[subset];
    if (set === undefined) continue;
    for (const name of METRIC_NAMES) {
      const v = set[name];
      if (v !== undefined) out[`${subset}.${name}`] = v;
    }
  }
  return out;
}

/** Mean and sample standard deviation (n − 1; 0 for n = 1) of a non-empty list. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: 0 };
  const ss = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/** A run's value of a grouping field, as shown in the tables. */
export function groupValue(run: RunSpec, field: GroupField): string {
  switch (field) {
    case 'arm':
      return run.arm;
    case 'labelled':
      return labelledTag(run.labelled).replace(/^rl/, 'r_l=');
    case 'target':
      return run.target;
    case 'labelledClass':
      return run.labelledClass ?? '-';
  }
}

function metricOrder(a: string, b: string): number {
  const rank = (m: string) => {
    const [subset, name] = m.split('.');
    const s = (SUBSETS as readonly string[]).indexOf(subset);
    const n = (METRIC_NAMES as readonly string[]).indexOf(name);
    return (s < 0 ? SUBSETS.length : s) * 100 + (n < 0 ? METRIC_NAMES.length : n);
  };
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Builds the mean ± std tables of a set of complete runs (see the module notes).
 *
 * @example
 * ```ts
 * const summary = aggregateResults(await readRunResults('results/fm'), { expected: expandGrid(protocol) });
 * console.log(formatSummaryMarkdown(summary));
 * ```
 */
export function aggregateResults(results: readonly RunResult[], options: AggregateOptions = {}): ExperimentSummary {
  const expected = options.expected ?? null;
  const inGrid = expected === null ? null : new Map(expected.map((r) => [r.id, r]));
  const used = inGrid === null ? [...results] : results.filter((r) => inGrid.get(r.run.id)?.settingsHash === r.run.settingsHash);
  const order = expected ?? [...used.map((r) => r.run)].sort((a, b) => a.index - b.index);
  const groupings = (options.groupBy ?? DEFAULT_GROUP_BY).map((g) => [...g]);

  const tables = groupings.map((groupBy): SummaryTable => {
    const keyOf = (run: RunSpec) => JSON.stringify(groupBy.map((f) => groupValue(run, f)));
    // Rows in grid order.
    const rowKeys: string[] = [];
    const expectedCount = new Map<string, number>();
    for (const run of order) {
      const key = keyOf(run);
      if (!expectedCount.has(key)) {
        rowKeys.push(key);
        expectedCount.set(key, 0);
      }
      expectedCount.set(key, (expectedCount.get(key) as number) + 1);
    }
    const members = new Map<string, RunResult[]>(rowKeys.map((k) => [k, []]));
    for (const r of used) members.get(keyOf(r.run))?.push(r);

    const metricNames = new Set<string>();
    const rows: SummaryRow[] = [];
    for (const key of rowKeys) {
      const runs = members.get(key) as RunResult[];
      if (runs.length === 0) continue;
      const values = JSON.parse(key) as string[];
      const seeds = [...new Set(runs.map((r) => r.run.seed))].sort((a, b) => a - b);
      // metric → seed → values of that seed's runs
      const bySeed = new Map<string, Map<number, number[]>>();
      for (const r of runs) {
        for (const [name, v] of Object.entries(flattenMetrics(r.metrics))) {
          let perSeed = bySeed.get(name);
          if (perSeed === undefined) bySeed.set(name, (perSeed = new Map()));
          const list = perSeed.get(r.run.seed) ?? [];
          list.push(v);
          perSeed.set(r.run.seed, list);
        }
      }
      const metrics: Record<string, MetricSummary> = {};
      for (const [name, perSeed] of bySeed) {
        metricNames.add(name);
        const seedMeans = seeds.filter((s) => perSeed.has(s)).map((s) => meanStd(perSeed.get(s) as number[]).mean);
        const { mean, std } = meanStd(seedMeans);
        metrics[name] = { mean, std, n: seedMeans.length, perSeed: seedMeans };
      }
      rows.push({
        key: Object.fromEntries(groupBy.map((f, i) => [f, values[i]])),
        seeds,
        runs: runs.length,
        expectedRuns: expected === null ? null : (expectedCount.get(key) as number),
        metrics,
      });
    }
    return { groupBy, metrics: [...metricNames].sort(metricOrder), rows };
  });

  return {
    format: SUMMARY_FORMAT,
    version: 1,
    protocol: options.protocol ?? results[0]?.protocol ?? '',
    runs: { complete: used.length, expected: expected === null ? null : expected.length },
    std: 'sample standard deviation over seeds of per-seed means (n - 1)',
    tables,
  };
}

const METRIC_LABELS: Record<string, string> = {
  imageAuroc: 'image AUROC',
  f1: 'F1',
  accuracy: 'ACC',
  pixelAuroc: 'pixel AUROC',
  aupro: 'AUPRO',
};

const FIELD_LABELS: Record<GroupField, string> = {
  arm: 'arm',
  labelled: 'labelled',
  target: 'normal class / category',
  labelledClass: 'labelled (seen) class',
};

/** Column header of a metric: `image AUROC`, `seen pixel AUROC`, … */
export function metricLabel(metric: string): string {
  const [subset, name] = metric.split('.');
  const label = METRIC_LABELS[name] ?? name;
  return subset === 'all' ? label : `${subset} ${label}`;
}

/** `93.21 ± 0.40` (percent, two decimals). */
function formatCell(m: MetricSummary | undefined): string {
  if (m === undefined) return '-';
  return `${(100 * m.mean).toFixed(2)} ± ${(100 * m.std).toFixed(2)}`;
}

/**
 * The summary as markdown: one table per grouping, metrics in percent as mean ± std over seeds.
 *
 * @param options.metrics Metric columns to show (e.g. `['all.imageAuroc']`). Default: all present.
 */
export function formatSummaryMarkdown(summary: ExperimentSummary, options: { metrics?: readonly string[] | null } = {}): string {
  const lines: string[] = [];
  const { complete, expected } = summary.runs;
  lines.push(`# ${summary.protocol}`);
  lines.push('');
  lines.push(
    `${complete}${expected === null ? '' : ` of ${expected}`} runs complete. Metrics in %, mean ± sample std over seeds ` +
      '(each seed first averaged over the runs of the row).',
  );
  for (const table of summary.tables) {
    const metrics = options.metrics ? table.metrics.filter((m) => options.metrics?.includes(m)) : table.metrics;
    lines.push('');
    lines.push(`## By ${table.groupBy.map((f) => FIELD_LABELS[f]).join(', ')}`);
    lines.push('');
    const header = [...table.groupBy.map((f) => FIELD_LABELS[f]), 'seeds', 'runs', ...metrics.map(metricLabel)];
    lines.push(`| ${header.join(' | ')} |`);
    lines.push(`|${header.map((_, i) => (i < table.groupBy.length ? '---' : '---:')).join('|')}|`);
    for (const row of table.rows) {
      const runs = row.expectedRuns === null || row.expectedRuns === row.runs ? String(row.runs) : `${row.runs}/${row.expectedRuns}`;
      const cells = [...table.groupBy.map((f) => row.key[f] ?? ''), String(row.seeds.length), runs, ...metrics.map((m) => formatCell(row.metrics[m]))];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Writes `summary.json` and `summary.md` into the results folder, atomically. */
export async function writeSummary(resultsDir: string, summary: ExperimentSummary, options: { metrics?: readonly string[] | null } = {}): Promise<void> {
  await writeJsonAtomic(join(resultsDir, 'summary.json'), summary);
  await writeFileAtomic(join(resultsDir, 'summary.md'), formatSummaryMarkdown(summary, options));
}
