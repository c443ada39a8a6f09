/** Aggregation: two-stage mean ± sample std over seeds, checked against a hand computation. */

import { describe, expect, it } from 'vitest';

import { aggregateResults, flattenMetrics, formatSummaryMarkdown, meanStd } from '../../src/experiment/aggregate.js';
import { expandGrid } from '../../src/experiment/grid.js';
import type { RunSpec } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';
import type { RunResult } from '../../src/experiment/results.js';

const grid = expandGrid(
  parseProtocol({
    name: 'hand',
    dataset: { kind: 'fashion-mnist', root: '/x' },
    normalClasses: ['Trouser', 'Bag'],
    arms: [
      { name: 'A', strategy: 'Recon', labelled: [0] },
      { name: 'B', strategy: 'CKAPatch', labelled: [0.05] },
    ],
    labelledClasses: ['Coat', 'Dress'],
    seeds: [0, 1],
    epochs: 1,
    imageSize: 64,
    model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
  }),
);

function find(seed: number, target: string, arm: string, labelledClass: string | null): RunSpec {
  const run = grid.find((r) => r.seed === seed && r.target === target && r.arm === arm && r.labelledClass === labelledClass);
  if (run === undefined) throw new Error('no such run');
  return run;
}

function result(run: RunSpec, auroc: number, extra: Partial<RunResult['metrics']> = {}): RunResult {
  const set = { images: 10, anomalous: 5, imageAuroc: auroc, f1: auroc / 2, accuracy: 0.5 };
  return {
    format: 'ckaad-experiment-run',
    version: 1,
    protocol: 'hand',
    run,
    data: { normal: 1, labelledAnomalies: 0, validationNormal: 1, validationAnomalous: 1, test: 10, labelledClasses: [] },
    training: { epochs: 1, steps: 1, reportedEpoch: 1, validationAuroc: null, history: [], seconds: 1 },
    metrics: { all: set, ...extra },
    files: { scores: 'scores.json', examples: null },
    environment: { backend: 'cpu', node: 'v20', extractorWeightsSha256: null, finishedAt: '' },
  };
}

// A: seed 0 → (0.80, 0.90), seed 1 → (0.70, 0.80).
// B: seed 0 → Trouser (0.9, 0.7), Bag (0.8, 1.0); seed 1 → Trouser (0.6, 0.6), Bag missing.
const results: RunResult[] = [
  result(find(0, 'Trouser', 'A', null), 0.8),
  result(find(0, 'Bag', 'A', null), 0.9),
  result(find(1, 'Trouser', 'A', null), 0.7),
  result(find(1, 'Bag', 'A', null), 0.8),
  result(find(0, 'Trouser', 'B', 'Coat'), 0.9, { seen: { images: 4, anomalous: 2, imageAuroc: 1, f1: 1, accuracy: 1 } }),
  result(find(0, 'Trouser', 'B', 'Dress'), 0.7),
  result(find(0, 'Bag', 'B', 'Coat'), 0.8),
  result(find(0, 'Bag', 'B', 'Dress'), 1.0),
  result(find(1, 'Trouser', 'B', 'Coat'), 0.6),
  result(find(1, 'Trouser', 'B', 'Dress'), 0.6),
];

