/**
 * The multi-threaded wasm backend as the core sees it: how many threads to ask for, and how the
 * last start went. Starting the threaded build is the platform's business (in Node,
 * src/node/wasm-threads.ts through `Platform.installThreadedWasm`; in browsers tfjs itself
 * picks the threaded binary in cross-origin-isolated pages).
 */

import type * as WasmPackage from '@tensorflow/tfjs-backend-wasm';

/** The @tensorflow/tfjs-backend-wasm module namespace. */
export type WasmPackageModule = typeof WasmPackage;

/** Most XNNPACK threads tfjs-backend-wasm creates (backend.cc: `max_num_threads`). */
export const MAX_WASM_THREADS = 8;

/** What a platform's threaded-wasm start needs to know. */
export interface ThreadedWasmOptions {
  /** XNNPACK threads, including the calling one (1 … {@link MAX_WASM_THREADS}). */
  threads: number;
  /** As `WasmOptions.wasmPaths`: where the `.wasm` binaries are. Default: the package's folder. */
  wasmPaths?: string | Record<string, string>;
  /** Give up (and terminate every worker started) after this long. Default 60 s. */
  timeoutMs?: number;
}

// Outcome of the last threaded start in this process, shared by the ESM and CJS builds.
const STATUS_KEY = Symbol.for('ckaad.backend.wasmThreads');

/** How the wasm backend of this process was started, see {@link wasmThreadsStatus}. */
export interface WasmThreadsStatus {
  /** Threads asked for. */
  requested: number;
  /** XNNPACK threads the backend runs with (1 after a fallback). */
  threads: number;
  /** Why the single-threaded build is used instead, or null when the threaded one started. */
  fallback: string | null;
}

interface StatusSlot {
  [STATUS_KEY]?: WasmThreadsStatus;
}

/**
 * How ckaad started the wasm backend of this process: the threads asked for, the XNNPACK
 * threads it runs with, and why it fell back to one thread if it did. Null until ckaad has
 * initialised wasm with threads > 1 in Node (a single-threaded wasm backend is tfjs's own).
 */
export function wasmThreadsStatus(): WasmThreadsStatus | null {
  return (globalThis as StatusSlot)[STATUS_KEY] ?? null;
}

/** Records how the threaded start went (called by the platform's loader). */
export function recordWasmThreads(status: WasmThreadsStatus): void {
  (globalThis as StatusSlot)[STATUS_KEY] = status;
}
