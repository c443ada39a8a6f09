/**
 * The subcommands end to end, in-process on the wasm backend, on a tiny synthetic set:
 * `train` saves a model that `eval` and `score` load and score consistently; `demo` prints
 * Recon and CKAPatch side by side; no tensor is leaked.
 */

import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { EXIT } from '../../src/cli/errors.js';
import { overlayLayout } from '../../src/cli/heatmap.js';
import { runCli, scratchDir, tinySynthetic } from './helpers.js';

let scratch: { dir: string; cleanup: () => Promise<void> };
let synthetic: string;

beforeAll(async () => {
  await useBackend('wasm');
  scratch = await scratchDir('ckaad-commands-');
  synthetic = await tinySynthetic(scratch.dir);
});

afterAll(() => scratch.cleanup());

interface ScoredImage {
  name: string;
  path: string;
  label: number | null;
  score: number;
}

describe('train → eval → score', () => {
  const modelDir = () => join(scratch.dir, 'models', 'ckapatch');

  it('train skips a corrupt image, saves a model with its training record and prints the epoch table', async () => {
    const corrupt = join(synthetic, 'weave', 'train', 'good', '999.png');
    await writeFile(corrupt, 'truncated');
    const r = await runCli([
      'train', '--backend', 'wasm', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--on-bad-image', 'skip',
      '--image-size', '64', '--epochs', '1', '--batch-size', '2', '--strategy', 'CKAPatch', '--lr', '5e-3', '--model', modelDir(),
    ]);
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.out).toMatch(/^\| epoch \|\s+L_rec \|\s+L_adv \|\s+L_D \| val AUROC \| seconds \|$/m);
    expect(r.out).toMatch(/^\|\s+1 \| \d\.\d{4} \| \d\.\d{4} \|\s+\d+\.\d{4} \|\s+— \|/m);
    expect(r.out).toMatch(/CKAPatch: 2 steps in \d+s; no validation split, so no decision threshold is stored \(`ckaad score` then needs --threshold to label images\); 1 unreadable image skipped \(--on-bad-image skip\)\. Model saved to /);
    expect(r.err).toContain(`warning: skipped ${corrupt}: `);
    expect(r.err).toContain('labelled anomalies: elastic transformations of the normal images');
    expect(r.err).toContain('warning: no --weights given: the backbone is randomly initialised');
    const record = JSON.parse(await readFile(join(modelDir(), 'model.json'), 'utf8'));
    expect(record.training.strategy).toBe('CKAPatch');
    expect(record.training.history).toHaveLength(1);
    expect(record.training.history[0].lD).toBeGreaterThan(0); // the discriminator did train
    expect(record.imageSize).toBe(64);
  });

  it('eval reports every metric, writes results and overlays; score agrees with it', async () => {
    const before = tf.memory().numTensors;
    const out = join(scratch.dir, 'eval');
    const r = await runCli([
      'eval', '--backend', 'wasm', '--model', modelDir(), '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--out', out, '--heatmaps', '3',
    ]);
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(tf.memory().numTensors).toBe(before);
    const row = r.out.split('\n').find((l) => l.startsWith('| ckapatch'));
    expect(row).toMatch(/^\| ckapatch \| CKAPatch \|\s+\d\.\d{3} \| \d\.\d{3} \| \d\.\d{3} \|\s+\d\.\d{3} \|\s+\d\.\d{3} \|\s+4 \|\s+0 \|$/);

    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    const m = results.models[0];
    expect(m.counts).toEqual({ scored: 4, normal: 2, anomalous: 2, skipped: 0 });
    for (const key of ['imageAuroc', 'f1', 'accuracy', 'pixelAuroc', 'pro']) {
      expect(m.metrics[key]).toBeGreaterThanOrEqual(0);
      expect(m.metrics[key]).toBeLessThanOrEqual(1);
    }
    expect(await readFile(join(out, 'results.md'), 'utf8')).toContain(row);
    // 3 overlays: 2 anomalous (one per defect type) + 1 normal, each original | mask | map.
    expect(m.heatmaps).toHaveLength(3);
    expect(m.heatmaps.filter((h: string) => h.includes('/anomalous_'))).toHaveLength(2);
    const meta = await sharp(join(out, m.heatmaps[0])).metadata();
    const layout = overlayLayout(64, true);
    expect([meta.width, meta.height]).toEqual([layout.width, layout.height]);
    expect(layout.panel).toBeGreaterThanOrEqual(256);

    // score the same test images with the same model: identical scores.
    const scored = join(scratch.dir, 'scored');
    const folders = ['good', 'hole', 'scratch'].map((f) => join(synthetic, 'weave', 'test', f));
    const s = await runCli(['score', '--backend', 'wasm', '--model', modelDir(), ...folders, '--out', scored, '--heatmaps', '1']);
    expect(s.code, s.err).toBe(EXIT.ok);
    const scoreResults = JSON.parse(await readFile(join(scored, 'results.json'), 'utf8'));
    const byPath = new Map<string, number>(scoreResults.images.map((i: { path: string; score: number }) => [i.path, i.score]));
    for (const image of m.images as ScoredImage[]) expect(byPath.get(image.path)).toBeCloseTo(image.score, 5);
    expect(scoreResults.heatmaps).toHaveLength(1);
    const overlay = await sharp(join(scored, scoreResults.heatmaps[0])).metadata();
    expect(overlay.width).toBe(overlayLayout(64, false).width); // no mask panel when scoring plain images
  });
});

