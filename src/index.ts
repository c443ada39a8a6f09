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
export { DEFAULT_BACKEND, FALLBACK_ORDER, defaultCandidates, isNode } from './backend/names.js';
export type { BackendName, BundledBackend } from './backend/names.js';
export { WASM_BINARY_NAMES } from './backend/bundled.js';
export type { WasmOptions } from './backend/bundled.js';
export { wasmThreadsStatus, MAX_WASM_THREADS } from './backend/wasm-threads.js';
export type { WasmThreadsStatus } from './backend/wasm-threads.js';
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
export { BaseModule, Sequential } from './nn/module.js';
export type { Module, Layer4D, Step } from './nn/module.js';
export { Rng } from './nn/random.js';
export { Conv2d } from './nn/conv2d.js';
export type { Conv2dOptions, ConvInit } from './nn/conv2d.js';
export { ConvTranspose2d } from './nn/conv-transpose2d.js';
export type { ConvTranspose2dOptions } from './nn/conv-transpose2d.js';
export { InstanceNorm2d, instanceNorm1dRows, INSTANCE_NORM_EPS } from './nn/instance-norm.js';
export type { InstanceNorm2dOptions } from './nn/instance-norm.js';
export { Linear } from './nn/linear.js';
export type { LinearOptions } from './nn/linear.js';
export { relu, leakyRelu, LEAKY_RELU_SLOPE } from './nn/activations.js';
export { kaimingNormalFanOut, pytorchDefaultUniform } from './nn/init.js';
export { FeatureAutoEncoder } from './autoencoder/autoencoder.js';
export type { FeatureAutoEncoderOptions } from './autoencoder/autoencoder.js';
export { resnetMapSizes } from './autoencoder/input-size.js';
export type { Discriminator } from './discriminator/discriminator.js';
export { EnergyDiscriminator, l2NormalizeChannels } from './discriminator/energy-discriminator.js';
export type { EnergyDiscriminatorOptions } from './discriminator/energy-discriminator.js';
export { ImageHead } from './discriminator/image-head.js';
export type { ImageDiscriminatorOptions } from './discriminator/image-head.js';
export { ImageEnergyDiscriminator } from './discriminator/image-energy-discriminator.js';
export { GanDiscriminator } from './discriminator/gan-discriminator.js';

// --- losses ---
export { reconstructionLoss, reconstructionLossPerImage } from './losses/reconstruction.js';
export { reconSubLoss } from './losses/recon_sub.js';
export type { ReconstructionPair } from './losses/recon_sub.js';
export { energyLow, energyHigh } from './losses/energy.js';
export { energyDiscriminatorLoss } from './losses/energy_discriminator.js';
export type { DiscriminatorEnergies, EnergyLossOptions } from './losses/energy_discriminator.js';
export { energyGeneratorLoss } from './losses/energy_generator.js';
export { ganDiscriminatorLoss } from './losses/gan_discriminator.js';
export { ganGeneratorLoss } from './losses/gan_generator.js';

// --- scoring ---
export { anomalyMaps } from './scoring/anomaly_maps.js';
export { gaussianBlur, gaussianKernel1d, gaussianRadius } from './scoring/gaussian_blur.js';
export { imageScores } from './scoring/image_scores.js';
export { Scorer } from './scoring/scorer.js';
export type { ScorerOptions, ScoreResult, MapExtractor, MapReconstructor } from './scoring/scorer.js';

