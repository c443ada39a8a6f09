/**
 * Brute-force reference definitions for the metric tests (slow, obviously correct, and
 * independent of the implementations under test), plus the golden-fixture loader.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Mann–Whitney by all pairs: P(pos > neg) + ½ P(pos = neg). O(n²). */
export function bruteAuroc(labels: readonly number[], scores: readonly number[]): number {
  let u = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i] > scores[j]) u += 1;
      else if (scores[i] === scores[j]) u += 0.5;
    }
  }
  return u / pairs;
}

/** Confusion counts of the prediction score ≥ t. */
export function confusionAt(labels: readonly number[], scores: readonly number[], t: number) {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i] >= t;
    if (labels[i] === 1) {
      if (predicted) tp++;
      else fn++;
    } else if (predicted) fp++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

/** Union-find components with 8-connectivity: a label per pixel (0 = background), arbitrary ids. */
export function unionFindComponents(mask: ArrayLike<number>, width: number, height: number): Int32Array {
  const parent = Array.from({ length: mask.length }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= height || xx < 0 || xx >= width || !mask[yy * width + xx]) continue;
          parent[find(y * width + x)] = find(yy * width + xx);
        }
      }
    }
  }
  const out = new Int32Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] ? find(i) + 1 : 0;
  return out;
}

/**
 * AUPRO by the MVTec AD definition, point by point: every distinct score t (descending) gives
 * (FPR, PRO) with prediction score ≥ t; the curve (0,0) … (1,1) is integrated with the
 * trapezoid rule up to `limit`, interpolating at the limit, and divided by it. O(T · n).
 */
export function bruteAupro(
  maps: readonly (readonly number[])[],
  masks: readonly (readonly number[])[],
  width: number,
  height: number,
  limit: number,
): number {
  const scores: number[] = [];
  const isNormal: boolean[] = [];
  const region: number[] = [];
  let regions = 0;
  maps.forEach((map, i) => {
    const cc = unionFindComponents(masks[i], width, height);
    const ids = new Map<number, number>();
    for (let p = 0; p < map.length; p++) {
      scores.push(map[p]);
      isNormal.push(cc[p] === 0);
      if (cc[p] === 0) region.push(-1);
      else {
        if (!ids.has(cc[p])) ids.set(cc[p], regions++);
        region.push(ids.get(cc[p]) as number);
      }
    }
  });
  const normalCount = isNormal.filter(Boolean).length;
  const regionSize = new Array<number>(regions).fill(0);
  for (const r of region) if (r >= 0) regionSize[r]++;
  const thresholds = [...new Set(scores)].sort((a, b) => b - a);
  const xs = [0];
  const ys = [0];
  for (const t of thresholds) {
    let fp = 0;
    const hit = new Array<number>(regions).fill(0);
    for (let p = 0; p < scores.length; p++) {
      if (scores[p] < t) continue;
      if (isNormal[p]) fp++;
      else hit[region[p]]++;
    }
    xs.push(fp / normalCount);
    ys.push(hit.reduce((acc, h, r) => acc + h / regionSize[r], 0) / regions);
  }
  xs.push(1);
  ys.push(1);
  let area = 0;
  for (let j = 0; j + 1 < xs.length; j++) {
    const [x0, y0, x1, y1] = [xs[j], ys[j], xs[j + 1], ys[j + 1]];
    if (x0 >= limit) break;
    if (x1 <= limit) area += ((x1 - x0) * (y0 + y1)) / 2;
    else {
      const yLimit = y0 + ((y1 - y0) * (limit - x0)) / (x1 - x0);
      area += ((limit - x0) * (y0 + yLimit)) / 2;
      break;
    }
  }
  return area / limit;
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'metrics');

/** Parses a fixture file written by scripts/make_metric_fixtures.py. */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

/** One image-level golden case. */
export interface ImageCase {
  name: string;
  dtype: 'float32' | 'float64';
  labels: number[];
  scores: number[];
  auroc: number;
  best: { f1: number; threshold: number; precision: number; recall: number; accuracy: number };
  curve?: { precision: number[]; recall: number[]; thresholds: number[] };
}

/** One pixel-level golden data set. */
export interface PixelDataset {
  name: string;
  dtype: 'float32' | 'float64';
  height: number;
  width: number;
  maps: number[][];
  masks: string[];
  regionCounts: number[];
  regionLabels: string[];
  pixelAuroc: number;
  aupro: Record<string, number>;
  auproOfficialFloat32Fpr: Record<string, number>;
  perImagePro?: { pro: number; perImage: number[]; imageIndices: number[] };
}

/** Fixture scores in their dtype (float32 fixtures hold the shortest decimals of float32s). */
export function typedScores(values: readonly number[], dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

/** A mask string of '0'/'1' characters as a Uint8Array. */
export function maskBits(mask: string): Uint8Array {
  return Uint8Array.from(mask, (c) => (c === '1' ? 1 : 0));
}
