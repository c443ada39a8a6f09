// A library must not change how its host process exits. tfjs-backend-wasm's emscripten glue
// adds process-level 'uncaughtException' / 'unhandledRejection' listeners that rethrow, which
// made every uncaught error of the application exit with code 7 and the glue's stack once
// wasm was initialised. Each scenario is a small ESM script run in its own Node process
// against the library as built for dist (tsup.config.ts's library build, ESM), bundled into
// node_modules/.cache so that it resolves the installed dependencies and never races with
// other `npm run build`s over dist/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { build, type Options } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import tsupConfig from '../../tsup.config.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

let outDir = '';

/** The library build of tsup.config.ts (the one whose entry is `index`). */
function libraryBuildOptions(): Options {
  const configs = (Array.isArray(tsupConfig) ? tsupConfig : [tsupConfig]) as Options[];
  const library = configs.find((c) => typeof c.entry === 'object' && !Array.isArray(c.entry) && 'index' in c.entry);
  if (library === undefined) throw new Error('tsup.config.ts has no build with an index entry');
  return library;
}

beforeAll(async () => {
  const cacheDir = join(root, 'node_modules', '.cache');
  mkdirSync(cacheDir, { recursive: true });
  // The real path: Node reports scripts by it (node_modules may be a symlink).
  outDir = realpathSync(mkdtempSync(join(cacheDir, 'ckaad-host-exit-')));
  await build({ ...libraryBuildOptions(), format: ['esm'], dts: false, sourcemap: false, outDir, clean: false, silent: true, config: false });
}, 120_000);

afterAll(() => {
  if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
});

/** Writes `body` after the imports into a script next to the built library and runs it. */
function run(name: string, body: string): { code: number | null; stdout: string; stderr: string; file: string } {
  const file = join(outDir, `${name}.mjs`);
  writeFileSync(
    file,
    [
      "import * as tf from '@tensorflow/tfjs-core';",
      "import { ensureBackend, useBackend } from './index.js';",
      "const counts = () => ['uncaughtException', 'unhandledRejection'].map((e) => process.listeners(e).length);",
      body,
    ].join('\n'),
  );
  const r = spawnSync(process.execPath, [file], { cwd: outDir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, file };
}

/** The emscripten glue's file, where the rethrowing listeners live. */
const GLUE = /tf-backend-wasm\.node\.js/;

/** A small wasm computation, printed: [[1, 2], [3, 4]] × [[5], [6]] = [[17], [39]]. */
const COMPUTE = "console.log('product', tf.getBackend(), JSON.stringify(await tf.matMul([[1, 2], [3, 4]], [[5], [6]]).data()));";

describe("the host's exit behaviour after the wasm backend initialises", () => {
  it("useBackend('wasm') adds no process listener, and wasm still computes", () => {
    const r = run('listeners', `const before = counts(); await useBackend('wasm'); console.log('counts', JSON.stringify([before, counts()])); ${COMPUTE}`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('counts [[0,0],[0,0]]');
    expect(r.stdout).toContain('product wasm {"0":17,"1":39}');
  });

  it("an uncaught throw after useBackend('wasm') exits with code 1 and prints the user's error", () => {
    for (const [name, body] of [
      ['throw-timer', "await useBackend('wasm'); setTimeout(() => { throw new Error('user bug'); }, 0);"],
      ['throw-top-level', "await useBackend('wasm'); throw new Error('user bug');"],
    ]) {
      const r = run(name, body);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('Error: user bug');
      // Node's own report starts at the user's line, not in the emscripten glue.
      expect(r.stderr.startsWith(pathToFileURL(r.file).href)).toBe(true);
      expect(r.stderr).not.toMatch(GLUE);
    }
  });

  it("an unhandled rejection after useBackend('wasm') exits with code 1 (Node's default) and prints the user's error", () => {
    const r = run('reject', `await useBackend('wasm'); ${COMPUTE} Promise.reject(new Error('user rejection'));`);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('product wasm {"0":17,"1":39}');
    expect(r.stderr).toContain('Error: user rejection');
    expect(r.stderr).not.toMatch(GLUE);
  });

  it('ensureBackend() choosing wasm, and initialising a wasm backend the application registered, leave exit codes alone too', () => {
    const viaDefault = run('ensure', "console.log('chosen', await ensureBackend()); throw new Error('user bug');");
    expect(viaDefault.stdout).toContain('chosen wasm');
    expect(viaDefault.code, viaDefault.stderr).toBe(1);
    expect(viaDefault.stderr).not.toMatch(GLUE);
    const registered = run(
      'registered',
      "await import('@tensorflow/tfjs-backend-wasm'); console.log('chosen', await ensureBackend()); Promise.reject(new Error('user rejection'));",
    );
    expect(registered.stdout).toContain('chosen wasm');
    expect(registered.code, registered.stderr).toBe(1);
    expect(registered.stderr).toContain('Error: user rejection');
    expect(registered.stderr).not.toMatch(GLUE);
  });

  it("keeps the application's own listeners, also one added while wasm initialised", () => {
    const r = run(
      'own-listeners',
      [
        "process.on('uncaughtException', (e) => console.log('early saw', e.message));",
        "const pending = useBackend('wasm');",
        "process.on('uncaughtException', (e) => console.log('late saw', e.message));",
        'await pending;',
        "console.log('counts', JSON.stringify(counts()));",
        "setTimeout(() => { throw new Error('user bug'); }, 0);",
      ].join('\n'),
    );
    // Handled by the application's listeners: Node carries on and exits normally.
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('counts [2,0]');
    expect(r.stdout).toContain('early saw user bug');
    expect(r.stdout).toContain('late saw user bug');
  });
});
