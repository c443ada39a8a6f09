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
import { EXIT } from '../../src/cli/errors.js';
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
    expect(first.err).toMatch(/^ {2}epoch 1\/1 {2}L_rec \d\.\d{4} /m);
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
