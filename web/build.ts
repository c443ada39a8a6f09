/**
 * Builds the web page into web/dist: the page script and the training worker bundled by esbuild
 * for the browser from the repository's own sources (`ckaad` resolves to src/index.ts through
 * tsconfig.json's paths), the HTML and CSS, and tfjs-backend-wasm's three .wasm binaries next to
 * the worker, where ckaad's automatic backend choice looks for them.
 */

import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
/** Where the built page goes. */
export const WEB_DIST = join(here, 'dist');

/** What a build produced: the JavaScript's bytes per file, and esbuild's warnings. */
export interface WebBuild {
  dir: string;
  jsBytes: Record<string, number>;
  warnings: string[];
}

/** Builds the page into `dir` (default web/dist), replacing what was there. */
export async function buildWeb(dir = WEB_DIST, options: { minify?: boolean } = {}): Promise<WebBuild> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: join(here, '..'),
    entryPoints: { main: join(here, 'src', 'main.ts'), worker: join(here, 'src', 'worker.ts') },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: 'linked',
    outdir: dir,
    logLevel: 'silent',
  });
  for (const file of ['index.html', 'style.css']) copyFileSync(join(here, file), join(dir, file));
  const wasm = join(here, '..', 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const name of readdirSync(wasm).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasm, name), join(dir, name));
  const jsBytes = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => [f, statSync(join(dir, f)).size]));
  return { dir, jsBytes, warnings: result.warnings.map((w) => `${w.location?.file ?? ''}: ${w.text}`) };
}
