/**
 * `ckaad experiment` in-process: a tiny synthetic grid runs to its tables, a second call
 * skips the complete runs, `--summary-only` rebuilds the tables without training, `--only`
 * leaves the other runs pending, a stop exits 130, and bad input exits with one line naming
 * the file, option or protocol field.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { ExperimentProgress } from '../../src/cli/commands/experiment.js';
import { EXIT } from '../../src/cli/errors.js';
import type { CliIo } from '../../src/cli/io.js';
import { expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';
import type { ExperimentEvent } from '../../src/experiment/runner.js';
import { tinyProtocol } from '../experiment/fixtures.js';
import { runCli, scratchDir } from './helpers.js';

let scratch: { dir: string; cleanup: () => Promise<void> };
let protocolPath: string;

// One seed and one epoch of the runner tests' tiny grid.
const protocol = (root: string) => tinyProtocol(root, { name: 'cli-tiny', seeds: [0], epochs: 1, validationFraction: 0.25, dataset: { kind: 'synthetic', categories: ['disc'], defects: ['scratch', 'hole'], trainCount: 8, testGoodCount: 3, testDefectCount: 2, root } });

beforeAll(async () => {
  await useBackend('wasm');
  scratch = await scratchDir('ckaad-experiment-');
  protocolPath = join(scratch.dir, 'tiny.json');
  await writeFile(protocolPath, JSON.stringify(protocol(join(scratch.dir, 'synthetic'))));
});

afterAll(() => scratch.cleanup());

describe('ckaad experiment', () => {
  it('runs the grid, prints and writes the tables, and skips complete runs on the next call', async () => {
    const results = join(scratch.dir, 'results');
    const first = await runCli(['experiment', protocolPath, '--results', results, '--no-checkpoints', '--only', 'Recon']);
    expect(first.code, first.err).toBe(EXIT.ok);
    expect(first.err).toContain('cli-tiny: 2 runs, 0 already complete, 1 to run');
    expect(first.err).toMatch(/^ {2}epoch 1\/1 {2}L_rec \d\.\d{4} .*; ETA run 0s\)$/m);
    expect(first.err).toMatch(/1\/2 runs complete \(1 run now, /);
    // the CKAPatch row is pending: the table says how many of its runs exist
    expect(first.out).toMatch(/^\| Recon \| r_l=0\.3 \| 1 \| 1 \| \d+\.\d\d /m);
    expect(first.out).not.toMatch(/^\| CKAPatch /m);

    const second = await runCli(['experiment', protocolPath, '--results', results, '--no-checkpoints']);
    expect(second.code, second.err).toBe(EXIT.ok);
    expect(second.err).toContain('2 runs, 1 already complete, 1 to run');
    expect(second.err).not.toContain('Recon__rl0.3__hole__s0\n');
    expect(second.out).toMatch(/^\| CKAPatch \| r_l=0\.3 \| 1 \| 1 \| \d+\.\d\d /m);
    const summary = await readFile(join(results, 'summary.md'), 'utf8');
    expect(second.out).toContain(summary.trim().split('\n')[0]);

    // --summary-only trains nothing and prints the same tables
    const again = await runCli(['experiment', protocolPath, '--results', results, '--summary-only']);
    expect(again.code, again.err).toBe(EXIT.ok);
    expect(again.err).not.toContain('epoch');
    expect(again.out.trim()).toBe(second.out.trim());
  }, 300_000);

  it('exits 130 when stopped, saying that the same command resumes', async () => {
    const stop = new AbortController();
    stop.abort();
    const r = await runCli(['experiment', protocolPath, '--results', join(scratch.dir, 'stopped'), '--no-checkpoints'], stop.signal);
    expect(r.code).toBe(EXIT.interrupted);
    expect(r.errLines.at(-1)).toMatch(/^ckaad: interrupted: 0\/2 runs complete .*the same command resumes the grid$/);
  }, 120_000);

  it('names the file, the protocol field or the option that is wrong', async () => {
    const missing = join(scratch.dir, 'nope.json');
    let r = await runCli(['experiment', missing]);
    expect(r.code).toBe(EXIT.input);
    expect(r.errLines).toEqual([expect.stringMatching(new RegExp(`^ckaad: error: .*${missing}.*cannot read the protocol file`))]);

    const broken = join(scratch.dir, 'broken.json');
    await writeFile(broken, '{"name": ');
    r = await runCli(['experiment', broken]);
    expect(r.code).toBe(EXIT.input);
    expect(r.errLines[0]).toMatch(/broken\.json.*not valid JSON/);

    const bad = join(scratch.dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ ...protocol(scratch.dir), epochs: 0 }));
    r = await runCli(['experiment', bad]);
    expect(r.code).toBe(EXIT.input);
    expect(r.errLines[0]).toMatch(/protocol\.epochs/);

    // --weights replaces model.weights: a missing weights file is named
    const weights = join(scratch.dir, 'absent.safetensors');
    r = await runCli(['experiment', protocolPath, '--results', join(scratch.dir, 'w'), '--weights', weights]);
    expect(r.code).toBe(EXIT.input);
    expect(r.errLines.at(-1)).toContain(weights);

    r = await runCli(['experiment', protocolPath, '--bogus']);
    expect(r.code).toBe(EXIT.usage);
    r = await runCli(['experiment']);
    expect(r.code).toBe(EXIT.usage);
  }, 120_000);
});

describe('ckaad experiment progress', () => {
  /** An io whose clock is set by hand. */
  function clocked(isTTY: boolean) {
    let now = 0;
    let err = '';
    const io: CliIo = { out: () => undefined, err: (t) => void (err += t), isTTY, now: () => now };
    return { io, tick: (seconds: number) => void (now += seconds * 1000), lines: () => err.trim().split('\n') };
  }
  const run = expandGrid(parseProtocol(protocol('/x')))[0];
  const epoch = (n: number, seconds: number): ExperimentEvent => ({
    type: 'epoch',
    run,
    epochs: 3,
    log: { epoch: n, steps: 2, lRec: 0.5, lAdv: 0.25, lD: 1, lAe: 0.5, validationAuroc: 0.75, seconds },
  });
  const step = (n: number): ExperimentEvent => ({
    type: 'step',
    run,
    epochs: 3,
    stepsPerEpoch: 2,
    batchSize: 4,
    log: { step: n, epoch: Math.ceil(n / 2), batch: (n - 1) % 2, lRec: 0.5, lAdv: 0, lD: 0, lAe: 0.5, dGradNorm: 0, anomalies: 0 },
  });

  it('prints one line per epoch off a terminal, with the ETA of the run and of the grid', () => {
    const c = clocked(false);
    const p = new ExperimentProgress(c.io, 'results/x');
    p.handle({ type: 'run-start', run, position: 0, pending: 3 });
    for (let n = 1; n <= 2; n++) p.handle(step(n));
    c.tick(5);
    p.handle(epoch(1, 5));
    expect(c.lines()).toEqual([
      `[1/3] ${run.id}`,
      '  epoch 1/3  L_rec 0.5000  L_adv 0.2500  L_D 1.0000  val AUROC 75.00  (5.0 s; 5s total; ETA run 10s, grid 40s)',
    ]);
    p.handle(epoch(2, 7));
    expect(c.lines().at(-1)).toMatch(/ETA run 6s, grid 42s\)$/); // mean epoch 6 s: 1 epoch left, then 2 runs of 3 epochs
  });

  it('draws a progress bar of the run on a terminal instead of epoch lines', () => {
    const c = clocked(true);
    const p = new ExperimentProgress(c.io, 'results/x');
    p.handle({ type: 'run-start', run, position: 1, pending: 2 });
    for (let n = 1; n <= 6; n++) {
      c.tick(4);
      p.handle(step(n));
      if (n % 2 === 0) p.handle(epoch(n / 2, 8));
    }
    p.handle({ type: 'run-aborted', run });
    const lines = c.lines();
    expect(lines[0]).toBe(`[2/2] ${run.id}`);
    expect(lines.some((l) => l.startsWith('  epoch'))).toBe(false);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[2/2\\] ${run.id}: 16/24 images \\(66%\\) · .* · ETA \\d+s · epoch 2/3 L_rec 0\\.5000 val AUROC 75\\.00$`)));
    expect(lines.at(-2)).toMatch(new RegExp(`^\\[2/2\\] ${run.id}: interrupted at 24/24 images`));
    expect(lines.some((l) => l.includes('done,'))).toBe(false);
    expect(lines.at(-1)).toMatch(/stopped: .* resumes from its checkpoint next time$/);
  });
});
