/**
 * Lazy loading of the two backends ckaad depends on: @tensorflow/tfjs-backend-cpu and
 * @tensorflow/tfjs-backend-wasm.
 *
 * Importing either package registers its backend and kernels with the (global) tfjs
 * engine, so they are imported dynamically, only when a backend is selected: importing
 * ckaad itself registers nothing. A backend whose name is already registered (by the
 * user's own copy of the package, or by e.g. @tensorflow/tfjs) is left alone, because
 * importing a second copy would re-register it and every one of its kernels.
 *
 * wasm in Node: the package's CommonJS build (which Node resolves, the package has no
 * `exports` map) finds its `.wasm` binaries next to itself (`__dirname`), so it works
 * offline from the installed package with no configuration. Under a bundler (browser)
 * the binaries must be served and located with `wasmPaths`.
 */

import * as tf from '@tensorflow/tfjs-core';

import { BackendError, InvalidArgumentError } from '../errors.js';
import { isNode } from './names.js';
import type { BundledBackend } from './names.js';
import { defaultWasmThreads, installThreadedWasm } from './wasm-threads.js';

/** The names of the three wasm binaries, the keys a `wasmPaths` record must have. */
export const WASM_BINARY_NAMES: readonly string[] = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
];

/** Options of the wasm backend; they take effect only before it is first initialised. */
export interface WasmOptions {
  /**
   * Where the `.wasm` binaries are: a URL/path prefix ending in `/` (e.g.
   * `'https://cdn.jsdelivr.net/npm/@tensorflow/tfjs-backend-wasm@4.22.0/dist/'`), or a
   * record mapping each of the three binary names to its full URL. Default: the
   * directory of the installed package (works in Node; browsers need this option).
   */
  wasmPaths?: string | Record<string, string>;
  /**
   * Number of XNNPACK threads (1 … 8). In Node, more than 1 starts the multi-threaded SIMD
   * binary through ckaad's own loader (see wasm-threads.ts; one line on stderr and one
   * thread if it cannot start), and 1 runs tfjs's single-threaded SIMD binary as is. In
   * browsers it is passed to tfjs, which uses it in cross-origin-isolated pages.
   * Default: the number of logical cores (`os.availableParallelism()` in Node).
   */
  threads?: number;
}

// The options the wasm backend was first initialised with, shared through the global
// symbol registry so that the ESM and the CommonJS build of ckaad loaded in the same
// process agree (they share one tfjs engine, hence one wasm backend).
const WASM_OPTIONS_KEY = Symbol.for('ckaad.backend.wasmOptions');

interface WasmOptionsSlot {
  [WASM_OPTIONS_KEY]?: string;
}

/** Checks `options` for backend `name` and throws InvalidArgumentError on bad values. */
export function validateWasmOptions(name: string, options: WasmOptions): void {
  const { wasmPaths, threads } = options;
  if ((wasmPaths !== undefined || threads !== undefined) && name !== 'wasm') {
    const which = wasmPaths !== undefined ? 'options.wasmPaths' : 'options.threads';
    throw new InvalidArgumentError(which, "to be given only with backend 'wasm'", `backend '${name}'`);
  }
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new InvalidArgumentError('options.threads', 'a positive integer', String(threads));
  }
  if (typeof wasmPaths === 'string') {
    if (wasmPaths.length === 0) {
      throw new InvalidArgumentError('options.wasmPaths', 'a non-empty path or URL prefix', "''");
    }
  } else if (wasmPaths !== undefined) {
    if (typeof wasmPaths !== 'object' || wasmPaths === null) {
      throw new InvalidArgumentError('options.wasmPaths', 'a string prefix or a record of binary paths', typeof wasmPaths);
    }
    const missing = WASM_BINARY_NAMES.filter((k) => typeof wasmPaths[k] !== 'string' || wasmPaths[k] === '');
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        'options.wasmPaths',
        `a path for each of ${WASM_BINARY_NAMES.join(', ')}`,
        `none for ${missing.join(', ')}`,
      );
    }
  }
}

/**
 * Makes bundled backend `name` available in the engine's registry: imports its package
 * unless a backend of that name is already registered, and for wasm applies `options`
 * (which must come before the backend's first initialisation).
 */
export async function loadBundledBackend(name: BundledBackend, options: WasmOptions = {}): Promise<void> {
  if (name === 'cpu') {
    if (tf.findBackendFactory('cpu') == null) await import('@tensorflow/tfjs-backend-cpu');
    return;
  }
  const hasOptions = options.wasmPaths !== undefined || options.threads !== undefined;
  const slot = globalThis as WasmOptionsSlot;
  const requested = JSON.stringify({ wasmPaths: options.wasmPaths ?? null, threads: options.threads ?? null });
  // `registry` holds initialised backends only (unlike `findBackend`, reading it does not initialise).
  if (tf.engine().registry['wasm'] != null) {
    if (hasOptions && slot[WASM_OPTIONS_KEY] !== requested) {
      throw new BackendError(
        'The wasm backend is already initialised' +
          (slot[WASM_OPTIONS_KEY] === undefined ? '' : ` with ${slot[WASM_OPTIONS_KEY]}`) +
          `; wasmPaths and threads (${requested}) only take effect before its first initialisation. ` +
          "Call useBackend('wasm', options) before anything else selects the wasm backend.",
      );
    }
    return;
  }
  if (tf.findBackendFactory('wasm') != null && !hasOptions) return;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (hasOptions) {
    try {
      if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths);
      if (options.threads !== undefined) wasm.setThreadsCount(options.threads);
    } catch (err) {
      // tfjs-backend-wasm refuses new paths once an initialisation attempt has failed.
      throw new BackendError(
        'Could not configure the wasm backend: an earlier initialisation failed and its binary paths can no ' +
          `longer be changed in this process; restart with correct options.wasmPaths (${(err as Error).message})`,
      );
    }
  }
  if (isNode()) {
    const threads = options.threads ?? (await defaultWasmThreads());
    if (threads > 1) installThreadedWasm(wasm, { threads, wasmPaths: options.wasmPaths });
  }
  slot[WASM_OPTIONS_KEY] = requested;
}
