/**
 * What ckaad sees of the tfjs engine: the active backend, the registered ones, and the
 * engine object itself, so that an application can check it shares ckaad's engine.
 */

import * as tf from '@tensorflow/tfjs-core';

/** The tfjs engine type (tfjs-core does not export the class from its entry point). */
export type TfEngine = ReturnType<typeof tf.engine>;

/** Snapshot returned by {@link backendInfo}. */
export interface BackendInfo {
  /** Active, initialised backend, or `null` if none is ready yet. */
  active: string | null;
  /** Names of all registered backends, highest priority first. */
  registered: string[];
  /** Names of the backends that have been initialised (they hold their own memory). */
  initialized: string[];
  /**
   * Threads of the wasm backend's XNNPACK pool (more than 1 only with the multi-threaded
   * binary), or null while wasm is not initialised.
   */
  wasmThreads: number | null;
  /** Version of the @tensorflow/tfjs-core ckaad is linked against. */
  tfjsCoreVersion: string;
  /**
   * The engine ckaad computes with. `backendInfo().engine === tf.engine()` in the
   * application proves both share one engine (and so one backend and one memory).
   */
  engine: TfEngine;
}

/**
 * Describes the tfjs engine ckaad uses, without initialising anything.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { backendInfo } from 'ckaad';
 * console.log(backendInfo().active, backendInfo().engine === tf.engine()); // 'wasm' true
 * ```
 */
export function backendInfo(): BackendInfo {
  const engine = tf.engine();
  const name = engine.backendName;
  const registered = engine.backendNames();
  const priority = (n: string): number => engine.registryFactory[n]?.priority ?? 0;
  return {
    active: name != null && engine.registry[name] != null ? name : null,
    registered: [...registered].sort((a, b) => priority(b) - priority(a)),
    initialized: Object.keys(engine.registry),
    wasmThreads: wasmThreads(engine.registry['wasm']),
    tfjsCoreVersion: tf.version_core,
    engine,
  };
}

/** What tfjs-backend-wasm's `BackendWasm` exposes of its module: the pool's thread count. */
interface WasmModuleHolder {
  wasm?: { tfjs?: { getThreadsCount?: () => number } };
}

/** XNNPACK threads of an initialised wasm backend, or null (none, or not tfjs's BackendWasm). */
function wasmThreads(backend: tf.KernelBackend | undefined): number | null {
  const count = (backend as WasmModuleHolder | undefined)?.wasm?.tfjs?.getThreadsCount?.();
  return typeof count === 'number' && count >= 1 ? count : null;
}
