// The published artefact, as a user gets it: build (if dist is stale), `npm pack`, install
// the tarball with @tensorflow/tfjs-core into an empty project, and run CommonJS, ESM and
// mixed consumers there, plus a TypeScript consumer of the declarations.
//
// Needs the npm cache (warm after `npm ci`) or the registry. Without either, `npm install`
// fails and so does this test: it never skips.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DIST_FILES, ensureFreshDist } from '../fresh-dist.js';
import { NPM, sh } from '../processes.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const fixtures = join(here, 'fixtures', 'consumer');
const require = createRequire(import.meta.url);

interface PackageJson {
  version: string;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;

// 1 − cos([1,0],[1,1]) averaged with 1 − cos([3,4],[3,4]) = 0 (paper eq. 2).
const EXPECTED_LOSS = (1 - Math.SQRT1_2) / 2;

/** Runs a consumer script in the project and parses its last stdout line as JSON. */
async function runConsumer(project: string, file: string, args: string[] = []): Promise<Record<string, unknown>> {
  const out = await sh(process.execPath, [file, ...args], project, 60_000);
  return JSON.parse(out.trim().split('\n').pop() ?? '') as Record<string, unknown>;
}

let work = '';
let project = '';
let packedFiles: string[] = [];

beforeAll(async () => {
  await ensureFreshDist();

  work = mkdtempSync(join(tmpdir(), 'ckaad-pack-'));
  // The build above is what `prepack` would run; skip it so the packed dist is the checked one.
  const packed = JSON.parse(await sh(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  packedFiles = packed[0].files.map((f) => f.path);
  const tarball = join(work, packed[0].filename);

  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ckaad-consumer', version: '1.0.0', private: true }));
  const core = `@tensorflow/tfjs-core@${pkg.devDependencies['@tensorflow/tfjs-core']}`;
  await sh(NPM, ['install', tarball, core, '--prefer-offline', '--no-audit', '--no-fund'], project);
  for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(project, f));
}, 600_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('packed tarball', () => {
  it('contains both builds and both declaration files, and nothing from src or test', () => {
    for (const f of [...DIST_FILES, 'package.json']) expect(packedFiles).toContain(f);
    expect(packedFiles.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);
    // npm deduplicated tfjs-core: ckaad has no private copy.
    expect(() => statSync(join(project, 'node_modules', 'ckaad', 'node_modules', '@tensorflow', 'tfjs-core'))).toThrow();
  });

  for (const file of ['consumer.cjs', 'consumer.mjs']) {
    it(`${file}: one engine shared with the application, tensors flow both ways`, async () => {
      const r = await runConsumer(project, file);
      expect(r.format).toBe(file.endsWith('.cjs') ? 'cjs' : 'esm');
      expect(r.registeredAtImport).toEqual([]);
      expect(r.selected).toBe('cpu');
      expect(r.tfBackend).toBe('cpu');
      expect(r.active).toBe('cpu');
      expect(r.sameEngine).toBe(true);
      expect(r.sameCoreFile).toBe(true);
      expect(r.coreFile).toBe(join('node_modules', '@tensorflow', 'tfjs-core', 'dist', 'tf-core.node.js'));
      expect(r.lossIsAppTensor).toBe(true);
      expect(r.lossRank).toBe(0);
      expect(r.loss as number).toBeCloseTo(EXPECTED_LOSS, 6);
      expect(r.doubled as number).toBeCloseTo(2 * EXPECTED_LOSS, 6);
      // d/dr of ½·(1 − cos(f, r)) at f = [1, 0], r = [1, 1] is ½·[−1, 1]/(2√2); 0 where r = f.
      const g = 1 / (4 * Math.SQRT2);
      expect(r.gradient).toHaveLength(4);
      (r.gradient as number[]).forEach((v, i) => expect(v).toBeCloseTo([-g, g, 0, 0][i], 6));
      expect(r.leakedTensors).toBe(0);
      expect(r.ckaadVersion).toBe(pkg.version);
      expect(r.tfjsCoreVersion).toBe(r.appTfjsCoreVersion);
      if (file.endsWith('.mjs')) {
        const wasm = r.wasm as { name: string; backend: string; loss: number };
        expect(wasm.name).toBe('wasm');
        expect(wasm.backend).toBe('wasm');
        expect(wasm.loss).toBeCloseTo(EXPECTED_LOSS, 5);
      }
    });
  }

  it.each(['esm', 'cjs'])('defaults to wasm, and the %s build runs the feature worker it ships', async (build) => {
    expect(packedFiles).toContain('dist/feature-worker.js');
    const r = await runConsumer(project, 'default.mjs', [build]);
    expect(r.backend).toBe('wasm');
    const cores = Math.min(availableParallelism(), 8);
    expect(r.threads).toEqual(cores > 1 ? { requested: cores, threads: cores, fallback: null } : null);
    // The build found dist/feature-worker.js and computed every image's features there.
    expect(r.training).toEqual({ worker: 'wasm', steps: 2, computed: 4 });
    // One copy of every class per module format: an error thrown by ckaad/node is ckaad's.
    expect(r.errorClass).toBe('shared');
  });

  it('the CJS build starts the multi-threaded wasm backend', async () => {
    const r = await runConsumer(project, 'threads.cjs');
    expect(r.backend).toBe('wasm');
    expect(r.status).toEqual({ requested: 2, threads: 2, fallback: null });
    expect(r.sum).toBe(4 * 6 * 6 * 36);
    expect(r.warnings).toEqual([]);
  });

  it('loading the CJS and the ESM build in one process registers no gradient or kernel twice', async () => {
    const r = await runConsumer(project, 'dual.mjs');
    expect(r.distinctModules).toBe(true); // really two module instances...
    expect(r.sameEngine).toBe(true); // ...on one engine
    expect(r.registeredAfterImports).toEqual([]);
    expect(r.selections).toEqual(['cpu', 'cpu', 'wasm', 'wasm', 'wasm', 'cpu']);
    // tfjs-core registers none; ckaad registers tfjs-core's ~100 gradients once, not twice.
    expect(r.gradientsAtStart).toBe(0);
    expect(r.gradientsAtEnd as number).toBeGreaterThan(100);
    expect(r.duplicates).toEqual({ gradients: [], kernels: [] });
    const warnings = r.warnings as string[];
    expect(warnings.filter((w) => /Overriding the gradient|already registered/.test(w))).toEqual([]);
    // The detectors work: a deliberate re-registration is caught by both.
    const control = r.control as { duplicates: string[]; warnings: string[] };
    expect(control.duplicates).toEqual(['Conv2D']);
    expect(control.warnings.join('\n')).toMatch(/Overriding the gradient for 'Conv2D'/);
  });

  it('the declarations resolve for ESM (.mts) and CommonJS (.cts) TypeScript consumers', async () => {
    writeFileSync(
      join(project, 'check.mts'),
      [
        "import * as tf from '@tensorflow/tfjs-core';",
        "import { BackendError, backendInfo, useBackend, type BackendInfo } from 'ckaad';",
        "const selected: Promise<string> = useBackend('cpu', {});",
        'const info: BackendInfo = backendInfo();',
        'const shared: boolean = info.engine === tf.engine();',
        "const error: Error = new BackendError('x');",
        '// @ts-expect-error threads is a number',
        "void useBackend('wasm', { threads: 'four' });",
        'export { selected, shared, error };',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'check.cts'),
      [
        "import ckaad = require('ckaad');",
        "import tf = require('@tensorflow/tfjs-core');",
        "const name: Promise<string> = ckaad.ensureBackend();",
        'const active: string | null = ckaad.backendInfo().active;',
        'const t: tf.Tensor = tf.scalar(1);',
        '// @ts-expect-error backendInfo takes no argument',
        'ckaad.backendInfo(1);',
        'export = { name, active, t };',
      ].join('\n'),
    );
    const tsc = require.resolve('typescript/bin/tsc');
    const args = ['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022'];
    await sh(process.execPath, [tsc, ...args, 'check.mts', 'check.cts'], project, 120_000);
    // The same files with the declarations removed must fail: the check above is not vacuous.
    for (const dts of ['index.d.cts', 'index.node.d.cts']) rmSync(join(project, 'node_modules', 'ckaad', 'dist', dts));
    await expect(sh(process.execPath, [tsc, ...args, '--skipLibCheck', 'check.cts'], project, 120_000)).rejects.toThrow(
      /check\.cts.*(TS7016|TS2307)/s,
    );
  });
});