describe('aggregateResults', () => {
  it('averages within each seed first, then reports mean ± sample std over seeds', () => {
    const summary = aggregateResults(results, { expected: grid });
    expect(summary.runs).toEqual({ complete: 10, expected: 12 });
    const [byArm, byTarget] = summary.tables;
    expect(byArm.groupBy).toEqual(['arm', 'labelled']);
    const [a, b] = byArm.rows;
    expect(a.key).toEqual({ arm: 'A', labelled: 'r_l=0' });
    // seed means 0.85 and 0.75 → mean 0.80, std sqrt((0.05² + 0.05²) / 1)
    expect(a.metrics['all.imageAuroc'].perSeed.map((v) => +v.toFixed(12))).toEqual([0.85, 0.75]);
    expect(a.metrics['all.imageAuroc'].mean).toBeCloseTo(0.8, 12);
    expect(a.metrics['all.imageAuroc'].std).toBeCloseTo(Math.sqrt(0.005), 12);
    expect(a.runs).toBe(4);
    expect(a.expectedRuns).toBe(4);
    // seed means 0.85 (4 runs) and 0.6 (2 runs) → mean 0.725, std sqrt((0.125² · 2) / 1)
    expect(b.metrics['all.imageAuroc'].mean).toBeCloseTo(0.725, 12);
    expect(b.metrics['all.imageAuroc'].std).toBeCloseTo(0.125 * Math.SQRT2, 12);
    expect(b.metrics['all.f1'].mean).toBeCloseTo(0.725 / 2, 12);
    expect([b.runs, b.expectedRuns]).toEqual([6, 8]);
    // a metric only one run has: one seed, std 0
    expect(b.metrics['seen.imageAuroc']).toEqual({ mean: 1, std: 0, n: 1, perSeed: [1] });
    expect(byArm.metrics).toEqual(['all.imageAuroc', 'all.f1', 'all.accuracy', 'seen.imageAuroc', 'seen.f1', 'seen.accuracy']);

    // by target: (Trouser, B): seed means 0.8 and 0.6; (Bag, B): seed 0 only, 0.9
    const row = (target: string, arm: string) => byTarget.rows.find((r) => r.key.target === target && r.key.arm === arm);
    expect(row('Trouser', 'B')?.metrics['all.imageAuroc'].mean).toBeCloseTo(0.7, 12);
    expect(row('Trouser', 'B')?.metrics['all.imageAuroc'].std).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(row('Bag', 'B')?.metrics['all.imageAuroc']).toMatchObject({ n: 1, std: 0 });
    expect(row('Bag', 'B')?.metrics['all.imageAuroc'].mean).toBeCloseTo(0.9, 12);
    expect(byTarget.rows.map((r) => `${r.key.target}/${r.key.arm}`)).toEqual(['Trouser/A', 'Trouser/B', 'Bag/A', 'Bag/B']);
  });

  it('ignores results that are not runs of the grid (other settings)', () => {
    const stale = result({ ...find(1, 'Bag', 'B', 'Coat'), settingsHash: 'other' }, 0);
    const summary = aggregateResults([...results, stale], { expected: grid });
    expect(summary.runs.complete).toBe(10);
    expect(summary.tables[0].rows[1].metrics['all.imageAuroc'].mean).toBeCloseTo(0.725, 12);
  });

  it('renders percent tables with partial rows marked', () => {
    const md = formatSummaryMarkdown(aggregateResults(results, { expected: grid, protocol: 'hand' }));
    expect(md).toContain('# hand');
    expect(md).toContain('10 of 12 runs complete');
    expect(md).toContain('| arm | labelled | seeds | runs | image AUROC | F1 | ACC | seen image AUROC | seen F1 | seen ACC |');
    expect(md).toContain('| A | r_l=0 | 2 | 4 | 80.00 ± 7.07 | 40.00 ± 3.54 | 50.00 ± 0.00 | - | - | - |');
    expect(md).toContain('| B | r_l=0.05 | 2 | 6/8 | 72.50 ± 17.68 |');
    const only = formatSummaryMarkdown(aggregateResults(results, { expected: grid }), { metrics: ['all.imageAuroc'] });
    expect(only).toContain('| arm | labelled | seeds | runs | image AUROC |\n');
  });
});

describe('helpers', () => {
  it('meanStd uses n − 1 and gives 0 for one value', () => {
    expect(meanStd([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ mean: 5, std: Math.sqrt(32 / 7) });
    expect(meanStd([3])).toEqual({ mean: 3, std: 0 });
  });

  it('flattenMetrics names subset and metric', () => {
    const m = { all: { images: 1, anomalous: 1, imageAuroc: 0.5, f1: 0.1, accuracy: 0.2, aupro: 0.3 }, unseen: { images: 1, anomalous: 1, imageAuroc: 0.4, f1: 0, accuracy: 0 } };
    expect(flattenMetrics(m)).toEqual({ 'all.imageAuroc': 0.5, 'all.f1': 0.1, 'all.accuracy': 0.2, 'all.aupro': 0.3, 'unseen.imageAuroc': 0.4, 'unseen.f1': 0, 'unseen.accuracy': 0 });
  });
});
