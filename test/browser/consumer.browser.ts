// ckaad in a browser, as an application gets it: the packed package installed into an empty
// project, a consumer that imports only `ckaad` bundled with esbuild (platform browser, no stubs,
// no externals), served on 127.0.0.1 and run in Debian's headless Chromium. It trains a tiny
// CKAPatch model (resnet18 {layer2, layer3}, random weights) and scores, and the scores are
// compared with the same example run in Node on the same backend. The consumer is also built
// with Vite and webpack 5 and run.
//
// `npm run test:browser` (not `npm test`: minutes, not seconds). Needs /usr/bin/chromium
// (.ci/run installs it) and the npm cache warm after `npm ci`; without either it fails, it never
// skips. The training runs three times in the browser, twice in Node. webgl, slower on a
// software GPU, is in webgl.browser.ts.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TrainAndScoreResult } from '../../examples/browser/train-and-score.js';
import { ensureFreshDist } from '../fresh-dist.js';
import { launchChromium, type Chromium } from './chromium.js';
import {
  bundleWithEsbuild,
  bundleWithVite,
  bundleWithWebpack,
  installPackedProject,
  runCase,
  runInNode,
  writeConsumer,
  type BundleResult,
} from './consumer-project.js';
import type { CaseResult } from './fixtures/consumer/page.js';
import { serveFolder, type StaticServer } from '../../web/server.js';

const MINUTE = 60_000;
/** The wasm run: 64² images, 2 epochs (4 steps). */
const WASM_RUN = { size: 64, epochs: 2 };
/** The cpu run: one epoch (2 steps), the pure-JavaScript backend is slow. */
const CPU_RUN = { size: 64, epochs: 1 };

let work = '';
let project = '';
let esbuildBundle: BundleResult;
let chromium: Chromium;
const servers: StaticServer[] = [];
const node: { wasm?: TrainAndScoreResult; cpu?: TrainAndScoreResult } = {};
const browser: { wasm?: CaseResult } = {};

async function serve(dir: string, isolated = false): Promise<string> {
  const server = await serveFolder(dir, { isolated });
  servers.push(server);
  return server.url;
}

function log(line: string): void {
  console.log(`[browser] ${line}`);
}

beforeAll(async () => {
  await ensureFreshDist();
  work = mkdtempSync(join(tmpdir(), 'ckaad-browser-'));
  project = await installPackedProject(work);
  await writeConsumer(project);
  esbuildBundle = await bundleWithEsbuild(project);
  chromium = await launchChromium();
}, 15 * MINUTE);

