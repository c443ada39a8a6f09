/**
 * ckaad — weakly-supervised visual anomaly detection with Coarse-Knowledge-Aware
 * Adversarial learning (CKAAD, AAAI 2025) on TensorFlow.js.
 *
 * This entry is universal: it runs in Node, browsers and web workers, and imports no Node
 * built-in. It builds, trains, saves, loads, scores and evaluates models. Files, folders,
 * dataset layouts and worker threads are in `ckaad/node`; metrics in `ckaad/metrics`; layers,
 * losses and discriminator parts for custom strategies in `ckaad/nn`.
 *
 * @packageDocumentation
 */

// --- errors ---
export {
  CkaadError,
  InvalidArgumentError,
  ShapeMismatchError,
  FileFormatError,
  WeightsMismatchError,
  BackendError,
  NodeOnlyError,
} from './errors.js';
export type { WeightProblem } from './errors.js';

// --- backend ---
export { useBackend, ensureBackend, activeBackend } from './backend/select.js';
export type { UseBackendOptions } from './backend/select.js';
export type { BackendName } from './backend/names.js';
export type { WasmOptions } from './backend/bundled.js';
export { wasmThreadsStatus } from './backend/wasm-status.js';
export type { WasmThreadsStatus } from './backend/wasm-status.js';
export { backendInfo } from './backend/info.js';
export type { BackendInfo } from './backend/info.js';

// --- backbone ---
export { createResNetExtractor, extractorFromFunction } from './backbone/extractor.js';
export type {
  FeatureExtractor,
  ResNetFeatureExtractor,
  ResNetExtractorOptions,
  FeatureFunction,
  FunctionExtractorOptions,
  ExecutableModel,
  PredictableModel,
} from './backbone/extractor.js';
export type { ResNetName, LayerName } from './backbone/configs.js';
export { preprocessImages } from './backbone/preprocess.js';
export type { PreprocessOptions } from './backbone/preprocess.js';

// --- networks ---
export { FeatureAutoEncoder } from './autoencoder/autoencoder.js';
export type { FeatureAutoEncoderOptions } from './autoencoder/autoencoder.js';
export { EnergyDiscriminator } from './discriminator/energy-discriminator.js';
export type { EnergyDiscriminatorOptions } from './discriminator/energy-discriminator.js';
export { ImageEnergyDiscriminator } from './discriminator/image-energy-discriminator.js';
export { GanDiscriminator } from './discriminator/gan-discriminator.js';
export type { ImageDiscriminatorOptions } from './discriminator/image-head.js';
export type { Discriminator } from './discriminator/discriminator.js';

// --- training ---
export { Recon, ReconSub, GAN, CKAImg, CKAPatch, STRATEGIES } from './training/strategies.js';
export type {
  Strategy,
  Adversary,
  LossWeights,
  DiscriminatorContext,
  DiscriminatorOutputs,
  ReconstructionTerms,
} from './training/strategies.js';
export { CKAADTrainer } from './training/trainer.js';
export type { TrainerModel, TrainingData, FitCallbacks } from './training/trainer.js';
export type { TrainerOptions, ResolvedTrainerOptions } from './training/options.js';
export type { AnomalyShuffle } from './training/batches.js';
export type { FeatureCacheOptions, FeatureDtype } from './features/cache.js';
export type { WorkerOption, FeatureProviderStats } from './features/provider.js';
export type { StepLog, EpochLog, TrainingResult } from './training/history.js';
export { readCheckpointProgress } from './training/checkpoint.js';
export type { CheckpointProgress } from './training/checkpoint.js';

// --- data ---
export { tensorDataset } from './data/image-dataset.js';
export type { ImageDataset, ValidationSet, PixelStack, DatasetRecipe } from './data/image-dataset.js';
export { pixelDataset, elasticDataset } from './data/pixel-dataset.js';
export type { ElasticOptions } from './data/elastic.js';
export { toPixelStack } from './data/pixel-stack.js';
export type { ImageBytes } from './data/pixel-stack.js';
export { sampleProtocol } from './data/sampler.js';
export type { ProtocolOptions, ProtocolSplit } from './data/sampler.js';
export type { Label, LabelledItem } from './data/labelled.js';
export { renderSyntheticSample } from './data/synthetic.js';
export type { SyntheticClass, SyntheticDefect, SyntheticSample } from './data/synthetic.js';

// --- scoring ---
export { Scorer } from './scoring/scorer.js';
export type { ScorerOptions, ScoreResult, MapExtractor, MapReconstructor } from './scoring/scorer.js';

// --- saving and loading ---
export { saveModel, loadModel, createScorer, describeExtractor, trainingRecord } from './io/saved-model.js';
export type {
  ModelToSave,
  LoadedModel,
  LoadModelOptions,
  ModelRecord,
  ExtractorRecord,
  ExtractorWeightsRecord,
  ScoringRecord,
  TrainingRecord,
} from './io/saved-model.js';
export { memoryStorage } from './io/storage.js';
export type { Storage, MemoryStorage } from './io/storage.js';
export type { ByteSource } from './io/byte-source.js';
export { readSafetensors, encodeSafetensors } from './io/safetensors.js';
export type { SafetensorsReader, SafetensorsDtype, SafetensorsTensorInfo, SafetensorsTensor, SafetensorsTensorInput } from './io/safetensors.js';
