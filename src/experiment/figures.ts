/**
 * Figures of an experiment, as PNG files rendered with sharp from the files the runner saves:
 *
 * - score histograms, normal vs. anomalous test images, one panel per arm (the paper's Fig. 5:
 *   "anomaly score distribution on the test set trained without/with 5 % anomalies"), from
 *   `scores.json`;
 * - a grid of test examples with one column per image and the rows image | ground-truth mask |
 *   anomaly map (Figs. 6–7; the mask row only for sets with masks), from `examples.safetensors`;
 * - training curves: per target, the validation AUROC and the discriminator loss L_D of every
 *   arm per epoch, the reported epoch marked, from `result.json`.
 *
 * Histograms are drawn as SVG (text included) and rasterised by sharp; heat maps are coloured
 * byte by byte (jet colour map) and labelled with an SVG overlay.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { readSafetensors } from '../io/safetensors.js';
import { loadSharp } from '../node/sharp.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { imageAuroc } from '../metrics/auroc.js';
import { FONT, Raster, encodePng, jet, shortNumber, xmlText } from '../pipeline/raster.js';
import type { Rgb } from '../pipeline/raster.js';
import { readRunResults, readRunScores, runDir } from './results.js';
import type { RunResult } from './results.js';

/** One histogram panel: the scores of the normal and of the anomalous test images of a run. */
export interface HistogramPanel {
  /** Panel title, e.g. `Recon (r_l=0)`. */
  title: string;
  normal: readonly number[];
  anomalous: readonly number[];
}

/** Options of {@link scoreHistogramSvg}. */
export interface HistogramOptions {
  /** Bins per panel. Default 40. */
  bins?: number;
  /** Figure width in pixels. Default 720. */
  width?: number;
  /** Height of one panel in pixels. Default 240. */
  panelHeight?: number;
}

/**
 * Counts of `values` in `bins` equal bins over [lo, hi] (the last bin includes hi; values
 * outside are ignored).
 */
export function histogram(values: readonly number[], lo: number, hi: number, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new InvalidArgumentError('bins', 'an integer ≥ 1', String(bins));
  const counts = new Array<number>(bins).fill(0);
  const width = hi - lo;
  for (const v of values) {
    if (!(v >= lo && v <= hi)) continue;
    const b = width > 0 ? Math.min(bins - 1, Math.floor(((v - lo) / width) * bins)) : 0;
    counts[b]++;
  }
  return counts;
}

const NORMAL_COLOUR = '#1f77b4';
const ANOMALOUS_COLOUR = '#d62728';

/**
 * The histograms as an SVG document: one panel per entry, stacked vertically; each shows the
 * fraction of normal (blue) and anomalous (red) test images per score bin over the panel's
 * score range, and the image AUROC in its title.
 */