afterAll(async () => {
  await chromium?.close();
  await Promise.all(servers.map((s) => s.close()));
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('a consumer of ckaad in headless Chromium', () => {
  it('bundles with esbuild for the browser: no errors, no warnings', () => {
    expect(esbuildBundle.errors).toEqual([]);
    expect(esbuildBundle.warnings).toEqual([]);
    log(`esbuild bundle (minified, tfjs-core and both backends included): ${(esbuildBundle.jsBytes / 1024).toFixed(0)} KiB`);
  });

  it('picks wasm by itself and trains and scores exactly as Node does on wasm; the model saves and loads in memory', async () => {
    const started = performance.now();
    node.wasm = await runInNode(project, 'wasm', WASM_RUN.size, WASM_RUN.epochs);
    const nodeSeconds = (performance.now() - started) / 1000;
    const { result, seconds } = await runCase(chromium, await serve(esbuildBundle.dir), { kind: 'train', ...WASM_RUN });
    browser.wasm = result;
    const train = result.train as TrainAndScoreResult;
    expect(train.backend).toBe('wasm'); // the automatic choice: no backend was named
    expect(result.crossOriginIsolated).toBe(false);
    expect(result.wasmThreads).toBe(1);
    expect(train.steps).toHaveLength(4);
    expect(train.steps).toEqual(node.wasm.steps);
    expect(train.scores).toEqual(node.wasm.scores); // bit for bit
    expect(train.reloadedScores).toEqual(train.scores);
    expect(Object.keys(train.savedFiles).sort()).toEqual(['autoencoder.safetensors', 'model.json']);
    expect(chromium.errors).toEqual([]);
    log(`wasm: scores equal Node's bit for bit (max |Δ| 0); page ${seconds.toFixed(1)} s (train ${train.seconds.train.toFixed(1)} s), Node ${nodeSeconds.toFixed(1)} s`);
  }, 10 * MINUTE);

  it("trains and scores on cpu exactly as Node does on cpu", async () => {
    node.cpu = await runInNode(project, 'cpu', CPU_RUN.size, CPU_RUN.epochs);
    const { result, seconds } = await runCase(chromium, await serve(esbuildBundle.dir), { kind: 'train', backend: 'cpu', ...CPU_RUN });
    const train = result.train as TrainAndScoreResult;
    expect(train.backend).toBe('cpu');
    expect(train.steps).toEqual(node.cpu.steps);
    expect(train.scores).toEqual(node.cpu.scores);
    expect(train.reloadedScores).toEqual(train.scores);
    expect(chromium.errors).toEqual([]);
    log(`cpu: scores equal Node's bit for bit; page ${seconds.toFixed(1)} s`);
  }, 10 * MINUTE);

  it('on a cross-origin-isolated page runs wasm multi-threaded, with the single-threaded scores', async () => {
    const { result, seconds } = await runCase(chromium, await serve(esbuildBundle.dir, true), { kind: 'train', ...WASM_RUN });
    const train = result.train as TrainAndScoreResult;
    expect(result.crossOriginIsolated).toBe(true);
    expect(train.backend).toBe('wasm');
    // Every core (2 here): tfjs alone would cap the pool at half the cores, one thread on 2.
    expect(result.wasmThreads).toBeGreaterThan(1);
    // XNNPACK splits each operation by output tiles, each summed by one thread in one order:
    // the threaded scores are the single-threaded ones bit for bit (tolerance 0).
    expect(train.scores).toEqual(browser.wasm?.train?.scores);
    expect(train.steps).toEqual(browser.wasm?.train?.steps);
    expect(chromium.errors).toEqual([]);
    const single = browser.wasm?.train?.seconds.train ?? NaN;
    log(`threaded wasm: ${result.wasmThreads} threads, scores equal one thread's; train ${train.seconds.train.toFixed(1)} s vs ${single.toFixed(1)} s on one thread (page ${seconds.toFixed(1)} s)`);
  }, 10 * MINUTE);

  it('gives a NodeOnlyError naming ckaad/node for a weights path, a checkpoint folder and a safetensors path', async () => {
    const { result } = await runCase(chromium, await serve(esbuildBundle.dir), { kind: 'node-only' });
    expect(result.nodeOnly).toHaveLength(3);
    for (const e of result.nodeOnly ?? []) {
      expect(e.name, e.call).toBe('NodeOnlyError');
      expect(e.code).toBe('node-only');
      expect(e.message).toMatch(/ckaad\/node/);
    }
    expect(chromium.errors).toEqual([]);
  });

  it('falls back to cpu when the page does not serve the wasm binaries, and wasm still works with wasmPaths', async () => {
    const dir = join(work, 'no-binaries');
    mkdirSync(join(dir, 'wasm'), { recursive: true });
    cpSync(join(esbuildBundle.dir, 'index.html'), join(dir, 'index.html'));
    cpSync(join(esbuildBundle.dir, 'bundle.js'), join(dir, 'bundle.js'));
    for (const name of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
      cpSync(join(esbuildBundle.dir, name), join(dir, 'wasm', name));
    }
    const before = chromium.errors.length;
    const { result } = await runCase(chromium, await serve(dir), { kind: 'fallback' });
    expect(result.fallback).toEqual({ automatic: 'cpu', explicit: 'wasm', sum: 16 });
    // The only trace of the missing binary is the browser's note on the 404 of the check.
    expect(chromium.errors.slice(before).filter((e) => !/404/.test(e))).toEqual([]);
    chromium.errors.splice(before);
  });

  for (const [name, bundle] of [
    ['Vite', bundleWithVite],
    ['webpack 5', bundleWithWebpack],
  ] as const) {
    it(`builds with ${name} with 0 errors, and the page runs on wasm`, async () => {
      const started = performance.now();
      const built = await bundle(project);
      const buildSeconds = (performance.now() - started) / 1000;
      expect(built.errors).toEqual([]);
      const { result } = await runCase(chromium, await serve(built.dir), { kind: 'node-only' });
      expect(result.nodeOnly?.map((e) => e.name)).toEqual(['NodeOnlyError', 'NodeOnlyError', 'NodeOnlyError']);
      expect(result.wasmThreads).toBe(1); // its automatic choice found the binaries: wasm
      expect(chromium.errors).toEqual([]);
      log(`${name}: 0 errors, ${built.warnings.length} warnings, ${(built.jsBytes / 1024).toFixed(0)} KiB of JavaScript, built in ${buildSeconds.toFixed(1)} s`);
    }, 10 * MINUTE);
  }
});
