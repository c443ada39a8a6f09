/**
 * The saved model: everything needed to score images later, as two files in a {@link Storage}
 * (in Node a folder, ckaad/node's `modelFolder(dir)`; in a browser memory, a download, …):
 *
 *   model.json               format, extractor (arch, layers, weights location + SHA-256, or
 *                            'random' + seed), auto-encoder architecture + its file's SHA-256,
 *                            image size, scoring options (σ, top-k, the decision threshold) and
 *                            (optionally) how it was trained
 *   autoencoder.safetensors  the auto-encoder's parameters (float32)
 *
 * The backbone weights are not copied (they are public and large): the model records where
 * they were and their SHA-256, and loading checks the hash.
 */

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { LAYER_NAMES, RESNET_CONFIGS } from '../backbone/configs.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import { createResNetExtractor } from '../backbone/extractor.js';
import type { ResNetExtractorOptions, ResNetFeatureExtractor } from '../backbone/extractor.js';
import { RANDOM_WEIGHTS_GENERATOR } from '../backbone/resnet-weights.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { platform } from '../platform.js';
import { Scorer } from '../scoring/scorer.js';
import { checkSigma, checkTopK } from '../validate.js';
import { isFetchableUrl, readByteSource, sourceName } from './byte-source.js';
import type { ByteSource } from './byte-source.js';
import { sha256 } from './sha256.js';
import { jsonBytes, readJsonRecord } from './storage.js';
import type { Storage } from './storage.js';
import type { EpochLog, TrainingResult } from '../training/history.js';
import { optionsRecord } from '../training/options.js';
import type { CKAADTrainer } from '../training/trainer.js';
import { encodeTensors, loadParameters } from './state-dict.js';

/** Value of the `format` field of model.json. */
export const MODEL_FORMAT = 'ckaad-model';
/** The two files of a saved model. */
export const MODEL_FILE = 'model.json';
const AUTOENCODER_FILE = 'autoencoder.safetensors';

/** Where the backbone's weights come from. */
export type ExtractorWeightsRecord =
  | { kind: 'random'; seed: number; generator?: typeof RANDOM_WEIGHTS_GENERATOR }
  | { kind: 'file'; path: string; sha256: string };

/** A feature extractor, described well enough to rebuild it exactly. */
export interface ExtractorRecord {
  arch: ResNetName;
  layers: LayerName[];
  weights: ExtractorWeightsRecord;
}

/** Scoring options stored with a model (paper eq. 14). */
export interface ScoringRecord {
  /** σ of the Gaussian smoothing of the anomaly maps. */
  sigma: number;
  /** Image score: mean of the top-k map values, or 'mean'. */
  topK: number | 'mean';
  /**
   * Images scoring at or above it are called anomalous: the best-F1 threshold on the
   * validation split at the chosen epoch, or null when there was none.
   */
  threshold: number | null;
}

/** How a model was trained (informative; not needed to score). */
export interface TrainingRecord {
  strategy: string;
  options: Record<string, number | string>;
  epochs: number;
  steps: number;
  best: { epoch: number; auroc: number } | null;
  history: EpochLog[];
}

/** What {@link saveModel} stores. */
export interface ModelToSave {
  /** The extractor the auto-encoder was trained on (see {@link describeExtractor}). */
  extractor: ExtractorRecord;
  /** The trained auto-encoder (read, not disposed). */
  autoencoder: FeatureAutoEncoder;
  /** Side of the square preprocessed images the model expects (e.g. 256). */
  imageSize: number;
  /** Scoring options. Defaults: sigma 4, topK 100, threshold null. */
  scoring?: Partial<ScoringRecord>;
  /** How the model was trained (see {@link trainingRecord}). */
  training?: TrainingRecord;
}

/** Contents of model.json. */
export interface ModelRecord {
  format: typeof MODEL_FORMAT;
  version: 1;
  extractor: ExtractorRecord;
  autoencoder: { backbone: ResNetName; layers: LayerName[]; file: string; sha256: string; parameters: number };
  imageSize: number;
  scoring: ScoringRecord;
  training: TrainingRecord | null;
}