export function scoreHistogramSvg(panels: readonly HistogramPanel[], options: HistogramOptions = {}): string {
  const bins = options.bins ?? 40;
  const width = options.width ?? 720;
  const panelHeight = options.panelHeight ?? 240;
  if (panels.length === 0) throw new InvalidArgumentError('panels', 'at least one panel');
  const left = 64;
  const right = 16;
  const top = 34;
  const bottom = 40;
  const plotW = width - left - right;
  const plotH = panelHeight - top - bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${panelHeight * panels.length}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  panels.forEach((p, k) => {
    if (p.normal.length === 0 || p.anomalous.length === 0) {
      throw new InvalidArgumentError(`panels[${k}]`, 'normal and anomalous scores (both non-empty)');
    }
    const all = [...p.normal, ...p.anomalous];
    let lo = Math.min(...all);
    let hi = Math.max(...all);
    if (hi === lo) {
      lo -= 0.5;
      hi += 0.5;
    }
    const hn = histogram(p.normal, lo, hi, bins).map((c) => c / p.normal.length);
    const ha = histogram(p.anomalous, lo, hi, bins).map((c) => c / p.anomalous.length);
    const ymax = Math.max(...hn, ...ha) * 1.05;
    const y0 = k * panelHeight + top;
    const auroc = imageAuroc(
      [...p.normal.map(() => 0), ...p.anomalous.map(() => 1)],
      all,
    );
    parts.push(
      `<text x="${left}" y="${y0 - 12}" font-size="15" fill="black">${xmlText(p.title)} — image AUROC ${(100 * auroc).toFixed(2)} %</text>`,
    );
    const bw = plotW / bins;
    const bar = (h: number[], colour: string) =>
      h
        .map((v, b) => {
          const bh = (v / ymax) * plotH;
          return bh > 0
            ? `<rect x="${(left + b * bw).toFixed(2)}" y="${(y0 + plotH - bh).toFixed(2)}" width="${bw.toFixed(2)}" height="${bh.toFixed(2)}" fill="${colour}" fill-opacity="0.55"/>`
            : '';
        })
        .join('');
    parts.push(bar(hn, NORMAL_COLOUR), bar(ha, ANOMALOUS_COLOUR));
    // Axes, ticks and labels.
    parts.push(`<line x1="${left}" y1="${y0 + plotH}" x2="${left + plotW}" y2="${y0 + plotH}" stroke="black"/>`);
    parts.push(`<line x1="${left}" y1="${y0}" x2="${left}" y2="${y0 + plotH}" stroke="black"/>`);
    for (let t = 0; t <= 4; t++) {
      const x = left + (t / 4) * plotW;
      parts.push(`<line x1="${x}" y1="${y0 + plotH}" x2="${x}" y2="${y0 + plotH + 5}" stroke="black"/>`);
      parts.push(`<text x="${x}" y="${y0 + plotH + 18}" font-size="11" text-anchor="middle">${shortNumber(lo + (t / 4) * (hi - lo))}</text>`);
      const yv = (t / 4) * ymax;
      const y = y0 + plotH - (t / 4) * plotH;
      parts.push(`<text x="${left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${shortNumber(yv)}</text>`);
    }
    parts.push(`<text x="${left + plotW / 2}" y="${y0 + plotH + 34}" font-size="12" text-anchor="middle">anomaly score</text>`);
    parts.push(
      `<text x="14" y="${y0 + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${y0 + plotH / 2})">fraction of images</text>`,
    );
    const lx = left + plotW - 190;
    parts.push(`<rect x="${lx}" y="${y0 + 4}" width="12" height="12" fill="${NORMAL_COLOUR}" fill-opacity="0.55"/>`);
    parts.push(`<text x="${lx + 18}" y="${y0 + 14}" font-size="12">normal (${p.normal.length})</text>`);
    parts.push(`<rect x="${lx}" y="${y0 + 22}" width="12" height="12" fill="${ANOMALOUS_COLOUR}" fill-opacity="0.55"/>`);
    parts.push(`<text x="${lx + 18}" y="${y0 + 32}" font-size="12">anomalous (${p.anomalous.length})</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Renders {@link scoreHistogramSvg} to a PNG file. */
export async function renderScoreHistograms(panels: readonly HistogramPanel[], path: string, options: HistogramOptions = {}): Promise<void> {
  const sharp = await loadSharp();
  await writeFile(path, await sharp(Buffer.from(scoreHistogramSvg(panels, options))).png().toBuffer());
}

/** One line of a training-curves plot: an arm's value per epoch (null: not measured). */
export interface CurveSeries {
  /** Legend label, e.g. `CKAPatch`. */
  label: string;
  /** Values of epochs 1, 2, …. */
  values: readonly (number | null)[];
  /** Epoch (1-based) marked with a dot: the reported one. Default none. */
  marked?: number;
}

/** One row of the training-curves figure: a target's validation AUROC and L_D per epoch. */
export interface CurvesRow {
  /** Row title, e.g. `T-shirt/top · seed 0`. */
  title: string;
  /** Validation AUROC per epoch, in [0, 1] (drawn in %). */
  validationAuroc: readonly CurveSeries[];
  /** Discriminator loss per epoch (arms with a discriminator only). */
  discriminatorLoss: readonly CurveSeries[];
}

const SERIES_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Lower and upper end of an axis showing `values`, padded by 5 % (a flat series gets ±0.5 %). */
function axisRange(values: readonly number[]): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = hi > lo ? 0.05 * (hi - lo) : Math.max(0.005 * Math.abs(hi), 1e-3);
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

/**
 * The training curves as an SVG document: one row per entry, with two plots side by side —
 * validation AUROC (%) and L_D against the epoch — one line per arm (same colour in both),
 * the reported epoch of each arm a filled dot. A plot without any value says so.
 */
export function trainingCurvesSvg(rows: readonly CurvesRow[], options: { width?: number; rowHeight?: number } = {}): string {
  if (rows.length === 0) throw new InvalidArgumentError('rows', 'at least one row');
  const width = options.width ?? 960;
  const rowHeight = options.rowHeight ?? 230;
  const gap = 40;
  const left = 58;
  const top = 44;
  const bottom = 40;
  const plotW = (width - 2 * left - gap - 16) / 2;
  const plotH = rowHeight - top - bottom;
  const labels = [...new Set(rows.flatMap((r) => [...r.validationAuroc, ...r.discriminatorLoss].map((c) => c.label)))];
  const colour = (label: string) => SERIES_COLOURS[labels.indexOf(label) % SERIES_COLOURS.length];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${rowHeight * rows.length}" font-family="${FONT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  const plot = (series: readonly CurveSeries[], x0: number, y0: number, name: string, scale: number) => {
    parts.push(`<text x="${x0 + plotW / 2}" y="${y0 - 8}" font-size="13" text-anchor="middle">${xmlText(name)}</text>`);
    parts.push(`<line x1="${x0}" y1="${y0 + plotH}" x2="${x0 + plotW}" y2="${y0 + plotH}" stroke="black"/>`);
    parts.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 + plotH}" stroke="black"/>`);
    const values = series.flatMap((c) => c.values.filter((v): v is number => v !== null).map((v) => v * scale));
    if (values.length === 0) {
      parts.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH / 2}" font-size="12" text-anchor="middle" fill="#666">not measured</text>`);
      return;
    }
    const epochs = Math.max(...series.map((c) => c.values.length));
    const [lo, hi] = axisRange(values);
    const x = (epoch: number) => x0 + (epochs === 1 ? plotW / 2 : ((epoch - 1) / (epochs - 1)) * plotW);
    const y = (v: number) => y0 + plotH - ((v - lo) / (hi - lo)) * plotH;
    for (let e = 1; e <= epochs; e++) {
      parts.push(`<line x1="${x(e)}" y1="${y0 + plotH}" x2="${x(e)}" y2="${y0 + plotH + 5}" stroke="black"/>`);
      parts.push(`<text x="${x(e)}" y="${y0 + plotH + 18}" font-size="11" text-anchor="middle">${e}</text>`);
    }
    for (let t = 0; t <= 4; t++) {
      const v = lo + (t / 4) * (hi - lo);
      parts.push(`<text x="${x0 - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${shortNumber(v)}</text>`);
    }
    parts.push(`<text x="${x0 + plotW / 2}" y="${y0 + plotH + 34}" font-size="12" text-anchor="middle">epoch</text>`);
    for (const c of series) {
      const points = c.values.flatMap((v, i) => (v === null ? [] : [[x(i + 1), y(v * scale)] as const]));
      const stroke = colour(c.label);
      parts.push(`<polyline points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}" fill="none" stroke="${stroke}" stroke-width="2"/>`);
      for (const [px, py] of points) parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="white" stroke="${stroke}"/>`);
      const m = c.marked === undefined ? null : c.values[c.marked - 1];
      if (m !== null && m !== undefined) parts.push(`<circle cx="${x(c.marked as number).toFixed(1)}" cy="${y(m * scale).toFixed(1)}" r="5" fill="${stroke}"/>`);
    }
  };
  rows.forEach((row, k) => {
    const y0 = k * rowHeight + top;
    parts.push(`<text x="${left}" y="${y0 - 26}" font-size="15">${xmlText(row.title)}</text>`);
    plot(row.validationAuroc, left, y0, 'validation AUROC (%) — dot: reported epoch', 100);
    plot(row.discriminatorLoss, 2 * left + gap + plotW, y0, 'discriminator loss L_D', 1);
  });
  const legendY = 16;
  labels.forEach((label, i) => {
    const lx = width - 16 - (labels.length - i) * 150;
    parts.push(`<line x1="${lx}" y1="${legendY}" x2="${lx + 22}" y2="${legendY}" stroke="${colour(label)}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 28}" y="${legendY + 4}" font-size="12">${xmlText(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Test examples to draw: what the runner keeps in `examples.safetensors`. */
export interface ExampleGrid {
  /** Number of examples (columns). */
  count: number;
  /** Side length of each image. */
  size: number;
  /** RGB pixels `[count, size, size, 3]`. */
  images: Uint8Array;
  /** Masks `[count, size, size]` of 0/1, or null (no mask row). */
  masks: Uint8Array | null;
  /** Anomaly maps `[count, size, size]`. */
  maps: Float32Array;
  /** Column titles (e.g. class names). */
  titles: string[];
}

/** Options of {@link renderHeatmapGrid}. */
export interface HeatmapOptions {
  /** Integer up-scaling of every cell (nearest neighbour). Default: the smallest giving cells ≥ 128 px. */
  scale?: number;
  /** Colour range of the maps. Default: minimum and maximum over all maps of the grid (comparable columns). */
  range?: [number, number];
  /** Figure title. Default none. */
  title?: string;
}

/**
 * Draws the grid as raw RGB bytes (rows image | mask | anomaly map, one column per example)
 * and returns them with the geometry; {@link renderHeatmapGrid} adds the labels and encodes PNG.
 */
export function heatmapGridPixels(
  grid: ExampleGrid,
  options: HeatmapOptions = {},
): { raster: Raster; pixels: Uint8Array; width: number; height: number; cell: number; left: number; top: number; rows: string[] } {
  const { count, size } = grid;
  if (count < 1 || grid.images.length !== count * size * size * 3 || grid.maps.length !== count * size * size) {
    throw new InvalidArgumentError('grid', `${count} images of ${size}×${size}×3 bytes and ${count} maps of ${size}×${size}`);
  }
  if (grid.masks !== null && grid.masks.length !== count * size * size) {
    throw new InvalidArgumentError('grid.masks', `${count}·${size}·${size} bytes or null`, String(grid.masks.length));
  }
  const scale = options.scale ?? Math.max(1, Math.ceil(128 / size));
  if (!Number.isInteger(scale) || scale < 1) throw new InvalidArgumentError('options.scale', 'an integer ≥ 1', String(scale));
  let [lo, hi] = options.range ?? [Infinity, -Infinity];
  if (options.range === undefined) {
    for (const v of grid.maps) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const rows = grid.masks === null ? ['image', 'anomaly map'] : ['image', 'mask', 'anomaly map'];
  const cell = size * scale;
  const pad = 6;
  const left = 104;
  const top = (options.title ? 30 : 0) + 22;
  const width = left + count * (cell + pad);
  const height = top + rows.length * (cell + pad);
  const raster = new Raster(width, height);
  const put = (x0: number, y0: number, colour: (x: number, y: number) => Rgb) => raster.drawPicture(x0, y0, size, scale, colour);
  for (let i = 0; i < count; i++) {
    const x0 = left + i * (cell + pad);
    const base = i * size * size;
    rows.forEach((row, r) => {
      const y0 = top + r * (cell + pad);
      if (row === 'image') {
        put(x0, y0, (x, y) => {
          const p = (base + y * size + x) * 3;
          return [grid.images[p], grid.images[p + 1], grid.images[p + 2]];
        });
      } else if (row === 'mask') {
        put(x0, y0, (x, y) => ((grid.masks as Uint8Array)[base + y * size + x] > 0 ? [255, 255, 255] : [0, 0, 0]));
      } else {
        put(x0, y0, (x, y) => jet((grid.maps[base + y * size + x] - lo) / span));
      }
    });
  }
  return { raster, pixels: raster.pixels, width, height, cell, left, top, rows };
}

/** Renders an {@link ExampleGrid} (rows image | mask | anomaly map) to a PNG file. */
export async function renderHeatmapGrid(grid: ExampleGrid, path: string, options: HeatmapOptions = {}): Promise<void> {
  const { raster, cell, left, top, rows } = heatmapGridPixels(grid, options);
  const pad = 6;
  const labels: string[] = [];
  if (options.title) labels.push(`<text x="8" y="20" font-size="15">${xmlText(options.title)}</text>`);
  rows.forEach((row, r) => labels.push(`<text x="8" y="${top + r * (cell + pad) + cell / 2 + 4}" font-size="13">${row}</text>`));
  grid.titles.forEach((t, i) => {
    const text = t.length > Math.max(6, Math.floor(cell / 7)) ? `${t.slice(0, Math.max(5, Math.floor(cell / 7)) - 1)}…` : t;
    labels.push(`<text x="${left + i * (cell + pad) + cell / 2}" y="${top - 6}" font-size="12" text-anchor="middle">${xmlText(text)}</text>`);
  });
  await writeFile(path, await encodePng(raster, labels));
}

/**
 * A run's `examples.safetensors` as an {@link ExampleGrid} (titles: class name, and the score).
 *
 * @throws FileFormatError if the file is missing or lacks the expected tensors.
 */
export async function readExamples(resultsDir: string, runId: string): Promise<ExampleGrid & { names: string[]; classNames: string[]; labels: number[] }> {
  const path = join(runDir(resultsDir, runId), 'examples.safetensors');
  const st = await readSafetensors(path);
  try {
    for (const name of ['images', 'maps', 'scores']) {
      if (!st.has(name)) throw new FileFormatError(path, `missing tensor "${name}"`);
    }
    const images = await st.tensor('images');
    const maps = await st.float32('maps');
    const scores = await st.float32('scores');
    const masks = st.has('masks') ? await st.tensor('masks') : null;
    const [count, size] = images.shape;
    const parse = (key: string): unknown[] => {
      try {
        const v = JSON.parse(st.metadata[key] ?? '[]') as unknown;
        return Array.isArray(v) ? v : [];
      } catch {
        return [];
      }
    };
    const classNames = parse('classNames').map(String);
    return {
      count,
      size,
      images: images.data as Uint8Array,
      masks: masks === null ? null : (masks.data as Uint8Array),
      maps,
      titles: Array.from(scores, (s, i) => `${classNames[i] ?? ''} ${s.toPrecision(3)}`.trim()),
      names: parse('names').map(String),
      classNames,
      labels: parse('labels').map(Number),
    };
  } finally {
    await st.close();
  }
}

/** Options of {@link writeFigures}. */
export interface FigureOptions {
  /** Output folder. Default `<resultsDir>/figures`. */
  out?: string;
  /** Arms to show, in this order. Default: every arm, in grid order. */
  arms?: readonly string[];
  /** Seed whose runs are drawn. Default: the smallest seed with results. */
  seed?: number;
  /** Normal classes / categories to draw. Default: all with results. */
  targets?: readonly string[];
  /** Preferred labelled (seen) class for arms that have one. Default: the first in grid order. */
  labelledClass?: string;
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '-');
}

/**
 * Writes the figures of an experiment's complete runs: per target, one histogram PNG with a
 * panel per arm (`histograms__<target>__s<seed>.png`), and per drawn run one heat-map grid
 * (`heatmaps__<run id>.png`); then one PNG of training curves with a row per target
 * (`training-curves__s<seed>.png`).
 *
 * @returns the paths written.
 * @throws InvalidArgumentError when no complete run matches the options.
 *
 * @example
 * ```ts
 * const written = await writeFigures('results/fashion-mnist-smoke', { arms: ['Recon', 'CKAPatch'] });
 * ```
 */
export async function writeFigures(resultsDir: string, options: FigureOptions = {}): Promise<string[]> {
  const results = (await readRunResults(resultsDir)).sort((a, b) => a.run.index - b.run.index);
  if (results.length === 0) throw new InvalidArgumentError('resultsDir', 'a results folder with complete runs', resultsDir);
  const seed = options.seed ?? Math.min(...results.map((r) => r.run.seed));
  const arms = options.arms ?? [...new Set(results.map((r) => r.run.arm))];
  const targets = options.targets ?? [...new Set(results.map((r) => r.run.target))];
  const out = options.out ?? join(resultsDir, 'figures');
  await mkdir(out, { recursive: true });
  const written: string[] = [];
  const curves: CurvesRow[] = [];
  for (const target of targets) {
    const chosen: RunResult[] = [];
    for (const arm of arms) {
      const candidates = results.filter((r) => r.run.seed === seed && r.run.target === target && r.run.arm === arm);
      const preferred = candidates.find((r) => options.labelledClass !== undefined && r.run.labelledClass === options.labelledClass);
      const pick = preferred ?? candidates[0];
      if (pick !== undefined) chosen.push(pick);
    }
    if (chosen.length === 0) continue;
    const series = (value: (h: RunResult['training']['history'][number]) => number | null) =>
      chosen
        .map((r) => ({ label: r.run.arm, values: r.training.history.map(value), marked: r.training.reportedEpoch }))
        .filter((c) => c.values.some((v) => v !== null));
    curves.push({
      title: `${target} · seed ${seed}`,
      validationAuroc: series((h) => h.validationAuroc),
      // L_D is 0 for arms without a discriminator: not drawn.
      discriminatorLoss: series((h) => (h.lD === 0 ? null : h.lD)),
    });
    const panels: HistogramPanel[] = [];
    for (const r of chosen) {
      const s = await readRunScores(resultsDir, r.run.id);
      const labelled = r.run.labelled === 'elastic' ? 'elastic' : `r_l=${r.run.labelled}`;
      panels.push({
        title: `${r.run.arm} (${labelled}${r.run.labelledClass === null ? '' : `, seen ${r.run.labelledClass}`}) · ${target} · seed ${seed}`,
        normal: s.scores.filter((_, i) => s.labels[i] === 0),
        anomalous: s.scores.filter((_, i) => s.labels[i] === 1),
      });
    }
    const histPath = join(out, `histograms__${safe(target)}__s${seed}.png`);
    await renderScoreHistograms(panels, histPath);
    written.push(histPath);
    for (const r of chosen) {
      if (r.files.examples === null) continue;
      const grid = await readExamples(resultsDir, r.run.id);
      const path = join(out, `heatmaps__${r.run.id}.png`);
      await renderHeatmapGrid(grid, path, { title: `${r.run.arm} · ${target} · seed ${seed} (column: class and image score)` });
      written.push(path);
    }
  }
  if (written.length === 0) {
    throw new InvalidArgumentError('options', `arms/targets/seed that match complete runs (seed ${seed}, arms ${arms.join(', ')})`);
  }
  const curvesPath = join(out, `training-curves__s${seed}.png`);
  const sharp = await loadSharp();
  await writeFile(curvesPath, await sharp(Buffer.from(trainingCurvesSvg(curves))).png().toBuffer());
  written.push(curvesPath);
  return written;
}
