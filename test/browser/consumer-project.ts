/**
 * The published package as a browser application gets it: `npm pack` this repository, install the
 * tarball into an empty project, and bundle a consumer that imports only `ckaad` with esbuild,
 * Vite and webpack for the browser — no stubs, no externals, no aliases. The consumer's
 * TypeScript (test/browser/fixtures/consumer/page.ts and the example it runs,
 * examples/browser/train-and-score.ts) is first compiled file by file to JavaScript, so the three
 * bundlers get the same plain ES modules.
 */

import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

import { NPM, sh } from '../processes.js';

import type { TrainAndScoreResult } from '../../examples/browser/train-and-score.js';
import type { Chromium } from './chromium.js';
import type { Case, CaseResult } from './fixtures/consumer/page.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');

/** The consumer's sources, relative to the repository (their relative imports are kept). */
const CONSUMER_SOURCES = [
  'test/browser/fixtures/consumer/page.ts',
  'test/browser/fixtures/consumer/webgl-page.ts',
  'test/browser/fixtures/consumer/node-run.ts',
  'examples/browser/train-and-score.ts',
];
/** The compiled entry of the consumer, relative to the project. */
export const CONSUMER_ENTRY = 'src/test/browser/fixtures/consumer/page.js';
/** The same consumer with @tensorflow/tfjs-backend-webgl registered (the project must have it installed). */
export const WEBGL_CONSUMER_ENTRY = 'src/test/browser/fixtures/consumer/webgl-page.js';
const CONSUMER_HTML = join(ROOT, 'test/browser/fixtures/consumer/index.html');

/**
 * Packs the repository (dist must be built) into `work` and installs the tarball, with
 * @tensorflow/tfjs-core and `extra` packages, into a new project `work/app`. Returns its folder.
 */
export async function installPackedProject(work: string, extra: string[] = []): Promise<string> {
  const packed = JSON.parse(await sh(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)) as Array<{ filename: string }>;
  const project = join(work, 'app');
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ckaad-browser-consumer', version: '1.0.0', private: true, type: 'module' }));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const core = `@tensorflow/tfjs-core@${pkg.devDependencies['@tensorflow/tfjs-core']}`;
  await sh(NPM, ['install', join(work, packed[0].filename), core, ...extra, '--prefer-offline', '--no-audit', '--no-fund'], project, 600_000);
  return project;
}

/** Compiles the consumer's TypeScript to ES modules under `project/src`, keeping its layout. */
export async function writeConsumer(project: string): Promise<void> {
  for (const source of CONSUMER_SOURCES) {
    const { code } = await esbuild.transform(readFileSync(join(ROOT, source), 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022' });
    const out = join(project, 'src', source.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
  }
}

/** Copies tfjs-backend-wasm's three `.wasm` binaries from the project into `dir`. */
export function copyWasmBinaries(project: string, dir: string): void {
  const from = join(project, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  for (const name of readdirSync(from).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(from, name), join(dir, name));
}

/** A bundler's result: the folder to serve, its errors and warnings, and the JavaScript's size. */
export interface BundleResult {
  dir: string;
  errors: string[];
  warnings: string[];
  /** Bytes of JavaScript emitted (all chunks). */
  jsBytes: number;
}

function jsBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += jsBytes(p);
    else if (/\.m?js$/.test(entry.name)) total += statSync(p).size;
  }
  return total;
}

/**
 * Bundles the consumer (`entry`, default {@link CONSUMER_ENTRY}) with esbuild for the browser
 * (minified, one ES module) into `project/<name>`, beside its page and the wasm binaries.
 */
export async function bundleWithEsbuild(project: string, entry = CONSUMER_ENTRY, name = 'out-esbuild'): Promise<BundleResult> {
  const dir = join(project, name);
  mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: project,
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    outfile: join(dir, 'bundle.js'),
    logLevel: 'silent',
  }).catch((err: esbuild.BuildFailure) => ({ errors: err.errors, warnings: err.warnings }));
  copyFileSync(CONSUMER_HTML, join(dir, 'index.html'));
  copyWasmBinaries(project, dir);
  const text = (messages: esbuild.Message[]) => messages.map((m) => `${m.location?.file ?? ''}: ${m.text}`);
  return { dir, errors: text(result.errors), warnings: text(result.warnings), jsBytes: jsBytes(dir) };
}