/** A model read by {@link loadModel}: everything a {@link Scorer} needs. Dispose when done. */
export interface LoadedModel {
  /** The rebuilt, hash-checked feature extractor (owned by this object). */
  extractor: ResNetFeatureExtractor;
  /** The trained auto-encoder (owned by this object). */
  autoencoder: FeatureAutoEncoder;
  /** Side of the square preprocessed images the model expects. */
  imageSize: number;
  /** Scoring options to use with it. */
  scoring: ScoringRecord;
  /** The full model.json. */
  record: ModelRecord;
  /** Frees the extractor's and auto-encoder's tensors. */
  dispose(): void;
}

/** SHA-256 of the bytes of `source` (a path is streamed by the platform where it can). */
export async function sha256Of(source: ByteSource): Promise<string> {
  if (typeof source === 'string' && !isFetchableUrl(source) && platform().sha256File !== null) return (platform().sha256File as (path: string) => Promise<string>)(source);
  return sha256(await readByteSource(source, 'source'));
}

/**
 * The record of an extractor built with `createResNetExtractor(options)`: for weights, where
 * they were (an absolute path, a URL, a file name, or `<bytes>`) and their SHA-256; for random
 * weights, the seed.
 */
export async function describeExtractor(options: ResNetExtractorOptions): Promise<ExtractorRecord> {
  const { arch, layers, weights = 'random', seed = 0 } = options;
  const sorted = [...layers].sort((a, b) => LAYER_NAMES.indexOf(a) - LAYER_NAMES.indexOf(b));
  if (weights === 'random') return { arch, layers: sorted, weights: { kind: 'random', seed, generator: RANDOM_WEIGHTS_GENERATOR } };
  const location = typeof weights === 'string' && !isFetchableUrl(weights) ? platform().absolutePath(weights) : sourceName(weights);
  return { arch, layers: sorted, weights: { kind: 'file', path: location, sha256: await sha256Of(weights) } };
}

/** The {@link TrainingRecord} of a finished `trainer.fit(...)`. */
export function trainingRecord(trainer: CKAADTrainer, result: TrainingResult): TrainingRecord {
  return {
    strategy: trainer.options.strategy.name,
    options: optionsRecord(trainer.options),
    epochs: result.epochs,
    steps: result.steps,
    best: result.best,
    history: result.history,
  };
}

/**
 * Saves a trained model to `storage`, all files at once (a crash leaves the previous model or
 * the new one, never a mixture).
 *
 * @example
 * ```ts
 * const extractorOptions = { arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'resnet18.safetensors' } as const;
 * const extractor = await createResNetExtractor(extractorOptions);
 * const trainer = new CKAADTrainer({ extractor });
 * const result = await trainer.fit(data);
 * await saveModel(modelFolder('models/xray'), {            // modelFolder: ckaad/node; anywhere: memoryStorage()
 *   extractor: await describeExtractor(extractorOptions),
 *   autoencoder: result.autoencoder,
 *   imageSize: 256,
 *   scoring: { threshold: result.best?.threshold ?? null },
 *   training: trainingRecord(trainer, result),
 * });
 * ```
 * @throws InvalidArgumentError if the parts disagree (auto-encoder vs. extractor architecture,
 *   bad scoring options, a top-k larger than the image); what `storage.write` throws (e.g.
 *   FileFormatError, or InvalidArgumentError for a folder that may not be replaced).
 */
