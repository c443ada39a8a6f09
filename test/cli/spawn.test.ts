/**
 * The built `ckaad` executable as a user runs it: a separate Node process, its exit codes,
 * exactly one stderr line on failure, a real scoring run, and Ctrl-C leaving earlier outputs
 * intact.
 *
 * The CLI is bundled with tsup.config.ts's own CLI entry and settings, into
 * node_modules/.cache (so it resolves the installed dependencies and never races with other
 * `npm run build`s over dist/).
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { build, type Options } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { EXIT } from '../../src/cli/errors.js';
import { checkpointFolder } from '../../src/node/folders.js';
import { readCheckpointState } from '../../src/training/checkpoint.js';
import tsupConfig from '../../tsup.config.js';
import { scratchDir, tinySynthetic, untrainedModel } from './helpers.js';

const OUT_DIR = resolve('node_modules/.cache/ckaad-cli-test');
const MAIN = join(OUT_DIR, 'cli', 'main.js');

let scratch: { dir: string; cleanup: () => Promise<void> };
let synthetic: string;
let model: string;

/** The CLI build of tsup.config.ts (the one whose entry is `cli/main`). */
function cliBuildOptions(): Options {
  const configs = (Array.isArray(tsupConfig) ? tsupConfig : [tsupConfig]) as Options[];
  const cli = configs.find((c) => typeof c.entry === 'object' && !Array.isArray(c.entry) && 'cli/main' in c.entry);
  if (cli === undefined) throw new Error('tsup.config.ts has no build with a cli/main entry');
  return cli;
}

beforeAll(async () => {
  await build({ ...cliBuildOptions(), config: false, outDir: OUT_DIR, sourcemap: false, clean: true, silent: true });
  await useBackend('cpu');
  scratch = await scratchDir('ckaad-spawn-');
  synthetic = await tinySynthetic(scratch.dir);
  model = await untrainedModel(scratch.dir);
});

afterAll(() => scratch.cleanup());

function ckaad(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('the ckaad executable', () => {
  it('--version and --help exit 0', () => {
    const v = ckaad(['--version']);
    expect(v.code).toBe(EXIT.ok);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = ckaad(['--help']);
    expect(h.code).toBe(EXIT.ok);
    expect(h.stdout).toMatch(/Commands:[\s\S]*train[\s\S]*eval[\s\S]*score[\s\S]*demo/);
    expect(h.stderr).toBe('');
  });

  it('writing to a closed pipe (`ckaad train --help | head`): exit 0, nothing on stderr', async () => {
    for (const args of [['train', '--help'], ['--help']]) {
      const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before ckaad writes its first byte
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
      expect(stderr).toBe('');
      expect(code).toBe(EXIT.ok);
    }
  });

  it('a bad option value: exit 2 and one line naming the option', () => {
    const r = ckaad(['train', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--model', join(scratch.dir, 'm'), '--ratio', '1.5']);
    expect(r.code).toBe(EXIT.usage);
    expect(lines(r.stderr)).toEqual(["ckaad: error: option '--ratio <r_l>' argument '1.5' is invalid. Expected a number in [0, 1)."]);
    expect(r.stdout).toBe('');
  });

  it('bad input: exit 1 and one line naming the path', () => {
    const missing = join(scratch.dir, 'missing-model');
    const r = ckaad(['eval', '--model', missing, '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--out', join(scratch.dir, 'e')]);
    expect(r.code).toBe(EXIT.input);
    expect(lines(r.stderr).filter((l) => l.startsWith('ckaad: error'))).toEqual([
      expect.stringMatching(new RegExp(`^ckaad: error: ${missing}/model.json: missing: is this a model written by saveModel`)),
    ]);
  });

  it('scores a folder of images and writes the table, results.json and overlays', async () => {
    const out = join(scratch.dir, 'scored');
    const folder = join(synthetic, 'weave', 'test', 'hole');
    const r = ckaad(['score', '--model', model, folder, join(synthetic, 'weave', 'test', 'good', '000.png'), '--out', out, '--threshold', '0']);
    expect(r.code).toBe(EXIT.ok);
    expect(lines(r.stdout).slice(0, 4)).toEqual([
      expect.stringMatching(/^\| image\s+\|\s+score \| verdict\s+\|$/),
      expect.stringMatching(/^\|-+\|-+:\|-+\|$/),
      expect.stringMatching(/^\| hole\/000\s+\| \d\.\d{4} \| anomalous \|$/),
      expect.stringMatching(/^\| good\/000\s+\| \d\.\d{4} \| anomalous \|$/),
    ]);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.images).toHaveLength(2);
    expect(results.heatmaps).toEqual(['heatmaps/hole_000.png', 'heatmaps/good_000.png']);
    const png = await readFile(join(out, results.heatmaps[0]));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('two quick Ctrl-Cs during training with a checkpoint: exit 130, the checkpoint in force is complete', async () => {
    const dir = join(scratch.dir, 'ckpt-double');
    const child = spawn(
      process.execPath,
      [MAIN, 'train', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--image-size', '64', '--epochs', '50', '--batch-size', '2',
        '--backend', 'wasm', '--model', join(scratch.dir, 'double-model'), '--checkpoint-dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    await new Promise<void>((ready) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('labelled anomalies')) ready();
      });
    });
    await new Promise((wait) => setTimeout(wait, 3000)); // into the training loop
    child.kill('SIGINT');
    await new Promise<void>((seen) => {
      const poll = setInterval(() => {
        if (stderr.includes('stopping after the current step')) {
          clearInterval(poll);
          seen();
        }
      }, 5);
    });
    child.kill('SIGINT'); // while the trainer writes its checkpoint, or just before
    expect(await exited).toBe(EXIT.interrupted);
    expect(stderr).not.toMatch(/: done, /);
    // Whatever the second signal cut, the checkpoint in force reads as a complete one.
    const saved = await readCheckpointState(checkpointFolder(dir));
    if (saved !== null) expect(saved.progress.step).toBeGreaterThan(0);
  });

  it('Ctrl-C during the demo: exit 130, earlier output intact, nothing half-written', async () => {
    const out = join(scratch.dir, 'demo-out');
    await mkdir(out);
    const earlier = JSON.stringify({ format: 'ckaad-results', command: 'demo', note: 'an earlier run' });
    await writeFile(join(out, 'results.json'), earlier);
    const child = spawn(process.execPath, [MAIN, 'demo', '--out', out, '--classes', 'weave', '--train-count', '4', '--epochs', '50', '--batch-size', '2', '--backend', 'wasm'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    await new Promise<void>((ready) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('synthetic defect set written')) ready();
      });
    });
    await new Promise((wait) => setTimeout(wait, 1500)); // into the training loop
    child.kill('SIGINT');
    expect(await exited).toBe(EXIT.interrupted);
    expect(lines(stderr).at(-1)).toMatch(/^ckaad: interrupted: /);
    expect(await readFile(join(out, 'results.json'), 'utf8')).toBe(earlier);
    expect(await readdir(out)).toEqual(['results.json']);
    expect((await readdir(scratch.dir)).filter((n) => n.startsWith('.demo-out'))).toEqual([]);
  });
});
