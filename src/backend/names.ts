/**
 * Backend names, the default choice, and which npm package registers each backend.
 *
 * ckaad ships two backends as dependencies (`cpu`, `wasm`) and loads them lazily.
 * Every other tfjs backend is injected by the user: they install and import the
 * package that registers it, and ckaad only selects it.
 */

/**
 * Name of a TensorFlow.js backend. The five well-known names autocomplete; any other
 * string names a custom backend registered with `tf.registerBackend(name, factory)`.
 */
export type BackendName = 'cpu' | 'wasm' | 'tensorflow' | 'webgl' | 'webgpu' | (string & {});

/** The backends whose packages ckaad depends on and can load by itself. */
export type BundledBackend = 'cpu' | 'wasm';

/**
 * Backend {@link ensureBackend} selects when the application has registered none, in Node and in
 * browsers: 'wasm' (XNNPACK with SIMD: ~30× the pure-JavaScript 'cpu' backend on convolutions;
 * multi-threaded on cross-origin-isolated pages). In Node its `.wasm` binaries are read from the
 * installed @tensorflow/tfjs-backend-wasm, offline. In a browser they must be served: next to the
 * page (or the worker's script), or where `useBackend('wasm', { wasmPaths })` says; when they
 * are not there, {@link ensureBackend} uses 'cpu' instead. Changing the default is a one-line
 * edit here.
 */
export const DEFAULT_BACKEND: BundledBackend = 'wasm';

/**
 * Bundled backends {@link ensureBackend} tries, in this order, after
 * {@link DEFAULT_BACKEND} failed to initialise (the default itself is skipped here):
 * 'cpu' always initialises.
 */
export const FALLBACK_ORDER: readonly BundledBackend[] = ['wasm', 'cpu'];

/** True when running in Node.js (where the wasm binaries are found next to the installed package). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * The bundled backends {@link ensureBackend} tries when the application registered none, in
 * order: {@link DEFAULT_BACKEND}, then the rest of {@link FALLBACK_ORDER} (`['wasm', 'cpu']`),
 * in Node and in browsers alike.
 */
export function defaultCandidates(): BundledBackend[] {
  return [DEFAULT_BACKEND, ...FALLBACK_ORDER.filter((b) => b !== DEFAULT_BACKEND)];
}

/** True for the backends ckaad can import by itself. */
export function isBundledBackend(name: string): name is BundledBackend {
  return name === 'cpu' || name === 'wasm';
}

/**
 * What the user must do to make backend `name` available, e.g.
 * "install @tensorflow/tfjs-node-gpu and `import '@tensorflow/tfjs-node-gpu'`".
 */
export function registrationHint(name: string): string {
  switch (name) {
    case 'tensorflow':
      return (
        "The 'tensorflow' backend is registered by @tensorflow/tfjs-node (CPU) or " +
        '@tensorflow/tfjs-node-gpu (CUDA). Install one of them yourself (same 4.x version as ' +
        "@tensorflow/tfjs-core) and import it before selecting the backend: `import '@tensorflow/tfjs-node-gpu'` " +
        "(or `require('@tensorflow/tfjs-node')`), then `await useBackend('tensorflow')`."
      );
    case 'webgl':
      return (
        "The 'webgl' backend is registered by @tensorflow/tfjs-backend-webgl (browsers only). Install it and " +
        "`import '@tensorflow/tfjs-backend-webgl'` before `await useBackend('webgl')`."
      );
    case 'webgpu':
      return (
        "The 'webgpu' backend is registered by @tensorflow/tfjs-backend-webgpu (browsers with WebGPU). Install it " +
        "and `import '@tensorflow/tfjs-backend-webgpu'` before `await useBackend('webgpu')`."
      );
    default:
      return (
        `Import the package that registers it (it must call tf.registerBackend('${name}', factory) on the ` +
        `same @tensorflow/tfjs-core) before \`await useBackend('${name}')\`.`
      );
  }
}
