/**
 * The built package for tests that use dist/ as a user would (`npm pack`, examples importing
 * 'ckaad'): built with `npm run build` when it is missing or older than its inputs.
 */

import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NPM, sh } from './processes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Entries of dist/ whose age decides whether the build is fresh. */
export const DIST_FILES = ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts'];

/** Newest modification time under `dir` (recursively), in ms. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True if every dist entry exists and is newer than every input of the build. */
export function distIsFresh(): boolean {
  const inputs = [join(root, 'package.json'), join(root, 'tsup.config.ts'), join(root, 'tsconfig.json')];
  const newestInput = Math.max(newestMtime(join(root, 'src')), ...inputs.map((p) => statSync(p).mtimeMs));
  try {
    return Math.min(...DIST_FILES.map((f) => statSync(join(root, f)).mtimeMs)) > newestInput;
  } catch {
    return false;
  }
}

/** Runs `npm run build` unless dist/ is fresh; throws with the build's output if it fails. */
export async function ensureFreshDist(): Promise<void> {
  if (distIsFresh()) return;
  await sh(NPM, ['run', 'build'], root, 600_000);
  if (!distIsFresh()) throw new Error('dist/ is still older than src/ after npm run build');
}
