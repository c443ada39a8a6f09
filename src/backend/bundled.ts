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
 * the binaries must be served: next to the page (or the worker's script), or where
 * `wasmPaths` says. On a cross-origin-isolated page tfjs picks the threaded binary; ckaad
 * then starts it with every core, or `threads` (see {@link withBrowserWasmCores}).
 */

import * as tf from '@tensorflow/tfjs-core';

import { BackendError, InvalidArgumentError } from '../errors.js';
import { isNode } from './names.js';
import type { BundledBackend } from './names.js';
import { MAX_WASM_THREADS } from './wasm-status.js';
import { platform } from '../platform.js';

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
   * Number of XNNPACK threads, the calling thread included (1 … 8). In Node, more than 1
   * starts the multi-threaded SIMD binary through ckaad's own loader (see node/wasm-threads.ts;
   * one line on stderr and one thread if it cannot start), and 1 runs tfjs's single-threaded
   * SIMD binary as is. In browsers it is used by tfjs's multi-threaded binary, i.e. on
   * cross-origin-isolated pages (COOP/COEP headers). Default: the number of logical cores
   * (`os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers).
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

// Whether ckaad imported @tensorflow/tfjs-backend-wasm (which registered the 'wasm' factory).
let importedWasm = false;

/** Imports ckaad's @tensorflow/tfjs-backend-wasm, which registers the 'wasm' backend factory. */
async function importWasm(): Promise<typeof import('@tensorflow/tfjs-backend-wasm')> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  importedWasm = true;
  return wasm;
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
  // A 'wasm' registered by another copy of the package (e.g. @tensorflow/tfjs) is used as it is.
  if (tf.findBackendFactory('wasm') != null && !hasOptions && !importedWasm) return;
  const wasm = await importWasm();
  // In a browser whose page can run the threaded binary: the threads to start it with.
  browserThreads = isNode() || !(await threadedWasmSupported()) ? null : (options.threads ?? defaultWasmThreads());
  if (hasOptions || browserThreads !== null) {
    try {
      if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths);
      const threads = options.threads ?? browserThreads;
      if (threads != null) wasm.setThreadsCount(threads);
    } catch (err) {
      // tfjs-backend-wasm refuses new paths once an initialisation attempt has failed.
      throw new BackendError(
        'Could not configure the wasm backend: an earlier initialisation failed and its binary paths can no ' +
          `longer be changed in this process; restart with correct options.wasmPaths (${(err as Error).message})`,
      );
    }
  }
  const installThreaded = platform().installThreadedWasm;
  if (installThreaded !== null) {
    const threads = options.threads ?? defaultWasmThreads();
    if (threads > 1) installThreaded(wasm, { threads, wasmPaths: options.wasmPaths });
  }
  slot[WASM_OPTIONS_KEY] = requested;
}

// -----------------------------------------------------------------------------------------
// wasm in browsers: where the binaries are, and threads

// The threads the browser's threaded wasm module is to start with (set by loadBundledBackend,
// read by withBrowserWasmCores); null in Node and where the threaded binary is not used.
let browserThreads: number | null = null;

/** The default thread count: the platform's logical cores, at most {@link MAX_WASM_THREADS}. */
function defaultWasmThreads(): number {
  return Math.max(1, Math.min(MAX_WASM_THREADS, platform().cores()));
}

/**
 * The binary tfjs-backend-wasm loads in this browser: it picks by wasm SIMD and threads support
 * (threads need `SharedArrayBuffer`, i.e. a cross-origin-isolated page). Asks tfjs's own flags,
 * which importing the package registers.
 */
async function browserWasmBinary(): Promise<string> {
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  return simd && threads ? WASM_BINARY_NAMES[2] : simd ? WASM_BINARY_NAMES[1] : WASM_BINARY_NAMES[0];
}

/** Whether tfjs-backend-wasm will load its threaded binary here (see {@link browserWasmBinary}). */
async function threadedWasmSupported(): Promise<boolean> {
  return (await browserWasmBinary()) === WASM_BINARY_NAMES[2];
}

/**
 * For {@link ensureBackend}'s automatic choice in a browser: checks, with a HEAD request, that
 * the wasm binary this browser needs is served where tfjs looks for it without `wasmPaths` —
 * the folder of the page (a window) or of the worker's script. Returns null when it is, else
 * why not. Checking first means a page without the binaries falls back to 'cpu' without a
 * failed wasm initialisation, after which tfjs-backend-wasm would refuse new `wasmPaths` for
 * the life of the page.
 */
export async function missingBrowserWasm(): Promise<string | null> {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  const base = g.document?.baseURI ?? g.location?.href;
  if (base === undefined) return 'no page or worker location to find the .wasm binaries from; pass wasmPaths';
  if (tf.findBackendFactory('wasm') == null) await importWasm();
  const url = new URL(await browserWasmBinary(), base).href;
  try {
    const response = await fetch(url, { method: 'HEAD' });
    await response.arrayBuffer(); // empty; read to the end, so the request completes rather than being cancelled
    // 405: a server that answers GET only; the binary may well be there.
    if (response.ok || response.status === 405) return null;
    return `${url} answered HTTP ${response.status}; serve the .wasm files of @tensorflow/tfjs-backend-wasm there, or pass wasmPaths`;
  } catch (err) {
    return `could not fetch ${url} (${(err as Error).message}); serve the .wasm files there, or pass wasmPaths`;
  }
}

/** The own property `hardwareConcurrency` of `navigator` may shadow the prototype's getter. */
interface NavigatorCores {
  hardwareConcurrency?: number;
}

/**
 * Runs `init` (which may start the wasm backend) so that the threaded binary in a browser gets
 * the threads asked for. tfjs-backend-wasm caps XNNPACK's pool at half the logical cores its
 * module sees when it starts (backend.cc: `num_cores = emscripten_num_logical_cores() / 2`,
 * meant for hyper-threaded desktops; `navigator.hardwareConcurrency` in a browser), whatever
 * `setThreadsCount` asked: one thread on a 2-core machine. While `init` runs,
 * `navigator.hardwareConcurrency` reports twice the requested threads, so the cap is the
 * request; the browser's own value is back as soon as `init` settles. A no-op in Node and
 * wherever the threaded binary is not used.
 */
export async function withBrowserWasmCores<T>(init: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: NavigatorCores }).navigator;
  if (browserThreads === null || nav === undefined) return init();
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  const cores = 2 * browserThreads;
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => cores });
  } catch {
    return init(); // a browser that refuses: tfjs's own cap applies
  }
  try {
    return await init();
  } finally {
    if (own === undefined) delete nav.hardwareConcurrency;
    else Object.defineProperty(nav, 'hardwareConcurrency', own);
  }
}

// -----------------------------------------------------------------------------------------
// The host's exit behaviour
//
// In Node, tfjs-backend-wasm's emscripten glue adds two process-level listeners when the
// wasm module is instantiated: `process.on('uncaughtException', ex => { if (!(ex instanceof
// ExitStatus)) throw ex })` and `process.on('unhandledRejection', reason => { throw reason })`.
// Rethrowing from such a listener makes Node exit with code 7 and print the glue's stack for
// any uncaught error of the application. A library must not change how its host exits, so
// ckaad removes exactly those listeners once the backend has initialised.

/** The process events whose listeners decide how Node reports an uncaught error. */
const EXIT_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type ExitEvent = (typeof EXIT_EVENTS)[number];
type ExitListener = (...args: never[]) => unknown;

/** The subset of Node's `process` used here (absent in browsers). */
interface ListenerHost {
  listeners(event: ExitEvent): ExitListener[];
  removeListener(event: ExitEvent, listener: ExitListener): unknown;
}

function nodeProcess(): ListenerHost | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: unknown }; listeners?: unknown; removeListener?: unknown } }).process;
  if (typeof proc?.versions?.node !== 'string' || typeof proc.listeners !== 'function' || typeof proc.removeListener !== 'function') {
    return undefined;
  }
  return proc as ListenerHost;
}

