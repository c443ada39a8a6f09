/**
 * ckaad — weakly-supervised visual anomaly detection with Coarse-Knowledge-Aware
 * Adversarial learning (CKAAD, AAAI 2025) on TensorFlow.js.
 *
 * @packageDocumentation
 */

export * from './errors.js';

// --- backend ---
export { useBackend, ensureBackend, activeBackend } from './backend/select.js';
export type { UseBackendOptions } from './backend/select.js';
export { DEFAULT_BACKEND, FALLBACK_ORDER } from './backend/names.js';
export type { BackendName, BundledBackend } from './backend/names.js';
export { WASM_BINARY_NAMES } from './backend/bundled.js';
export type { WasmOptions } from './backend/bundled.js';
export { backendInfo } from './backend/info.js';
export { ensureGradients } from './backend/gradients.js';
export type { BackendInfo, TfEngine } from './backend/info.js';
export { registerFastKernels, restoreOriginalKernels, fastKernelNames, fastKernelsFor } from './backend/kernels/index.js';

// --- backbone ---

// --- metrics ---
export * from './metrics/index.js';

// --- nn / autoencoder / discriminator ---

// --- losses ---

// --- scoring ---

// --- training ---

// --- data ---

