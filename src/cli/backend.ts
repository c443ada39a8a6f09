/**
 * `--backend`: selects the tfjs backend before any tensor work. `cpu` and `wasm` ship with
 * ckaad; for `tensorflow` the command line imports @tensorflow/tfjs-node-gpu or
 * @tensorflow/tfjs-node if the user installed one (they are not dependencies of ckaad).
 */

import { BackendError } from '../errors.js';
import { OptionError } from './errors.js';
import { ensureBackend, useBackend } from '../backend/select.js';

/** Native packages that register the 'tensorflow' backend, in order of preference. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

/**
 * Selects backend `name` (or, without one, what `ensureBackend()` picks) and returns the
 * name of the active backend. `threads` (`--threads`) is for wasm only: without `--backend`
 * it starts wasm with that many threads, falling back as `ensureBackend()` does.
 *
 * @throws BackendError naming the package to install when a backend is unavailable;
 *   OptionError for `--threads` with another backend than wasm.
 */
export async function selectBackend(name: string | undefined, threads?: number): Promise<string> {
  if (threads !== undefined && name !== undefined && name !== 'wasm') {
    throw new OptionError('--threads', "to be given only with the wasm backend (the default, or --backend wasm)", `--backend ${name}`);
  }
  if (name === undefined && threads !== undefined) {
    try {
      return await useBackend('wasm', { threads });
    } catch {
      return ensureBackend();
    }
  }
  if (name === undefined) return ensureBackend();
  if (name === 'wasm' && threads !== undefined) return useBackend('wasm', { threads });
  if (name === 'tensorflow') {
    const failures: string[] = [];
    for (const pkg of NATIVE_PACKAGES) {
      try {
        // A variable specifier: the bundler must not try to resolve these optional packages.
        await import(/* @vite-ignore */ pkg);
        return await useBackend('tensorflow');
      } catch (e) {
        failures.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    throw new BackendError(
      `--backend tensorflow needs @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA) installed next to ckaad (${failures.join('; ')})`,
    );
  }
  return useBackend(name);
}
