/**
 * Decision thresholds on the command line: `score` labels images with the threshold stored
 * with the model unless `--threshold` overrides it, says which and how many images it flags,
 * and notes when the model has none; `eval` prints the stored threshold with F1 / ACC at it
 * next to the test split's best-F1 threshold. In-process on the cpu backend with untrained
 * models (nothing is trained).
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import { useBackend } from '../../src/backend/select.js';
import { metricsAtThreshold } from '../../src/cli/commands/eval.js';
import { EXIT } from '../../src/cli/errors.js';
import { describeExtractor, saveModel } from '../../src/io/saved-model.js';
import { bestF1 } from '../../src/metrics/pr-curve.js';
import { modelFolder } from '../../src/node/folders.js';
import { LAYERS, SIZE } from '../training/fixtures.js';
import { runCli, scratchDir, tinySynthetic, untrainedModel } from './helpers.js';

let scratch: { dir: string; cleanup: () => Promise<void> };
let synthetic: string;
let plain: string; // no stored threshold

/** The untrained model of `untrainedModel`, saved with a stored decision threshold. */
async function modelWithThreshold(name: string, threshold: number): Promise<string> {
  const path = join(scratch.dir, name);
  const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers: LAYERS, seed: 1 });
  try {
    const extractor = await describeExtractor({ arch: 'resnet18', layers: LAYERS, weights: 'random', seed: 0 });
    await saveModel(modelFolder(path), { extractor, autoencoder, imageSize: SIZE, scoring: { threshold } });
  } finally {
    autoencoder.dispose();
  }
  return path;
}

beforeAll(async () => {
  await useBackend('cpu');
  scratch = await scratchDir('ckaad-thresholds-');
  synthetic = await tinySynthetic(scratch.dir);
  plain = await untrainedModel(scratch.dir, 'plain');
});

afterAll(() => scratch.cleanup());

interface ScoreReport {
  threshold: number | null;
  thresholdSource: string | null;
  flagged: number | null;
  images: { score: number; verdict: string | null }[];
}

const images = () => join(synthetic, 'weave', 'test');
async function score(model: string, extra: string[] = []) {
  const out = join(scratch.dir, `score-${Math.random()}`);
  const r = await runCli(['score', '--backend', 'cpu', '--model', model, join(images(), 'good'), join(images(), 'hole'), '--heatmaps', '0', '--out', out, ...extra]);
  expect(r.code, r.err).toBe(EXIT.ok);
  const report = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as ScoreReport;
  return { r, report };
}

describe('score', () => {
  it('a model without a stored threshold: scores only, and a note saying how to label', async () => {
    const { r, report } = await score(plain);
    expect(report.threshold).toBeNull();
    expect(report.images.every((i) => i.verdict === null)).toBe(true);
    expect(r.out).not.toMatch(/verdict/);
    expect(r.err).toMatch(/note: the model stores no decision threshold .*pass --threshold t to label them/);
  });

  it("uses the model's stored threshold, says so and counts the flagged images; --threshold overrides it", async () => {
    const { report: unlabelled } = await score(plain);
    const scores = unlabelled.images.map((i) => i.score).sort((a, b) => a - b);
    const middle = scores[Math.floor(scores.length / 2)]; // flags the upper half
    const expected = scores.filter((s) => s >= middle).length;
    const stored = await modelWithThreshold('stored', middle);
    const { r, report } = await score(stored);
    expect(report).toMatchObject({ threshold: middle, thresholdSource: 'model', flagged: expected });
    expect(report.images.filter((i) => i.verdict === 'anomalous')).toHaveLength(expected);
    expect(r.out).toMatch(/^\| image +\| +score \| verdict +\|$/m);
    expect(r.out).toContain(
      `threshold ${middle.toPrecision(6)} (stored with the model: best F1 on its validation split; --threshold overrides it) flags ${expected} of ${scores.length} images as anomalous`,
    );
    expect(r.err).not.toMatch(/note:/);
    const override = await score(stored, ['--threshold', String(scores[scores.length - 1])]);
    expect(override.report).toMatchObject({ threshold: scores[scores.length - 1], thresholdSource: '--threshold', flagged: 1 });
    expect(override.r.out).toContain(`(--threshold) flags 1 of ${scores.length} images as anomalous`);
  });
});

describe('eval', () => {
  it('prints the stored threshold with F1 and ACC at it next to the best-F1 threshold', async () => {
    const stored = await modelWithThreshold('eval-stored', 0.5);
    const out = join(scratch.dir, 'eval');
    const r = await runCli(['eval', '--backend', 'cpu', '--model', stored, '--model', plain, '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--heatmaps', '0', '--out', out]);
    expect(r.code, r.err).toBe(EXIT.ok);
    const report = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as {
      models: { name: string; storedThreshold: { threshold: number; f1: number; accuracy: number } | null; metrics: { threshold: number; f1: number }; images: { label: number; score: number }[] }[];
    };
    const [withThreshold, without] = report.models;
    const labels = withThreshold.images.map((i) => i.label);
    const scores = withThreshold.images.map((i) => i.score);
    expect(withThreshold.storedThreshold).toEqual(metricsAtThreshold(labels, scores, 0.5));
    expect(without.storedThreshold).toBeNull();
    expect(r.out).toMatch(/^\| model\s+\| stored threshold \| F1 at it \| ACC at it \| best-F1 threshold \| best F1 \| ACC at best \|$/m);
    expect(r.out).toMatch(new RegExp(`^\\| eval-stored \\|\\s+0\\.500000 \\|\\s+${withThreshold.storedThreshold?.f1.toFixed(3)} \\|`, 'm'));
    expect(r.out).toMatch(/^\| plain\s+\|\s+none \|\s+— \|\s+— \|/m);
    expect(r.err).toContain('note: plain stores no decision threshold (it was trained without a validation split)');
    expect(await readFile(join(out, 'results.md'), 'utf8')).toContain('| stored threshold |');
  });

  it('metricsAtThreshold at the best-F1 threshold gives the best F1 and its ACC', () => {
    const labels = [0, 0, 1, 0, 1, 1, 0, 1, 0, 0];
    const scores = [0.1, 0.4, 0.35, 0.8, 0.7, 0.9, 0.2, 0.3, 0.3, 0.05];
    const best = bestF1(labels, scores);
    const at = metricsAtThreshold(labels, scores, best.threshold);
    expect(at.f1).toBe(best.f1);
    expect(at.accuracy).toBe(best.accuracy);
    expect(metricsAtThreshold([1, 1], [0.2, 0.3], 0.25)).toEqual({ threshold: 0.25, f1: null, accuracy: null });
  });
});