/**
 * Whether `listener` is one of the glue's two rethrowing listeners, in any spelling that
 * differs only by whitespace and names (e.g. minified): `function (e) { throw e; }` or
 * `function (e) { if (!(e instanceof X)) { throw e; } }` (or the same as arrow functions).
 */
function isEmscriptenRethrow(listener: ExitListener): boolean {
  const source = Function.prototype.toString.call(listener).replace(/\s+/g, '');
  const match = /^(?:function[\w$]*\(([\w$]+)\)|\(?([\w$]+)\)?=>)\{(.*)\}$/.exec(source);
  if (match === null) return false;
  const param = match[1] ?? match[2];
  const body = match[3];
  const rethrows = (code: string): boolean => [`throw${param}`, `throw${param};`, `{throw${param}}`, `{throw${param};}`].includes(code);
  if (rethrows(body)) return true;
  const guard = `if(!(${param}instanceof`;
  if (!body.startsWith(guard)) return false;
  const rest = body.slice(guard.length); // e.g. `ExitStatus)){throwex;}`
  const end = rest.indexOf('))');
  return end > 0 && /^[\w$.]+$/.test(rest.slice(0, end)) && rethrows(rest.slice(end + 2));
}

/**
 * Runs `init`, which may initialise the wasm backend, then (in Node only) removes the
 * `uncaughtException` / `unhandledRejection` listeners that tfjs-backend-wasm's emscripten
 * glue added meanwhile: only listeners that were not there before `init` and are the glue's
 * rethrowing ones, so listeners of the application, even ones added while `init` ran, stay.
 * Removal happens whether `init` succeeds or fails.
 */
export async function preservingHostExitBehaviour<T>(init: () => Promise<T>): Promise<T> {
  const host = nodeProcess();
  if (host === undefined) return init();
  const before = EXIT_EVENTS.map((event) => new Set(host.listeners(event)));
  try {
    return await init();
  } finally {
    EXIT_EVENTS.forEach((event, i) => {
      for (const listener of host.listeners(event)) {
        if (!before[i].has(listener) && isEmscriptenRethrow(listener)) host.removeListener(event, listener);
      }
    });
  }
}