describe('demo', () => {
  it('prints Recon and CKAPatch side by side with the wall time, and writes its folder', async () => {
    const out = join(scratch.dir, 'demo');
    const r = await runCli([
      'demo', '--backend', 'wasm', '--out', out, '--classes', 'weave', '--train-count', '2', '--test-good-count', '2',
      '--test-defect-count', '1', '--epochs', '1', '--batch-size', '2', '--heatmaps', '2',
    ]);
    expect(r.code, r.err).toBe(EXIT.ok);
    const table = r.out.split('\n').filter((l) => l.startsWith('|'));
    expect(table[0]).toMatch(/^\| class \| strategy \| image AUROC \| pixel AUROC \| PRO@0\.3 \| train s \| test images \|$/);
    expect(table.slice(2).map((l) => l.split('|')[2].trim())).toEqual(['Recon', 'CKAPatch']);
    for (const l of table.slice(2)) expect(l).toMatch(/\| weave \| \w+\s+\|\s+\d\.\d{3} \|\s+\d\.\d{3} \|\s+\d\.\d{3} \|/);
    expect(r.out).toMatch(/Backbone: randomly initialised \(no download possible offline\)/);
    expect(r.out).toMatch(/^Wall time \d+s \(\d+\.\d s\)/m);

    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.command).toBe('demo');
    expect(results.wallSeconds).toBeGreaterThan(0);
    expect(results.configuration).toMatchObject({ backend: 'wasm', imageSize: 64, epochs: 1, weights: expect.stringMatching(/^random/) });
    expect(results.models.map((x: { strategy: string }) => x.strategy)).toEqual(['Recon', 'CKAPatch']);
    expect((await readdir(out)).sort()).toEqual(['data', 'heatmaps', 'results.json', 'results.md']);
    expect((await readdir(join(out, 'heatmaps'))).sort()).toEqual(['weave-ckapatch', 'weave-recon']);
    expect((await stat(join(out, 'data', 'weave', 'ground_truth'))).isDirectory()).toBe(true);
    // Per-image paths point at the images in the output folder, not into its deleted staging folder.
    const paths = results.models.flatMap((m: { images: { path: string }[] }) => m.images.map((i) => i.path));
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) {
      expect(path.startsWith(join(out, 'data', 'weave', 'test') + '/')).toBe(true);
      expect((await stat(path)).isFile()).toBe(true);
    }
  });
});