export async function saveModel(storage: Storage, model: ModelToSave): Promise<void> {
  checkStorage(storage, 'storage');
  const { extractor, autoencoder, imageSize } = model;
  checkExtractorRecord(extractor, 'model.extractor');
  if (!(autoencoder instanceof FeatureAutoEncoder)) {
    throw new InvalidArgumentError('model.autoencoder', 'a FeatureAutoEncoder');
  }
  const ae = autoencoder.options;
  if (ae.backbone !== extractor.arch || ae.layers.join() !== extractor.layers.join()) {
    throw new InvalidArgumentError(
      'model.autoencoder',
      `an auto-encoder for the extractor's ${extractor.arch} [${extractor.layers.join(', ')}]`,
      `one for ${ae.backbone} [${ae.layers.join(', ')}]`,
    );
  }
  FeatureAutoEncoder.validateInputSize(imageSize, [...ae.layers], 'model.imageSize');
  const scoring: ScoringRecord = { sigma: model.scoring?.sigma ?? 4, topK: model.scoring?.topK ?? 100, threshold: model.scoring?.threshold ?? null };
  checkScoring(scoring, 'model.scoring', imageSize);

  const bytes = await encodeTensors(autoencoder.parameters(), { format: MODEL_FORMAT });
  const weights: ExtractorWeightsRecord =
    extractor.weights.kind === 'file' && storage.recordPath !== undefined ? { ...extractor.weights, path: storage.recordPath(extractor.weights.path) } : extractor.weights;
  const record: ModelRecord = {
    format: MODEL_FORMAT,
    version: 1,
    extractor: { ...extractor, weights },
    autoencoder: {
      backbone: ae.backbone,
      layers: [...ae.layers],
      file: AUTOENCODER_FILE,
      sha256: await sha256(bytes),
      parameters: autoencoder.parameterCount(),
    },
    imageSize,
    scoring,
    training: model.training ?? null,
  };
  await storage.write(
    new Map([
      [AUTOENCODER_FILE, bytes],
      [MODEL_FILE, jsonBytes(record)],
    ]),
  );
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * The backbone weights, if they are no longer where model.json says (moved, or given as
   * bytes / a File in a browser). Their SHA-256 must match the recorded one.
   */
  weights?: ByteSource;
}

/**
 * Loads a model saved by {@link saveModel}: rebuilds the extractor (checking the weights'
 * SHA-256) and the auto-encoder (checking its file's SHA-256).
 *
 * @example
 * ```ts
 * const model = await loadModel(modelFolder('models/xray'));
 * const scorer = createScorer(model);
 * const { scores } = await scorer.score(batches);
 * model.dispose();
 * ```
 * @throws FileFormatError for a missing or malformed model.json, a hash mismatch, or unreadable
 *   files (naming `options.weights` when the backbone weights cannot be read where recorded);
 *   WeightsMismatchError if the auto-encoder file does not fit the architecture.
 */
export async function loadModel(storage: Storage, options: LoadModelOptions = {}): Promise<LoadedModel> {
  checkStorage(storage, 'storage');
  const recordPath = `${storage.location}/${MODEL_FILE}`;
  const record = await readModelRecord(storage, recordPath);
  const aePath = `${storage.location}/${record.autoencoder.file}`;
  const aeBytes = await storage.read(record.autoencoder.file);
  if (aeBytes === null) throw new FileFormatError(aePath, 'missing (model.json names it)');
  const aeHash = await sha256(aeBytes);
  if (aeHash !== record.autoencoder.sha256) {
    throw new FileFormatError(aePath, `SHA-256 ${aeHash} differs from ${record.autoencoder.sha256} recorded in model.json (corrupt or replaced file)`);
  }

  const { arch, layers, weights } = record.extractor;
  let extractorOptions: ResNetExtractorOptions;
  if (weights.kind === 'random') {
    if (weights.generator !== RANDOM_WEIGHTS_GENERATOR) {
      throw new FileFormatError(
        recordPath,
        "the backbone's random weights of this model were drawn by the generator of ckaad 0.1, which this version no longer has (its features would differ): train the model again",
      );
    }
    extractorOptions = { arch, layers, weights: 'random', seed: weights.seed };
  } else {
    const source = options.weights ?? (storage.resolvePath === undefined ? weights.path : storage.resolvePath(weights.path));
    let hash: string;
    try {
      hash = await sha256Of(source);
    } catch (e) {
      if (options.weights !== undefined) throw e;
      throw new FileFormatError(
        sourceName(source),
        `cannot read the backbone weights recorded in ${recordPath} (${(e as Error).message.replace(/^.*?: /, '')}); if they moved, pass their new location (options.weights, --weights on the command line)`,
      );
    }
    if (hash !== weights.sha256) {
      throw new FileFormatError(
        sourceName(source),
        `SHA-256 ${hash} differs from ${weights.sha256} recorded in ${recordPath}: not the backbone weights this model was trained with`,
      );
    }
    extractorOptions = { arch, layers, weights: source };
  }
  const autoencoder = new FeatureAutoEncoder({ backbone: record.autoencoder.backbone, layers: [...record.autoencoder.layers] });
  try {
    await loadParameters(autoencoder.parameters(), aeBytes, aePath);
    const extractor = await createResNetExtractor(extractorOptions);
    return {
      extractor,
      autoencoder,
      imageSize: record.imageSize,
      scoring: { ...record.scoring },
      record,
      dispose() {
        extractor.dispose();
        autoencoder.dispose();
      },
    };
  } catch (e) {
    autoencoder.dispose();
    throw e;
  }
}

