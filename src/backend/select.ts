/**
 * Choosing the tfjs backend ckaad computes on.
 *
 * There is exactly one tfjs engine per process (tfjs-core keeps it on the global
 * object), shared by ckaad and by the application. Selecting a backend therefore
 * selects it for both. Rules:
 *
 * - `useBackend(name)` selects a backend explicitly. `cpu` and `wasm` are loaded from
 *   ckaad's own dependencies on demand; every other backend (`tensorflow` from
 *   tfjs-node / tfjs-node-gpu, `webgl`, `webgpu`, custom ones) must have been
 *   registered by the application first, which ckaad never does for it.
 * - `ensureBackend()` is what ckaad's own entry points call: it keeps whatever the
 *   application selected or registered (a user-injected backend always wins) and only
 *   loads the default backend ('wasm', in Node and in browsers, with 'cpu' as the
 *   fallback) when nothing is registered at all.
 *
 * Once a backend is ready, both also register tfjs-core's gradient functions that are
 * still missing (tfjs-core registers none by itself) and ckaad's fast convolution-
 * gradient kernels for 'cpu' and 'wasm'; both steps are idempotent.
 */

import * as tf from '@tensorflow/tfjs-core';

import { BackendError, InvalidArgumentError } from '../errors.js';
import { loadBundledBackend, missingBrowserWasm, preservingHostExitBehaviour, validateWasmOptions, withBrowserWasmCores } from './bundled.js';
import { ensureGradients } from './gradients.js';
import { registerFastKernels } from './kernels/index.js';
import type { WasmOptions } from './bundled.js';
import { defaultCandidates, isBundledBackend, isNode, registrationHint } from './names.js';
import type { BackendName } from './names.js';

/** Options of {@link useBackend}. All are for the wasm backend only. */
export type UseBackendOptions = WasmOptions;

/**
 * Selects tfjs backend `name` for all subsequent tensor work (of ckaad and of the
 * application: they share one engine) and waits until it is ready.
 *
 * - `'cpu'` and `'wasm'` ship with ckaad and are imported on first use. In Node the
 *   wasm binaries are found in the installed package; in a browser they are fetched from
 *   next to the page (or the worker's script) unless `options.wasmPaths` says where. On a
 *   cross-origin-isolated page wasm runs multi-threaded (`options.threads`, default every
 *   core). Options apply only before wasm's first initialisation.
 * - `'tensorflow'` (tfjs-node / tfjs-node-gpu), `'webgl'`, `'webgpu'` and custom names
 *   must already be registered: import their package first.
 *
 * Then registers the missing gradient functions ({@link ensureGradients}) and ckaad's
 * fast convolution-gradient kernels.
 *
 * In Node, initialising wasm leaves the process's exit behaviour as it was: the
 * `uncaughtException` / `unhandledRejection` listeners that tfjs-backend-wasm's emscripten
 * glue installs (which rethrow, so that any uncaught error of the application exited with
 * code 7) are removed again; the application's own listeners are kept.
 *
 * @param name Backend to select.
 * @param options wasm-only settings: `wasmPaths` (default: next to the installed
 *   package) and `threads` (default: number of logical cores).
 * @returns The name of the now active backend.
 * @throws BackendError if the backend is not registered (the message names the package
 *   to import) or fails to initialise; InvalidArgumentError on bad options.
 *
 * @example
 * ```ts
 * import { useBackend } from 'ckaad';
 * await useBackend('wasm');
 *
 * // GPU in Node: install @tensorflow/tfjs-node-gpu yourself, then
 * import '@tensorflow/tfjs-node-gpu';
 * await useBackend('tensorflow');
 * ```
 */
export async function useBackend(name: BackendName, options: UseBackendOptions = {}): Promise<string> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('name', 'a backend name such as "cpu" or "wasm"', JSON.stringify(name));
  }
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', 'an object', String(options));
  }
  validateWasmOptions(name, options);
  await selectBackend(name, options);
  await afterBackendReady();
  return tf.getBackend();
}

