/**
 * tfjs-backend-wasm's multi-threaded build (XNNPACK with a thread pool, SIMD) in Node: the
 * platform's `installThreadedWasm` hook (src/platform.ts), which the core's wasm loader calls.
 *
 * tfjs alone runs the wasm backend on one thread in Node, for three reasons, each handled here:
 *
 * 1. its `WASM_HAS_MULTITHREAD_SUPPORT` flag is false whenever `IS_NODE` (tfjs#3830), so it
 *    never picks the threaded binary: we start that binary ourselves, from the Emscripten
 *    glue the package ships in `wasm-out/`, and hand the module to the package's own
 *    `BackendWasm` class (whose kernels are already registered under 'wasm');
 * 2. its browser loader gives Emscripten `blob:` URLs for the pthread worker script and the
 *    main script, which `node:worker_threads` cannot start: here the glue's `Worker` is a
 *    `worker_threads` eval worker running the package's worker script (`wasmWorkerContents`),
 *    and the main script is the glue file's own path;
 * 3. once started, the C++ side caps the pool at `emscripten_num_logical_cores() / 2`
 *    threads (tfjs-backend-wasm/src/cc/backend.cc: `num_cores`, meant for hyper-threaded
 *    desktops), whatever `setThreadsCount` asked — on a 2-core machine that is one thread,
 *    which is why a forced threaded build still reported `get_threads_count() == 1`. The
 *    glue reads that count from `require('os').cpus().length` in Node; its `require` here
 *    answers for 'os' with a count of twice the threads wanted, so the cap is the request.
 *
 * The glue also pre-starts 8 pthread workers (PTHREAD_POOL_SIZE) and keeps each running
 * pthread's worker referenced, which would keep Node from exiting: after start-up the
 * workers XNNPACK does not use are terminated and its own ones unreferenced (they only
 * ever run while the main thread waits for them inside a kernel).
 */

import type * as WasmPackage from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

import { recordWasmThreads } from '../backend/wasm-status.js';
import type { ThreadedWasmOptions, WasmPackageModule } from '../backend/wasm-status.js';
import { BackendError } from '../errors.js';

/** Name of the threaded binary, also a key of a `wasmPaths` record. */
const THREADED_BINARY = 'tfjs-backend-wasm-threaded-simd.wasm';

/** How long the threaded build may take to start before the single-threaded one is used. */
const START_TIMEOUT_MS = 60_000;

