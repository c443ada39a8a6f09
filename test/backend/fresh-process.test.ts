// Backend selection as a fresh process sees it: nothing registered until ckaad or the
// application registers it. test/backend/fixtures/fresh-process.ts (which imports the
// ckaad sources) is bundled once with the package's own tsup settings, exactly as dist is
// built, and each scenario then runs in its own Node process.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bundleFixture } from './fixtures/bundle-fixture.js';
import type { BuiltFixture } from './fixtures/bundle-fixture.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

interface ErrorReport {
  name: string;
  message: string;
}

interface Report {
  warnings: string[];
  [key: string]: unknown;
}

let fixture: BuiltFixture | null = null;
let bundle = '';

beforeAll(async () => {
  fixture = await bundleFixture(root, 'fresh-process', join(here, 'fixtures', 'fresh-process.ts'));
  bundle = fixture.file;
}, 120_000);

afterAll(() => {
  fixture?.remove();
});

async function scenario(...args: string[]): Promise<Report> {
  const { stdout } = await run(process.execPath, [bundle, ...args], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Report;
}

describe('backend selection in a fresh process', () => {
  it('importing ckaad registers no backend and no kernel', async () => {
    const r = await scenario('import-only');
    expect(r.registered).toEqual([]);
    expect(r.cpuKernels).toBe(0);
    expect(r.wasmKernels).toBe(0);
    expect(r.active).toBeNull();
    expect(r.sameEngine).toBe(true);
    expect(r.conv2dGradient).toBe(false); // not even gradients
    expect((r.activeError as ErrorReport).name).toBe('BackendError');
    expect((r.activeError as ErrorReport).message).toMatch(/ensureBackend/);
    expect(r.warnings).toEqual([]);
  });

  it('ensureBackend() loads DEFAULT_BACKEND (wasm) when nothing is registered, and only it', async () => {
    const r = await scenario('default');
    expect(r.defaultBackend).toBe('wasm');
    expect(r.candidates).toEqual(['wasm', 'cpu']);
    expect(r.chosen).toBe(r.defaultBackend);
    expect(r.again).toBe(r.defaultBackend);
    expect(r.active).toBe(r.defaultBackend);
    expect(r.registered).toEqual([r.defaultBackend]);
    // d/dx Σ conv(x, ones 2×2) over a 3×3 input counts the windows covering each pixel.
    expect(r.gradient).toEqual([1, 2, 1, 2, 4, 2, 1, 2, 1]);
    expect(r.addedLater).toEqual([]);
    // The fast wasm kernels are installed on the default backend.
    expect(r.fastWasmKernels).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'Identity']));
    // No notice and no re-registration warning.
    expect(r.warnings).toEqual([]);
  });

  it('ensureBackend() falls back to cpu when the wasm binaries cannot be loaded', async () => {
    const r = await scenario('wasm-unavailable');
    expect(r.chosen).toBe('cpu');
    expect(r.sum).toBe(5);
    expect(r.registered).toEqual(expect.arrayContaining(['wasm', 'cpu']));
  });

  it('ensureBackend() picks a backend injected by user code and loads nothing of its own', async () => {
    const r = await scenario('injected-only');
    expect(r.chosen).toBe('injected');
    expect(r.tfBackend).toBe('injected');
    expect(r.registered).toEqual(['injected']);
    expect(r.values).toEqual([4, 4, 4, 4]);
  });

  it('ensureBackend() keeps the backend the user selected over a registered one', async () => {
    const r = await scenario('injected-selected');
    expect(r.chosen).toBe('injected');
    expect(r.active).toBe('injected');
    expect(r.registered).toEqual(['cpu', 'injected']);
  });

  it('ensureBackend() adds the missing gradients but keeps one the application registered', async () => {
    const r = await scenario('user-gradient');
    expect(r.chosen).toBe('wasm');
    expect(r.reluGradientKept).toBe(true);
    expect(r.reluGradient).toEqual([7, 7]);
    expect(r.conv2dGradient).toBe(true);
  });

  it('ensureBackend() falls back to the default when the user backend cannot initialise', async () => {
    const r = await scenario('broken-user');
    expect(r.chosen).toBe('wasm');
    expect(r.registered).toEqual(['broken', 'wasm']);
    expect(r.warnings.join('\n')).toMatch(/Initialization of backend broken failed/);
  });

  it('wasmPaths pointing at the installed binaries works', async () => {
    const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')) + '/';
    const r = await scenario('wasm-paths', wasmDir);
    expect(r.first).toEqual({ value: 'wasm' });
    expect(r.retry).toEqual({ value: 'wasm' });
    expect(r.fallback).toBe('wasm');
    expect(r.sum).toBe(5);
  });

  it('a wrong wasmPaths is a BackendError naming the path, and ensureBackend() still finds a backend', async () => {
    const r = await scenario('wasm-paths', '/nonexistent-ckaad-wasm/');
    const first = r.first as ErrorReport;
    expect(first.name).toBe('BackendError');
    expect(first.message).toContain('/nonexistent-ckaad-wasm/');
    const retry = r.retry as ErrorReport;
    expect(retry.name).toBe('BackendError');
    expect(retry.message).toMatch(/restart with correct options\.wasmPaths/);
    expect(r.fallback).toBe('cpu');
    expect(r.sum).toBe(5);
  });
});