/**
 * Makes sure a backend is active and returns its name; ckaad's entry points call it
 * before any tensor work. Order of preference:
 *
 * 1. the backend the application already selected (`tf.setBackend`, {@link useBackend})
 *    (importing @tensorflow/tfjs-node or -node-gpu registers and selects 'tensorflow');
 * 2. else the highest-priority backend the application registered without selecting it,
 *    as `tf.ready()` chooses it;
 * 3. else, loaded from ckaad's own dependencies (also when every registered backend failed
 *    to initialise): `DEFAULT_BACKEND` ('wasm'; multi-threaded on a cross-origin-isolated
 *    page), falling back to 'cpu' if it cannot initialise — in a browser also when its
 *    `.wasm` binaries are not served next to the page (checked before initialising, so that
 *    `useBackend('wasm', { wasmPaths })` still works afterwards). See {@link defaultCandidates}.
 *
 * Then, as {@link useBackend}, registers missing gradients and the fast kernels.
 *
 * @throws BackendError if no backend can be initialised (lists each attempt's failure).
 *
 * @example
 * ```ts
 * import { ensureBackend } from 'ckaad';
 * const name = await ensureBackend(); // 'wasm' unless the application chose another
 * ```
 */
export async function ensureBackend(): Promise<string> {
  const failures: string[] = [];
  let ready = false;
  if (tf.engine().backendNames().length > 0) {
    try {
      // Waits for a pending selection, or initialises the best registered backend (which may
      // be wasm: then without the process listeners its glue adds).
      await preservingHostExitBehaviour(() => tf.ready());
      ready = true;
    } catch (err) {
      failures.push(`registered backends (${tf.engine().backendNames().join(', ')}): ${(err as Error).message}`);
    }
  }
  const candidates = defaultCandidates();
  for (let i = 0; !ready && i < candidates.length; i++) {
    try {
      const missing = candidates[i] === 'wasm' && !isNode() ? await missingBrowserWasm() : null;
      if (missing !== null) {
        failures.push(`wasm: ${missing}`);
        continue;
      }
      await selectBackend(candidates[i], {});
      ready = true;
    } catch (err) {
      failures.push(`${candidates[i]}: ${(err as Error).message}`);
    }
  }
  if (!ready) throw new BackendError(`No tfjs backend could be initialised:\n  ${failures.join('\n  ')}`);
  await afterBackendReady();
  return tf.getBackend();
}

/**
 * Name of the backend tensor work currently runs on.
 *
 * @throws BackendError if no backend has finished initialising yet (call
 *   {@link ensureBackend} or {@link useBackend} first). Unlike `tf.getBackend()` this
 *   never initialises one as a side effect.
 */
export function activeBackend(): string {
  const engine = tf.engine();
  const name = engine.backendName;
  if (name == null || engine.registry[name] == null) {
    throw new BackendError(
      'No tfjs backend is active yet' +
        (name == null ? '' : ` ('${name}' is selected but not initialised)`) +
        ': call `await ensureBackend()` or `await useBackend(name)` first.',
    );
  }
  return name;
}

/**
 * Registers (if bundled) and initialises backend `name`; options are already validated. In
 * Node, the process-level listeners tfjs-backend-wasm's glue adds on initialisation are
 * removed again (see {@link preservingHostExitBehaviour}).
 */
function selectBackend(name: string, options: UseBackendOptions): Promise<void> {
  return preservingHostExitBehaviour(() => initialiseBackend(name, options));
}

async function initialiseBackend(name: string, options: UseBackendOptions): Promise<void> {
  if (isBundledBackend(name)) {
    await loadBundledBackend(name, options);
  } else if (tf.findBackendFactory(name) == null) {
    throw new BackendError(
      `No tfjs backend named '${name}' is registered (registered: ${listOrNone(tf.engine().backendNames())}). ` +
        registrationHint(name),
    );
  }
  const selected = name === 'wasm' ? withBrowserWasmCores(() => tf.setBackend(name)) : tf.setBackend(name);
  if (!(await selected)) {
    throw new BackendError(
      `The '${name}' backend is registered but failed to initialise (tfjs printed the cause as a warning above).` +
        (name === 'wasm'
          ? options.wasmPaths === undefined
            ? ' In a browser, pass options.wasmPaths pointing at the served .wasm files.'
            : ` Check that options.wasmPaths (${JSON.stringify(options.wasmPaths)}) points at the .wasm files.`
          : ''),
    );
  }
  await tf.ready();
}

/** Work to do once a backend is ready, whichever path selected it. */
async function afterBackendReady(): Promise<void> {
  // tfjs-core registers no gradient by itself: fill in the missing ones (never replaces any).
  await ensureGradients();
  // The single call site of ckaad's fast convolution-gradient kernels for 'cpu' and 'wasm'
  // (idempotent; covers whichever of the two are registered by now).
  registerFastKernels();
}

function listOrNone(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}