/** The parts of node:worker_threads' Worker the Emscripten glue and this file use. */
interface GlueWorker {
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** The parts of the Emscripten module used here (the rest is BackendWasm's business). */
interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => unknown;
  PThread: { runningWorkers: GlueWorker[]; unusedWorkers: GlueWorker[]; terminateAllThreads(): void };
}

interface FactoryConfig {
  locateFile(path: string, prefix: string): string;
  mainScriptUrlOrBlob: string;
}

type ThreadedFactory = (config: FactoryConfig) => Promise<ThreadedModule>;

type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

// Our factory keeps the one it replaced under this key.
const SINGLE_THREADED = Symbol('ckaad.backend.wasmSingleThreaded');

interface MarkedFactory extends BackendFactory {
  [SINGLE_THREADED]?: BackendFactory;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  return (text ?? String(err)).split('\n')[0].slice(0, 200);
}

/**
 * Starts the threaded build with `options.threads` XNNPACK threads and returns a BackendWasm
 * on it (not registered; see {@link installThreadedWasm}).
 *
 * @throws BackendError when it cannot start (no SharedArrayBuffer, files missing, a worker
 *   failing, or no answer within `timeoutMs`); every worker it started is terminated then.
 */
export async function startThreadedWasm(pkg: WasmPackageModule, options: ThreadedWasmOptions): Promise<WasmPackage.BackendWasm> {
  const { threads } = options;
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new BackendError('SharedArrayBuffer is not available in this process');
  }
  const [{ createRequire }, path, fs, vm, os, { Worker }, { fileURLToPath }] = await Promise.all([
    import('node:module'),
    import('node:path'),
    import('node:fs'),
    import('node:vm'),
    import('node:os'),
    import('node:worker_threads'),
    import('node:url'),
  ]);
  // CommonJS build: __filename; ESM build (and tests from source): import.meta.url.
  const here = typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
  const require = createRequire(here);
  const packageDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const glueFile = path.join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const workerFile = path.join(packageDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  const glue = fs.readFileSync(glueFile, 'utf8');
  const { wasmWorkerContents } = require(workerFile) as { wasmWorkerContents?: unknown };
  if (typeof wasmWorkerContents !== 'string') {
    throw new BackendError(`${workerFile} does not export the pthread worker script (wasmWorkerContents)`);
  }
  // The script's string literals hold "\n" escapes that the template literal turned into
  // newlines; put the escapes back (tfjs's own loader does the same before making a Blob).
  const workerScript = wasmWorkerContents.replace(/\n/g, '\\n');

  const started: GlueWorker[] = [];
  // A failing pthread worker: the glue's own `onerror` rethrows, which would crash the
  // process; ours rejects the start instead (and, once started, prints one line).
  let isRunning = false;
  let failWorker: (err: unknown) => void = () => undefined;
  const workerFailed = new Promise<never>((_, reject) => {
    failWorker = reject;
  });
  workerFailed.catch(() => undefined); // settled through Promise.race below, or never awaited
  const onWorkerError = (err: unknown): void => {
    if (isRunning) console.warn(`ckaad: a thread of the wasm backend failed: ${firstLine(err)}`);
    else failWorker(new BackendError(`a pthread worker failed: ${firstLine(err)}`));
  };
  class EvalWorker extends Worker {
    constructor() {
      super(workerScript, { eval: true });
      started.push(this);
      Object.defineProperty(this, 'onerror', { get: () => onWorkerError, set: () => undefined });
    }
  }
  // See point 3 above: the pool is capped at half the logical cores the glue sees.
  const logicalCores = new Array<ReturnType<typeof os.cpus>[number]>(2 * threads).fill(os.cpus()[0]);
  const osForGlue: typeof os = { ...os, cpus: () => logicalCores };
  const glueRequire = (id: string): unknown => (id === 'os' ? osForGlue : require(id));
  const moduleShim: { exports: unknown } = { exports: {} };
  // The glue is a CommonJS file: run it as one, with `Worker` (and the `global` it assigns
  // `Worker` to) bound to our own values, so that the process's globals stay untouched.
  const params = ['require', 'module', 'exports', '__filename', '__dirname', 'Worker', 'global'];
  vm.compileFunction(glue, params, { filename: glueFile })(
    glueRequire,
    moduleShim,
    moduleShim.exports,
    glueFile,
    path.dirname(glueFile),
    EvalWorker,
    {},
  );
  const factory = moduleShim.exports as ThreadedFactory;
  if (typeof factory !== 'function') throw new BackendError(`${glueFile} did not export the module factory`);

  const { wasmPaths } = options;
  const binary =
    wasmPaths === undefined
      ? path.join(path.dirname(glueFile), THREADED_BINARY)
      : typeof wasmPaths === 'string'
        ? wasmPaths + THREADED_BINARY
        : wasmPaths[THREADED_BINARY];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let module: ThreadedModule;
  try {
    const timeout = new Promise<never>((_, reject) => {
      const ms = options.timeoutMs ?? START_TIMEOUT_MS;
      timer = setTimeout(() => reject(new BackendError(`no answer within ${ms} ms`)), ms);
    });
    module = await Promise.race([
      factory({
        locateFile: (file) => (file.endsWith('.wasm') ? binary : path.join(path.dirname(glueFile), file)),
        mainScriptUrlOrBlob: glueFile,
      }),
      timeout,
      workerFailed,
    ]);
    isRunning = true;
  } catch (err) {
    await Promise.all(started.map((w) => w.terminate()));
    throw err instanceof BackendError ? err : new BackendError(firstLine(err));
  } finally {
    clearTimeout(timer);
  }
  // As tfjs's own loader: the bridge BackendWasm expects under `module.tfjs`.
  const tfjsBridge = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  Object.assign(module, { tfjs: tfjsBridge });
  pkg.setThreadsCount(threads);
  // The constructor creates XNNPACK's pool (threads − 1 pthreads, from the pre-started workers).
  const backend = new pkg.BackendWasm(module as unknown as ConstructorParameters<typeof pkg.BackendWasm>[0]);
  for (const worker of module.PThread.unusedWorkers) void worker.terminate();
  module.PThread.unusedWorkers = [];
  for (const worker of module.PThread.runningWorkers) worker.unref();
  return backend;
}

/**
 * Replaces the registered 'wasm' backend factory (the package's, which must be registered
 * and not yet initialised) by one that starts the threaded build with `options.threads`
 * threads and, when that fails, prints one line saying why and runs the package's own
 * single-threaded factory instead. The package's kernels stay registered as they are.
 *
 * @throws BackendError if no 'wasm' factory is registered or wasm is already initialised.
 */
export function installThreadedWasm(pkg: WasmPackageModule, options: ThreadedWasmOptions): void {
  const engine = tf.engine();
  const registered = engine.registryFactory['wasm'];
  if (registered === undefined || engine.registry['wasm'] !== undefined) {
    throw new BackendError("installThreadedWasm needs a registered, not yet initialised 'wasm' backend");
  }
  // Installed before (e.g. its initialisation failed and options are given again): wrap the
  // package's factory again, not our wrapper.
  const singleThreaded = (registered.factory as MarkedFactory)[SINGLE_THREADED] ?? registered.factory;
  const threaded: MarkedFactory = Object.assign(
    async () => {
      try {
        const backend = await startThreadedWasm(pkg, options);
        recordWasmThreads({ requested: options.threads, threads: pkg.getThreadsCount(), fallback: null });
        return backend;
      } catch (err) {
        const reason = firstLine(err);
        console.warn(`ckaad: the multi-threaded wasm backend did not start (${reason}); using one thread.`);
        pkg.setThreadsCount(1);
        const backend = await singleThreaded();
        recordWasmThreads({ requested: options.threads, threads: 1, fallback: reason });
        return backend;
      }
    },
    { [SINGLE_THREADED]: singleThreaded },
  );
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', threaded, registered.priority);
}
