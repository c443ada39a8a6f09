/** Figures: histogram binning, colour map, the heat-map grid's layout, and PNGs from a results folder. */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { encodeSafetensors } from '../../src/io/safetensors.js';
import { writeFileAtomic } from '../../src/node/atomic.js';
import {
  heatmapGridPixels,
  histogram,
  readExamples,
  renderHeatmapGrid,
  renderScoreHistograms,
  scoreHistogramSvg,
  trainingCurvesSvg,
  writeFigures,
} from '../../src/experiment/figures.js';
import { jet } from '../../src/pipeline/raster.js';
import { expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';
import { runDir, writeRunResult, writeRunScores } from '../../src/experiment/results.js';
import type { RunResult } from '../../src/experiment/results.js';
import { tempDir } from '../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('ckaad-figures-')));
afterAll(async () => cleanup());

describe('histogram and colours', () => {
  it('bins values into equal bins, the last one closed', () => {
    expect(histogram([0, 0.1, 0.25, 0.5, 0.99, 1, 1.5, -1], 0, 1, 4)).toEqual([2, 1, 1, 2]);
    expect(histogram([3, 3], 3, 3, 5)).toEqual([2, 0, 0, 0, 0]);
    expect(() => histogram([1], 0, 1, 0)).toThrow(/bins/);
  });

  it('jet runs dark blue → cyan → yellow → dark red', () => {
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(0.5)).toEqual([128, 255, 128]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(2)).toEqual(jet(1));
    expect(jet(Number.NaN)).toEqual(jet(0));
  });

  it('the histogram SVG states the AUROC and the class sizes', () => {
    const svg = scoreHistogramSvg([{ title: 'Recon & co', normal: [0.1, 0.2, 0.3], anomalous: [0.25, 0.9] }]);
    expect(svg).toContain('Recon &amp; co — image AUROC 83.33 %');
    expect(svg).toContain('normal (3)');
    expect(svg).toContain('anomalous (2)');
  });
});

describe('training curves', () => {
  it('draws a line per arm and epoch in both plots, the reported epoch as a dot, L_D only where measured', () => {
    const svg = trainingCurvesSvg([
      {
        title: 'T-shirt/top · seed 0',
        validationAuroc: [
          { label: 'Recon', values: [0.86, 0.89, 0.88], marked: 2 },
          { label: 'CKAPatch', values: [0.85, 0.9, 0.91], marked: 3 },
        ],
        discriminatorLoss: [{ label: 'CKAPatch', values: [9.93, 9.71, 9.54], marked: 3 }],
      },
      { title: 'Trouser · seed 0', validationAuroc: [{ label: 'Recon', values: [0.97, null], marked: 1 }], discriminatorLoss: [] },
    ]);
    expect(svg).toContain('T-shirt/top · seed 0');
    const polylines = [...svg.matchAll(/<polyline points="([^"]*)" fill="none" stroke="([^"]*)"/g)];
    expect(polylines.map((m) => m[1].split(' ').length)).toEqual([3, 3, 3, 1]);
    // One colour per arm across plots and rows: Recon, CKAPatch, CKAPatch (L_D), Recon.
    expect(polylines.map((m) => m[2])).toEqual(['#1f77b4', '#d62728', '#d62728', '#1f77b4']);
    // The reported epoch's dot sits on the line's point of that epoch.
    const dots = [...svg.matchAll(/<circle cx="([^"]*)" cy="([^"]*)" r="5"/g)].map((m) => `${m[1]},${m[2]}`);
    expect(dots).toHaveLength(4);
    expect(dots[0]).toBe(polylines[0][1].split(' ')[1]);
    expect(dots[1]).toBe(polylines[1][1].split(' ')[2]);
    // Higher values are drawn higher: CKAPatch's validation AUROC rises, its L_D falls.
    const ys = (k: number) => polylines[k][1].split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys(1)[2]).toBeLessThan(ys(1)[0]);
    expect(ys(2)[2]).toBeGreaterThan(ys(2)[0]);
    expect(svg).toContain('not measured');
    expect(() => trainingCurvesSvg([])).toThrow(/at least one row/);
  });
});

