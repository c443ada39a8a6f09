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
export { RESNET_CONFIGS, LAYER_NAMES, STAGE_PLANES, STAGE_STRIDES, stageChannels } from './backbone/configs.js';
export type { ResNetName, LayerName, ResNetConfig } from './backbone/configs.js';
export { createResNetExtractor, ResNetFeatureExtractor, extractorFromFunction } from './backbone/extractor.js';
export type {
  FeatureExtractor,
  ResNetExtractorOptions,
  FeatureFunction,
  ExecutableModel,
  PredictableModel,
  FunctionExtractorOptions,
} from './backbone/extractor.js';
export { preprocessImages, IMAGENET_MEAN, IMAGENET_STD } from './backbone/preprocess.js';
export type { PreprocessOptions } from './backbone/preprocess.js';
export { resnetWeightSpecs, resnetLayout, isIgnoredWeight, BN_EPS } from './backbone/weights.js';
export type { WeightSpec, ResNetLayout, ConvBnSpec, BlockSpec } from './backbone/weights.js';
export { readSafetensors, encodeSafetensors, writeSafetensors, SafetensorsReader } from './data/safetensors.js';
export type {
  SafetensorsDtype,
  SafetensorsTensorInfo,
  SafetensorsTensor,
  SafetensorsTensorInput,
} from './data/safetensors.js';

// --- metrics ---
export * from './metrics/index.js';

// --- nn / autoencoder / discriminator ---

// --- losses ---

// --- scoring ---

// --- training ---

// --- data ---

