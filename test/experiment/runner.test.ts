/**
 * The runner end to end on a tiny synthetic grid (random resnet18, 32×32, 2 epochs): results
 * and tables on disk, selection on validation, resume after a completed grid, after a crash in
 * the middle of a run (only that run is lost, and it continues from its checkpoint), after a
 * stop by the signal, and refusal to mix results of other settings.
 */

import { cp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { registerFastKernels } from '../../src/backend/kernels/register.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';
import type { ExperimentProtocol } from '../../src/experiment/protocol.js';
import { readRunResult, readRunScores, resultPath, runDir } from '../../src/experiment/results.js';
import { runExperiment } from '../../src/experiment/runner.js';
import type { ExperimentEvent } from '../../src/experiment/runner.js';
import { Recon } from '../../src/training/strategies.js';
import { tempDir } from '../data/helpers.js';
import { tinyProtocol } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  await useBackend('wasm', { threads: 1 });
  registerFastKernels();
  ({ dir, cleanup } = await tempDir('ckaad-runner-'));
});
afterAll(async () => cleanup());

function protocol(overrides: Partial<ExperimentProtocol> = {}): ExperimentProtocol {
  return tinyProtocol(join(dir, 'synthetic'), overrides);
}

describe('runExperiment', () => {
  it('runs the grid, selects on validation, writes results and tables, and skips complete runs next time', async () => {
    const resultsDir = join(dir, 'full');
    const p = protocol({ seeds: [0] });
    const grid = expandGrid(parseProtocol(p));
    const before = tf.memory().numTensors;
    const events: ExperimentEvent[] = [];
    const outcome = await runExperiment(p, { resultsDir, checkpoints: false, onProgress: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.status).toBe('completed');
    expect(outcome.runs).toEqual({ total: 2, complete: 2, ranNow: 2 });
    expect(events.filter((e) => e.type === 'epoch').length).toBe(2 * 2);
    expect(events.filter((e) => e.type === 'run-complete').map((e) => (e.type === 'run-complete' ? e.run.id : ''))).toEqual(grid.map((r) => r.id));

    for (const run of grid) {
      const r = await readRunResult(resultsDir, run.id);
      expect(r).not.toBeNull();
      if (r === null) continue;
      // The reported epoch is the first with the best validation AUROC; its weights were tested.
      const aurocs = r.training.history.map((h) => h.validationAuroc as number);
      expect(r.training.history.length).toBe(2);
      expect(r.training.reportedEpoch).toBe(aurocs.indexOf(Math.max(...aurocs)) + 1);
      expect(r.training.validationAuroc).toBe(Math.max(...aurocs));
      expect(r.data).toMatchObject({ normal: 8, labelledAnomalies: 3, validationNormal: 2, validationAnomalous: 2, test: 7, labelledClasses: ['hole'] });
      // Seen = normal + hole, unseen = normal + scratch; pixel metrics from the masks.
      expect(r.metrics.all).toMatchObject({ images: 7, anomalous: 4 });
      expect(r.metrics.seen).toMatchObject({ images: 5, anomalous: 2 });
      expect(r.metrics.unseen).toMatchObject({ images: 5, anomalous: 2 });
      for (const set of [r.metrics.all, r.metrics.seen, r.metrics.unseen]) {
        expect(set?.pixelAuroc).toBeGreaterThan(0);
        expect(set?.aupro).toBeGreaterThanOrEqual(0);
      }
      const scores = await readRunScores(resultsDir, run.id);
      expect(scores.scores.length).toBe(7);
      expect(await readdir(runDir(resultsDir, run.id))).toEqual(['examples.safetensors', 'result.json', 'scores.json']);
    }
    const md = await readFile(join(resultsDir, 'summary.md'), 'utf8');
    expect(md).toContain('2 of 2 runs complete');
    expect(md).toMatch(/\| Recon \| r_l=0\.3 \| 1 \| 1 \| \d+\.\d\d ± 0\.00 \|/);
    expect(md).toMatch(/\| CKAPatch \| r_l=0\.3 \| 1 \| 1 \|/);
    const summary = JSON.parse(await readFile(join(resultsDir, 'summary.json'), 'utf8')) as { runs: unknown };
    expect(summary.runs).toEqual({ complete: 2, expected: 2 });

    // Again: nothing to run, same tables.
    const mtime = (await stat(resultPath(resultsDir, grid[0].id))).mtimeMs;
    const skipped: string[] = [];
    const again = await runExperiment(p, { resultsDir, onProgress: (e) => e.type === 'run-skipped' && skipped.push(e.run.id) });
    expect(again.runs).toEqual({ total: 2, complete: 2, ranNow: 0 });
    expect(skipped).toEqual(grid.map((r) => r.id));
    expect(await readFile(join(resultsDir, 'summary.md'), 'utf8')).toBe(md);
    expect((await stat(resultPath(resultsDir, grid[0].id))).mtimeMs).toBe(mtime);

    // Results of other settings in the same folder are refused, not mixed in or overwritten.
    await expect(runExperiment(protocol({ seeds: [0], epochs: 3 }), { resultsDir })).rejects.toThrow(/different protocol/);
    expect((await stat(resultPath(resultsDir, grid[0].id))).mtimeMs).toBe(mtime);
  });

  it('scores the same with the test-feature cache as without, computing the features once per grid', async () => {
    const p = protocol({ seeds: [0], epochs: 1 });
    const grid = expandGrid(parseProtocol(p));
    const plain = join(dir, 'no-cache');
    const cached = join(dir, 'cache');
    await runExperiment(p, { resultsDir: plain, checkpoints: false, testFeatureCache: false });
    await runExperiment(p, { resultsDir: cached, checkpoints: false });
    await expect(readdir(join(plain, 'cache'))).resolves.not.toContainEqual(expect.stringMatching(/^test-features-/));
    expect((await readdir(join(cached, 'cache'))).filter((f) => f.startsWith('test-features-')).length).toBe(1);
    for (const run of grid) {
      const a = await readRunScores(plain, run.id);
      const b = await readRunScores(cached, run.id);
      expect(b.scores).toEqual(a.scores);
      expect((await readRunResult(cached, run.id))?.metrics).toEqual((await readRunResult(plain, run.id))?.metrics);
    }
  });

  it('skips a run that another process finished while this one was busy', async () => {
    const p = protocol({ seeds: [0], epochs: 1 });
    const [first, second] = expandGrid(parseProtocol(p));
    const source = join(dir, 'other-process');
    await runExperiment(p, { resultsDir: source, checkpoints: false, filter: (r) => r.id === second.id });
    const shared = join(dir, 'shared');
    const events: ExperimentEvent[] = [];
    const outcome = await runExperiment(p, {
      resultsDir: shared,
      checkpoints: false,
      onProgress: (e) => {
        events.push(e);
        // the "other process" completes the second run while the first one trains
        if (e.type === 'epoch' && e.run.id === first.id) void cp(runDir(source, second.id), runDir(shared, second.id), { recursive: true });
      },
    });
    expect(outcome.runs).toEqual({ total: 2, complete: 2, ranNow: 1 });
    expect(events.filter((e) => e.type === 'run-start').map((e) => (e.type === 'run-start' ? e.run.id : ''))).toEqual([first.id]);
    expect(events.some((e) => e.type === 'run-skipped' && e.run.id === second.id)).toBe(true);
  });

  it('a crash in the middle of a run loses only that run, which then resumes from its checkpoint', async () => {
    const resultsDir = join(dir, 'crash');
    const p = protocol({ seeds: [0] });
    const [first, second] = expandGrid(parseProtocol(p));
    // The first run is complete already (copied from the first test: same settings, same hash).
    await cp(runDir(join(dir, 'full'), first.id), runDir(resultsDir, first.id), { recursive: true });
    const crash = (e: ExperimentEvent) => {
      if (e.type === 'epoch' && e.run.id === second.id && e.log.epoch === 1) throw new Error('simulated crash');
    };
    await expect(runExperiment(p, { resultsDir, onProgress: crash })).rejects.toThrow('simulated crash');
    const kept = await readFile(resultPath(resultsDir, first.id), 'utf8');
    expect(await readRunResult(resultsDir, second.id)).toBeNull();
    expect(await readdir(runDir(resultsDir, second.id))).toEqual(['checkpoint']);
    expect(await readdir(runDir(resultsDir, first.id))).not.toContain('checkpoint');

    const epochs: number[] = [];
    const outcome = await runExperiment(p, { resultsDir, onProgress: (e) => e.type === 'epoch' && epochs.push(e.log.epoch) });
    expect(outcome.runs).toEqual({ total: 2, complete: 2, ranNow: 1 });
    expect(epochs).toEqual([2]); // epoch 1 came from the checkpoint
    expect(await readFile(resultPath(resultsDir, first.id), 'utf8')).toBe(kept);
    const resumed = await readRunResult(resultsDir, second.id);
    expect(resumed?.training.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(await readdir(runDir(resultsDir, second.id))).not.toContain('checkpoint');
    // Resuming is exact: the same numbers as the uninterrupted run of the first test.
    const uninterrupted = await readRunResult(join(dir, 'full'), second.id);
    expect(resumed?.run.settingsHash).toBe(uninterrupted?.run.settingsHash);
    expect(resumed?.metrics).toEqual(uninterrupted?.metrics);
  });

  it('stops on the signal, leaving the run in progress incomplete', async () => {
    const resultsDir = join(dir, 'stop');
    const controller = new AbortController();
    const p = protocol({ seeds: [0] });
    const [first, second] = expandGrid(parseProtocol(p));
    await cp(runDir(join(dir, 'full'), first.id), runDir(resultsDir, first.id), { recursive: true });
    const events: string[] = [];
    const outcome = await runExperiment(p, {
      resultsDir,
      checkpoints: false,
      signal: controller.signal,
      onProgress: (e) => {
        events.push(e.type);
        if (e.type === 'epoch' && e.run.id === second.id) controller.abort(); // stops within epoch 2
      },
    });
    expect(outcome.status).toBe('aborted');
    expect(outcome.runs).toEqual({ total: 2, complete: 1, ranNow: 0 });
    expect(events.filter((e) => e === 'epoch').length).toBe(1);
    expect(events).toContain('run-aborted');
    expect(events).not.toContain('run-complete');
    expect(await readRunResult(resultsDir, second.id)).toBeNull();
    expect(await readFile(join(resultsDir, 'summary.md'), 'utf8')).toContain('1 of 2 runs complete');
  });

  it("keeps a grid's random backbone: finished runs of 0.2's random weights are aggregated, but no run is added to them", async () => {
    const resultsDir = join(dir, 'former-random');
    const p = protocol({ seeds: [0], epochs: 1 });
    const recon = (run: { arm: string }) => run.arm === 'Recon';
    await runExperiment(p, { resultsDir, checkpoints: false, filter: recon });
    const [first] = expandGrid(parseProtocol(p));
    const written = await readRunResult(resultsDir, first.id);
    expect(written?.environment.randomWeightsGenerator).toBe('rng');
    // As 0.2 wrote it: no generator recorded.
    const path = resultPath(resultsDir, first.id);
    const json = JSON.parse(await readFile(path, 'utf8'));
    delete json.environment.randomWeightsGenerator;
    await writeFile(path, JSON.stringify(json));
    const summary = await runExperiment(p, { resultsDir, checkpoints: false, filter: recon });
    expect(summary.runs).toEqual({ total: 2, complete: 1, ranNow: 0 });
    await expect(runExperiment(p, { resultsDir, checkpoints: false })).rejects.toThrow(
      new RegExp(`runs/${first.id}/result\\.json was written by ckaad 0\\.1, whose random weights differ`),
    );
  }, 120_000);

  it('runs custom strategies passed by name, and refuses unknown ones before doing anything', async () => {
    const resultsDir = join(dir, 'custom');
    const p = protocol({ seeds: [0], arms: [{ name: 'mine', strategy: 'MyRecon', labelled: [0.3] }], epochs: 1 });
    await expect(runExperiment(p, { resultsDir })).rejects.toThrow(InvalidArgumentError);
    await expect(readdir(resultsDir)).rejects.toThrow();
    const outcome = await runExperiment(p, { resultsDir, checkpoints: false, strategies: { MyRecon: { ...Recon, name: 'MyRecon' } } });
    expect(outcome.runs.complete).toBe(1);
    expect(outcome.summary.tables[0].rows[0].key).toEqual({ arm: 'mine', labelled: 'r_l=0.3' });
  });
});