describe('heat-map grid', () => {
  const size = 8;
  const grid = {
    count: 2,
    size,
    images: Uint8Array.from({ length: 2 * size * size * 3 }, (_, i) => (i < size * size * 3 ? 200 : 10)),
    masks: Uint8Array.from({ length: 2 * size * size }, (_, i) => (i === size * size + 9 ? 1 : 0)),
    maps: Float32Array.from({ length: 2 * size * size }, (_, i) => (i < size * size ? 0 : 2)),
    titles: ['good 0.1', 'hole 0.9'],
  };

  it('lays out image | mask | map rows, one column per example, maps on a common scale', () => {
    const g = heatmapGridPixels(grid, { scale: 2 });
    expect(g.rows).toEqual(['image', 'mask', 'anomaly map']);
    expect(g.cell).toBe(16);
    expect(g.width).toBe(g.left + 2 * (16 + 6));
    expect(g.height).toBe(g.top + 3 * (16 + 6));
    const at = (x: number, y: number) => Array.from(g.pixels.subarray((y * g.width + x) * 3, (y * g.width + x) * 3 + 3));
    const col = (i: number) => g.left + i * 22;
    const row = (r: number) => g.top + r * 22;
    expect(at(col(0), row(0))).toEqual([200, 200, 200]);
    expect(at(col(1), row(0))).toEqual([10, 10, 10]);
    // mask pixel (1, 1) of example 1, scaled ×2 → (2..3, 2..3)
    expect(at(col(1) + 2, row(1) + 3)).toEqual([255, 255, 255]);
    expect(at(col(1), row(1))).toEqual([0, 0, 0]);
    expect(at(col(0), row(2))).toEqual(jet(0));
    expect(at(col(1), row(2))).toEqual(jet(1));
    // an explicit range instead
    const h = heatmapGridPixels(grid, { scale: 2, range: [0, 4] });
    const i = ((h.top + 2 * 22) * h.width + h.left + 22) * 3;
    expect(Array.from(h.pixels.subarray(i, i + 3))).toEqual(jet(0.5));
    expect(heatmapGridPixels({ ...grid, masks: null }).rows).toEqual(['image', 'anomaly map']);
    expect(heatmapGridPixels(grid).cell).toBe(128);
  });

  it('renders PNG files of the expected size', async () => {
    const path = join(dir, 'grid.png');
    await renderHeatmapGrid(grid, path, { scale: 2, title: 'test' });
    const g = heatmapGridPixels(grid, { scale: 2, title: 'test' });
    const meta = await sharp(path).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', g.width, g.height]);
    const hist = join(dir, 'hist.png');
    await renderScoreHistograms([{ title: 'a', normal: [1, 2], anomalous: [3] }, { title: 'b', normal: [1], anomalous: [0, 3] }], hist, { width: 500, panelHeight: 200 });
    const hm = await sharp(hist).metadata();
    expect([hm.format, hm.width, hm.height]).toEqual(['png', 500, 400]);
  });
});

describe('writeFigures', () => {
  it('draws one histogram per target with a panel per arm, and a grid per run with examples', async () => {
    const resultsDir = join(dir, 'results');
    const grid = expandGrid(
      parseProtocol({
        name: 'f',
        dataset: { kind: 'synthetic', categories: ['disc'], defects: ['scratch', 'hole'] },
        arms: [
          { strategy: 'Recon', labelled: [0.1] },
          { strategy: 'CKAPatch', labelled: [0.1] },
        ],
        seeds: [0, 1],
        epochs: 1,
        imageSize: 64,
        model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
      }),
    );
    const size = 4;
    for (const run of grid.filter((r) => r.seed === 1)) {
      await mkdir(runDir(resultsDir, run.id), { recursive: true });
      await writeRunScores(resultsDir, { format: 'ckaad-experiment-scores', version: 1, runId: run.id, names: ['a', 'b', 'c'], classNames: ['good', 'hole', 'scratch'], labels: [0, 1, 1], scores: [0.1, 0.5, 0.7] });
      await writeFileAtomic(
        join(runDir(resultsDir, run.id), 'examples.safetensors'),
        encodeSafetensors(
          {
            images: { dtype: 'U8', shape: [1, size, size, 3], data: new Uint8Array(size * size * 3).fill(50) },
            maps: { dtype: 'F32', shape: [1, size, size], data: new Float32Array(size * size).fill(0.5) },
            scores: { dtype: 'F32', shape: [1], data: new Float32Array([0.5]) },
          },
          { names: '["a"]', classNames: '["good"]', labels: '[0]' },
        ),
      );
      const result: RunResult = {
        format: 'ckaad-experiment-run',
        version: 1,
        protocol: 'f',
        run,
        data: { normal: 1, labelledAnomalies: 1, validationNormal: 1, validationAnomalous: 1, test: 3, labelledClasses: [run.labelledClass ?? ''] },
        training: {
          epochs: 2,
          steps: 2,
          reportedEpoch: 2,
          validationAuroc: 0.9,
          history: [0.8, 0.9].map((auroc, i) => ({ epoch: i + 1, steps: 1, lRec: 0.3, lAdv: 0, lD: run.arm === 'Recon' ? 0 : 9.9 - i, lAe: 0.3, validationAuroc: auroc, seconds: 1 })),
          seconds: 1,
        },
        metrics: { all: { images: 3, anomalous: 2, imageAuroc: 1, f1: 1, accuracy: 1 } },
        files: { scores: 'scores.json', examples: 'examples.safetensors' },
        environment: { backend: 'cpu', node: '', extractorWeightsSha256: null, finishedAt: '' },
      };
      await writeRunResult(resultsDir, result);
    }
    const examples = await readExamples(resultsDir, grid[grid.length - 1].id);
    expect(examples).toMatchObject({ count: 1, size, masks: null, titles: ['good 0.500'], names: ['a'], labels: [0] });

    const written = await writeFigures(resultsDir, { labelledClass: 'scratch' });
    const recon = grid.find((r) => r.seed === 1 && r.arm === 'Recon' && r.labelledClass === 'scratch');
    const patch = grid.find((r) => r.seed === 1 && r.arm === 'CKAPatch' && r.labelledClass === 'scratch');
    expect(written.map((p) => p.slice(resultsDir.length + 1))).toEqual([
      'figures/histograms__disc__s1.png',
      `figures/heatmaps__${recon?.id}.png`,
      `figures/heatmaps__${patch?.id}.png`,
      'figures/training-curves__s1.png',
    ]);
    const curves = await sharp(written[3]).metadata();
    expect([curves.width, curves.height]).toEqual([960, 230]);
    const hist = await sharp(written[0]).metadata();
    expect([hist.width, hist.height]).toEqual([720, 2 * 240]);
    await expect(writeFigures(resultsDir, { seed: 7 })).rejects.toThrow(/complete runs/);
    await expect(writeFigures(join(dir, 'empty'))).rejects.toThrow(/complete runs/);
  });
});