/** Bundles the consumer with Vite (production build) into `project/out-vite`. */
export async function bundleWithVite(project: string): Promise<BundleResult> {
  const vite = await import('vite');
  const dir = join(project, 'out-vite');
  // Vite builds from an index.html at the project root that names the entry module.
  writeFileSync(join(project, 'index.html'), readFileSync(CONSUMER_HTML, 'utf8').replace('./bundle.js', `/${CONSUMER_ENTRY}`));
  const warnings: string[] = [];
  const errors: string[] = [];
  try {
    await vite.build({
      root: project,
      configFile: false,
      logLevel: 'silent',
      build: { outDir: dir, emptyOutDir: true, target: 'es2022' },
      customLogger: {
        info: () => {},
        warn: (msg: string) => warnings.push(msg),
        warnOnce: (msg: string) => warnings.push(msg),
        error: (msg: string) => errors.push(msg),
        clearScreen: () => {},
        hasErrorLogged: () => false,
        hasWarned: false,
      },
    });
  } catch (err) {
    errors.push((err as Error).message);
  }
  if (errors.length === 0) copyWasmBinaries(project, dir);
  return { dir, errors, warnings, jsBytes: errors.length === 0 ? jsBytes(dir) : 0 };
}

/** Bundles the consumer with webpack 5 (production mode, web target) into `project/out-webpack`. */
export async function bundleWithWebpack(project: string): Promise<BundleResult> {
  const { default: webpack } = await import('webpack');
  const dir = join(project, 'out-webpack');
  const compiler = webpack({
    mode: 'production',
    target: 'web',
    context: project,
    entry: `./${CONSUMER_ENTRY}`,
    output: { path: dir, filename: 'bundle.js', module: true, chunkFormat: 'module' },
    experiments: { outputModule: true },
    performance: { hints: false },
  });
  const stats = await new Promise<import('webpack').Stats>((resolve, reject) =>
    compiler.run((err, s) => (err ? reject(err) : s === undefined ? reject(new Error('webpack gave no stats')) : resolve(s))),
  );
  await new Promise<void>((resolve) => compiler.close(() => resolve()));
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  const text = (list: Array<{ message: string; moduleName?: string }> | undefined) =>
    (list ?? []).map((m) => `${m.moduleName === undefined ? '' : relative(project, m.moduleName)}: ${m.message}`);
  copyFileSync(CONSUMER_HTML, join(dir, 'index.html'));
  copyWasmBinaries(project, dir);
  return { dir, errors: text(info.errors), warnings: text(info.warnings), jsBytes: jsBytes(dir) };
}

/**
 * Runs the example in Node on the packed package (bundled for Node, its packages left to the
 * project's node_modules) and returns its result.
 */
export async function runInNode(project: string, backend: string, size: number, epochs: number): Promise<TrainAndScoreResult> {
  const out = join(project, 'out-node', 'run.mjs');
  await esbuild.build({
    absWorkingDir: project,
    entryPoints: ['src/test/browser/fixtures/consumer/node-run.js'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: out,
    logLevel: 'silent',
  });
  const stdout = await sh(process.execPath, [out, backend, String(size), String(epochs)], project, 600_000);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as TrainAndScoreResult;
}

/**
 * Opens the consumer page at `url`, runs one case in it (`window.ckaadCase`), closes the page;
 * returns the result and the seconds the case took.
 */
export async function runCase(chromium: Chromium, url: string, c: Case): Promise<{ result: CaseResult; seconds: number }> {
  const page = await chromium.open(url);
  try {
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', { timeout: 60_000 });
    const started = performance.now();
    const result = await page.evaluate((arg) => (globalThis as unknown as { ckaadCase: (c: Case) => Promise<CaseResult> }).ckaadCase(arg), c);
    return { result, seconds: (performance.now() - started) / 1000 };
  } finally {
    await page.close();
  }
}
