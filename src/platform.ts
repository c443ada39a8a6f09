/**
 * What ckaad's universal core asks of the platform it runs on, and nothing more: reading a
 * file by path, a feature worker on another core, disk space for a feature cache that does
 * not fit in memory, and the number of cores.
 *
 * The core (`ckaad`) imports no Node built-in, statically or dynamically, so that it bundles
 * for browsers. In Node, `ckaad/node` installs the Node implementations when it is loaded —
 * and so does `ckaad` itself under the `node` export condition (its Node build is the core
 * plus that one import). Elsewhere every hook keeps its portable default: a file path is an
 * error that names `ckaad/node`, there is no feature worker and no spill, one core.
 *
 * The installed platform lives on the global object (a `Symbol.for` key), so that the ESM and
 * the CommonJS build of ckaad loaded in one process share it, as they share one tfjs engine.
 */

import { NodeOnlyError } from './errors.js';
import type { ThreadedWasmOptions, WasmPackageModule } from './backend/wasm-status.js';
import type { Storage } from './io/storage.js';

/** Random access to the bytes of a file, a buffer or a Blob. */
export interface RandomAccessFile {
  /** Size in bytes. */
  readonly size: number;
  /** Bytes `[offset, offset + length)`; throws if the file is shorter. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the file (a no-op for buffers). */
  close(): Promise<void>;
}

/** A worker that computes backbone features off the main thread (see `features/provider.ts`). */
export interface FeatureWorkerHandle {
  /** The backend the worker computes on. */
  readonly backend: string;
  /** Features of images `indices` of dataset `dataset`: one [n·h·w·c] array per layer and its shape. */
  request(dataset: 'normal' | 'anomalies', indices: readonly number[], key?: number): Promise<{ maps: Float32Array[]; shapes: number[][] }>;
  /** Stops the worker. */
  close(): Promise<void>;
}

/** How to start a feature worker: the serialisable recipes it rebuilds its inputs from. */
export interface FeatureWorkerInit {
  backend: 'cpu' | 'wasm';
  /** `createResNetExtractor` options (weights as a path, bytes or 'random'). */
  extractor: unknown;
  /** Dataset recipes by name (see `DatasetRecipe`). */
  datasets: Partial<Record<'normal' | 'anomalies', unknown>>;
  /** Expected [H, W] of every image batch. */
  imageSize: [number, number];
  /** Worker script to run instead of the bundled one. */
  file?: string;
}

/** Synchronous positioned I/O on one spill file of the feature cache. */
export interface SpillFile {
  write(data: Uint8Array, position: number): void;
  read(into: Uint8Array, position: number): void;
  /** Closes and deletes the file. */
  remove(): void;
}

/** The platform hooks (see the module notes). */
export interface Platform {
  /** Name for messages, e.g. `'node'` or `'portable'`. */
  readonly name: string;
  /** Opens a file by path for random access. */
  openFile(path: string): Promise<RandomAccessFile>;
  /** Starts a feature worker, or null where there are none. */
  startFeatureWorker: ((init: FeatureWorkerInit) => Promise<FeatureWorkerHandle>) | null;
  /** Creates a spill file in `dir` for dataset `name`, or null where there is no disk. */
  createSpillFile: ((dir: string, name: string) => SpillFile) | null;
  /** The storage of a checkpoint folder (`TrainerOptions.checkpoint` given as a path). */
  checkpointFolder(dir: string): Storage;
  /** SHA-256 (hex) of a file by path, streamed; null where files are read whole. */
  sha256File: ((path: string) => Promise<string>) | null;
  /** `path` made absolute (Node: against the working folder); unchanged elsewhere. */
  absolutePath(path: string): string;
  /** Number of logical cores. */
  cores(): number;
  /**
   * Makes the registered, not yet initialised 'wasm' backend start tfjs-backend-wasm's
   * multi-threaded build with `options.threads` threads (falling back to one thread with a
   * notice), or null where tfjs chooses the binary itself (browsers).
   */
  installThreadedWasm: ((pkg: WasmPackageModule, options: ThreadedWasmOptions) => void) | null;
}

const PLATFORM_KEY = Symbol.for('ckaad.platform');

interface PlatformSlot {
  [PLATFORM_KEY]?: Platform;
}

/** The portable defaults (browsers, web workers, a core without `ckaad/node`). */
export const PORTABLE_PLATFORM: Platform = {
  name: 'portable',
  async openFile(path) {
    throw new NodeOnlyError(`reading the file '${path}'`, "pass its bytes (Uint8Array, ArrayBuffer), a Blob/File or an http(s) URL instead");
  },
  startFeatureWorker: null,
  createSpillFile: null,
  checkpointFolder(dir) {
    throw new NodeOnlyError(`a checkpoint folder ('${dir}')`, 'pass a Storage (e.g. memoryStorage()) as options.checkpoint instead');
  },
  sha256File: null,
  absolutePath: (path) => path,
  installThreadedWasm: null,
  cores() {
    const n = (globalThis as { navigator?: { hardwareConcurrency?: unknown } }).navigator?.hardwareConcurrency;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 1;
  },
};

/** The platform ckaad runs on now. */
export function platform(): Platform {
  return (globalThis as PlatformSlot)[PLATFORM_KEY] ?? PORTABLE_PLATFORM;
}

/**
 * Installs `next` as the platform (ckaad/node does this when it loads); returns the previous one.
 * Tests use the return value to put the previous platform back.
 */
export function installPlatform(next: Platform): Platform {
  const slot = globalThis as PlatformSlot;
  const previous = slot[PLATFORM_KEY] ?? PORTABLE_PLATFORM;
  slot[PLATFORM_KEY] = next;
  return previous;
}