/**
 * A {@link Scorer} for a loaded model with its stored scoring options (overridable).
 *
 * @example
 * ```ts
 * const scorer = createScorer(await loadModel('models/xray'), { keepMaps: false });
 * ```
 */
export function createScorer(
  model: Pick<LoadedModel, 'extractor' | 'autoencoder' | 'scoring'>,
  overrides: { sigma?: number; topK?: number | 'mean'; keepMaps?: boolean } = {},
): Scorer {
  return new Scorer({
    extractor: model.extractor,
    autoencoder: model.autoencoder,
    sigma: overrides.sigma ?? model.scoring.sigma,
    topK: overrides.topK ?? model.scoring.topK,
    keepMaps: overrides.keepMaps,
  });
}

function checkExtractorRecord(e: ExtractorRecord, where: string): void {
  const ok =
    typeof e === 'object' &&
    e !== null &&
    Object.prototype.hasOwnProperty.call(RESNET_CONFIGS, e.arch) &&
    Array.isArray(e.layers) &&
    e.layers.length > 0 &&
    e.layers.every((l) => LAYER_NAMES.includes(l)) &&
    typeof e.weights === 'object' &&
    e.weights !== null &&
    ((e.weights.kind === 'random' && Number.isInteger(e.weights.seed) && [undefined, RANDOM_WEIGHTS_GENERATOR].includes(e.weights.generator)) ||
      (e.weights.kind === 'file' && typeof e.weights.path === 'string' && /^[0-9a-f]{64}$/.test(e.weights.sha256)));
  if (!ok) {
    throw new InvalidArgumentError(
      where,
      "{ arch, layers, weights: { kind: 'random', seed, generator: 'rng' } | { kind: 'file', path, sha256 } } (see describeExtractor)",
    );
  }
}

function checkScoring(s: ScoringRecord, where: string, imageSize?: number): void {
  checkSigma(s.sigma, `${where}.sigma`);
  checkTopK(s.topK, `${where}.topK`, imageSize === undefined ? undefined : [imageSize, imageSize]);
  if (s.threshold !== null && (typeof s.threshold !== 'number' || !Number.isFinite(s.threshold))) {
    throw new InvalidArgumentError(`${where}.threshold`, 'a finite number or null', String(s.threshold));
  }
}

function checkStorage(storage: Storage, argument: string): void {
  if (typeof storage !== 'object' || storage === null || typeof storage.read !== 'function' || typeof storage.write !== 'function') {
    throw new InvalidArgumentError(argument, 'a Storage { location, read, write } (Node: modelFolder(dir) from ckaad/node; anywhere: memoryStorage())', String(storage));
  }
}

async function readModelRecord(storage: Storage, path: string): Promise<ModelRecord> {
  const record = await readJsonRecord<ModelRecord>(storage, MODEL_FILE, MODEL_FORMAT, 'ckaad model');
  if (record === null) throw new FileFormatError(path, 'missing: is this a model written by saveModel?');
  if (record.version !== 1) {
    throw new FileFormatError(path, `unsupported model version ${String(record.version)} (this ckaad reads version 1)`);
  }
  // Models saved before thresholds were stored have none.
  if (typeof record.scoring === 'object' && record.scoring !== null && record.scoring.threshold === undefined) record.scoring.threshold = null;
  try {
    checkExtractorRecord(record.extractor, 'extractor');
    checkScoring(record.scoring, 'scoring');
  } catch (e) {
    throw new FileFormatError(path, (e as Error).message);
  }
  const ae = record.autoencoder;
  const aeOk =
    typeof ae === 'object' &&
    ae !== null &&
    ae.backbone === record.extractor.arch &&
    Array.isArray(ae.layers) &&
    ae.layers.join() === record.extractor.layers.join() &&
    typeof ae.file === 'string' &&
    /^[\w.-]+$/.test(ae.file) &&
    /^[0-9a-f]{64}$/.test(ae.sha256) &&
    Number.isInteger(record.imageSize);
  if (!aeOk) throw new FileFormatError(path, 'the "autoencoder" or "imageSize" entry is missing, malformed, or disagrees with "extractor"');
  return record;
}
