/**
 * The feature worker script for tests: dist/feature-worker.js built from the sources with the
 * package's own tsup settings into a private folder (the sources alone cannot run in a worker).
 */

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build, type Options } from 'tsup';

import tsupConfig from '../../tsup.config.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds the worker entry; returns its path and a function removing it. */
export async function buildWorkerFile(): Promise<{ file: string; remove: () => void }> {
  const cacheDir = join(root, 'node_modules', '.cache');
  mkdirSync(cacheDir, { recursive: true });
  const outDir = mkdtempSync(join(cacheDir, 'ckaad-feature-worker-'));
  const configs = (Array.isArray(tsupConfig) ? tsupConfig : [tsupConfig]) as Options[];
  const config = configs.find((c) => JSON.stringify(c.entry).includes('feature-worker'));
  if (config === undefined) throw new Error('tsup.config.ts has no feature-worker entry');
  await build({ ...config, outDir, sourcemap: false, silent: true, config: false });
  return { file: join(outDir, 'feature-worker.js'), remove: () => rmSync(outDir, { recursive: true, force: true }) };
}
