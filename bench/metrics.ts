/**
 * Metrics benchmark: pixel AUROC and AUPRO over 100 synthetic 256×256 anomaly maps with
 * blob-shaped masks (about half the images anomalous), plus the authors' per-image PRO for
 * comparison, and the process's peak RSS.
 *
 *   npx tsx bench/metrics.ts      # standalone, prints a table
 *   npm run bench -- metrics      # through bench/run.ts
 */
import { pathToFileURL } from 'node:url';
import { AuproAccumulator, PixelAurocAccumulator, perImagePro } from '../src/metrics/index.js';
import type { BenchFn, BenchRow } from './types.js';

const IMAGES = 100;
const SIZE = 256;

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One image: smooth background + noise, elliptical blobs raising the score inside the mask. */
function syntheticImage(rand: () => number, anomalous: boolean): { map: Float32Array; mask: Uint8Array } {
  const map = new Float32Array(SIZE * SIZE);
  const mask = new Uint8Array(SIZE * SIZE);
  const blobs = anomalous ? 1 + Math.floor(rand() * 3) : 0;
  const shapes = Array.from({ length: blobs }, () => ({
    cy: rand() * SIZE,
    cx: rand() * SIZE,
    ry: 4 + rand() * 30,
    rx: 4 + rand() * 30,
  }));
  const fy = 0.02 + rand() * 0.05;
  const fx = 0.02 + rand() * 0.05;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const p = y * SIZE + x;
      let boost = 0;
      for (const b of shapes) {
        const d = ((y - b.cy) / b.ry) ** 2 + ((x - b.cx) / b.rx) ** 2;
        if (d <= 1) mask[p] = 1;
        boost = Math.max(boost, Math.exp(-d));
      }
      map[p] = 0.3 * Math.sin(fy * y) * Math.cos(fx * x) + 0.25 * rand() + 0.6 * boost;
    }
  }
  return { map, mask };
}

function time<T>(fn: () => T): { result: T; ms: number } {
  const start = process.hrtime.bigint();
  const result = fn();
  return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

export const run: BenchFn = async () => {
  const rand = prng(1234);
  const data = Array.from({ length: IMAGES }, (_, i) => syntheticImage(rand, i % 2 === 1));
  const label = `${IMAGES} × ${SIZE}×${SIZE}`;
  const rows: BenchRow[] = [];

  const auroc = time(() => {
    const acc = new PixelAurocAccumulator();
    for (const { map, mask } of data) acc.add(map, mask);
    return { value: acc.compute(), bytes: acc.byteLength };
  });
  rows.push({ group: 'metrics', name: `pixel AUROC (add + compute), ${label}`, value: auroc.ms, unit: 'ms', note: `AUROC ${auroc.result.value.toFixed(4)}` });
  rows.push({ group: 'metrics', name: 'pixel AUROC accumulator storage', value: auroc.result.bytes / 2 ** 20, unit: 'MiB' });

  const pro = time(() => {
    const acc = new AuproAccumulator({ height: SIZE, width: SIZE });
    const added = time(() => {
      for (const { map, mask } of data) acc.add(map, mask);
    });
    const computed = time(() => acc.compute());
    const pixel = time(() => acc.pixelAuroc());
    return { acc, added, computed, pixel };
  });
  const { acc, added, computed, pixel } = pro.result;
  rows.push({ group: 'metrics', name: `AUPRO@0.3 total (add + compute), ${label}`, value: pro.ms - pixel.ms, unit: 'ms', note: `AUPRO ${computed.result.toFixed(4)}, ${acc.regionCount} regions` });
  rows.push({ group: 'metrics', name: '  of which add (labelling, storing)', value: added.ms, unit: 'ms' });
  rows.push({ group: 'metrics', name: '  of which compute (sort + sweep)', value: computed.ms, unit: 'ms' });
  rows.push({ group: 'metrics', name: 'pixel AUROC from the AUPRO accumulator', value: pixel.ms, unit: 'ms', note: `AUROC ${pixel.result.toFixed(4)}` });
  rows.push({ group: 'metrics', name: 'AUPRO accumulator storage', value: acc.byteLength / 2 ** 20, unit: 'MiB' });

  const authors = time(() => perImagePro(data.map((d) => d.map), data.map((d) => d.mask), { height: SIZE, width: SIZE }));
  rows.push({ group: 'metrics', name: `authors' per-image PRO (200 thresholds), ${label}`, value: authors.ms, unit: 'ms', note: `PRO ${authors.result.pro.toFixed(4)}` });

  rows.push({ group: 'metrics', name: 'peak RSS of the process (incl. 33 MB of input)', value: process.resourceUsage().maxRSS / 1024, unit: 'MiB' });
  return rows;
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await run();
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const value = r.value >= 100 ? r.value.toFixed(0) : r.value.toPrecision(3);
    console.log(`${r.name.padEnd(width)}  ${value.padStart(8)} ${r.unit.padEnd(4)} ${r.note ?? ''}`);
  }
}