// --- training ---
export { CKAADTrainer } from './training/trainer.js';
export type { TrainerModel, TrainingData, FitCallbacks } from './training/trainer.js';
export { resolveTrainerOptions, optionsRecord, TRAINER_DEFAULTS } from './training/options.js';
export type { TrainerOptions, ResolvedTrainerOptions } from './training/options.js';
export { tensorDataset, isRandomDataset } from './training/dataset.js';
export type { ImageDataset, ValidationSet } from './training/dataset.js';
export { leanVariableGrads, untaped } from './training/lean-gradients.js';
export type { VariableGrads } from './training/lean-gradients.js';
export {
  FeatureStore,
  CacheBudget,
  resolveFeatureCacheOptions,
  DEFAULT_CACHE_MEMORY_BYTES,
  floatToHalf,
  halfToFloat,
  encodeHalves,
  decodeHalves,
} from './training/feature-cache.js';
export type {
  FeatureCacheOptions,
  ResolvedFeatureCacheOptions,
  FeatureDtype,
  FeatureStoreStats,
  MapShape,
  SpillFileSystem,
  SpillTarget,
} from './training/feature-cache.js';
export { createFeatureProvider, FeatureProvider } from './training/features.js';
export type { BatchFeatures, FeatureProviderOptions, FeatureProviderStats, WorkerOption } from './training/features.js';
export { FeatureWorker, defaultWorkerFile } from './training/worker-client.js';
export type { FeatureWorkerOptions, WorkerFeatures } from './training/worker-client.js';
export type { DatasetRecipe, DatasetName } from './training/worker-protocol.js';
export { Recon, ReconSub, GAN, CKAImg, CKAPatch, STRATEGIES, energyAdversary } from './training/strategies.js';
export type {
  Strategy,
  Adversary,
  LossWeights,
  DiscriminatorContext,
  DiscriminatorOutputs,
  ReconstructionTerms,
} from './training/strategies.js';
export { composeDiscriminators } from './training/compose.js';
export { clipByGlobalNorm } from './training/clip.js';
export { AnomalyCycler, epochBatches } from './training/batches.js';
export type { AnomalyCyclerState } from './training/batches.js';
export type { StepLog, EpochLog, TrainingResult } from './training/history.js';
export { readCheckpoint, CHECKPOINT_FILE, CHECKPOINT_FORMAT } from './training/checkpoint.js';
export type { CheckpointState } from './training/checkpoint.js';
export {
  saveModel,
  loadModel,
  createScorer,
  describeExtractor,
  trainingRecord,
  sha256File,
  MODEL_FORMAT,
} from './training/model.js';
export type {
  ModelToSave,
  LoadedModel,
  ModelRecord,
  ExtractorRecord,
  ExtractorWeightsRecord,
  ScoringRecord,
  TrainingRecord,
} from './training/model.js';

// --- data ---
export { resizeBilinear } from './data/resize.js';
export type { Uint8Image } from './data/resize.js';
export { decodeImage, decodeMask, readImageSize, sniffImageFormat } from './data/images.js';
export type { ImageSource, ImageFormat, Resizer, DecodedPixels, DecodeImageOptions, DecodeMaskOptions } from './data/images.js';
export { decodeBmp } from './data/bmp.js';
export { labelFor } from './data/dataset.js';
export type { Label, LabelledItem, ImageSample, DatasetDescription } from './data/dataset.js';
export { IMAGE_EXTENSIONS } from './data/files.js';
export { readMvtec, MVTEC_AD_CATEGORIES, MVTEC_GOOD } from './data/mvtec.js';
export type { MvtecOptions } from './data/mvtec.js';
export { readVisa, VISA_CATEGORIES } from './data/visa.js';
export type { VisaOptions } from './data/visa.js';
export { readClassFolders } from './data/class-folders.js';
export type { ClassFoldersOptions } from './data/class-folders.js';
export { readChestXray, CHEST_XRAY_CLASSES } from './data/chest-xray.js';
export type { ChestXrayOptions } from './data/chest-xray.js';
export { readOct2017, OCT2017_CLASSES } from './data/oct.js';
export type { Oct2017Options } from './data/oct.js';
export { readBr35h, BR35H_CLASSES } from './data/br35h.js';
export type { Br35hOptions } from './data/br35h.js';
export { readIsic2018, ISIC2018_CLASSES } from './data/isic.js';
export type { Isic2018Options } from './data/isic.js';
export { readIdxDataset, readIdxImages, readIdxLabels, idxPixels, FASHION_MNIST_CLASSES, MNIST_CLASSES } from './data/idx.js';
export type { IdxDataset, IdxDatasetOptions, IdxImages, IdxSample } from './data/idx.js';
export { readFolderDataset, FOLDER_NORMAL } from './data/folder.js';
export { verifyDataset } from './data/verify.js';
export type { DatasetProblem, VerifyReport } from './data/verify.js';
export { decodeStream, batchStream, loadImages, pixelsToTensor, preprocessBatch, masksToTensor } from './data/stream.js';
export type { StreamSource, DecodeStreamOptions, DecodedItem, SkippedImage, DecodeSummary, PixelBatch } from './data/stream.js';
export { pixelDataset, elasticDataset } from './data/pixel-dataset.js';
export type { PixelStack } from './data/pixel-dataset.js';
export { sampleProtocol, labelledAnomalyCount } from './data/protocol.js';
export type { ProtocolOptions, ProtocolSplit } from './data/protocol.js';
export {
  elasticTransform,
  elasticTransformPixels,
  elasticDisplacement,
  applyDisplacement,
  elasticKernelSize,
  ElasticAnomalies,
} from './data/elastic.js';
export type { ElasticOptions, Displacement } from './data/elastic.js';
export {
  generateSyntheticDefects,
  renderSyntheticSample,
  SYNTHETIC_CLASSES,
  SYNTHETIC_DEFECTS,
} from './data/synthetic.js';
export type { SyntheticClass, SyntheticDefect, SyntheticSample, SyntheticOptions, SyntheticSummary } from './data/synthetic.js';

// --- experiment ---
export * from './experiment/index.js';
