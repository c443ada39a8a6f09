/**
 * The saved model: one directory with everything needed to score images later.
 *
 *   <dir>/
 *     model.json               format, extractor (arch, layers, weights file + SHA-256, or
 *                              'random' + seed), auto-encoder architecture + its file's SHA-256,
 *                              image size, scoring options, and (optionally) how it was trained
 *     autoencoder.safetensors  the auto-encoder's parameters (float32)
 *
 * The backbone weights are not copied (they are public and large): the model records their
 * path and SHA-256, and loading checks the hash. The directory is written into a temporary
 * sibling and renamed into place, so `dir` is either absent, the complete old model, or the
 * complete new one.
 */

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { LAYER_NAMES, RESNET_CONFIGS } from '../backbone/configs.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import { createResNetExtractor } from '../backbone/extractor.js';
import type { ResNetExtractorOptions, ResNetFeatureExtractor } from '../backbone/extractor.js';
import { encodeSafetensors } from './safetensors.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { Scorer } from '../scoring/scorer.js';
import { folderState, nodeModules, writeFileAtomic } from '../node/atomic.js';
import type { EpochLog, TrainingResult } from '../training/history.js';
import { optionsRecord } from '../training/options.js';
import type { CKAADTrainer } from '../training/trainer.js';
import { loadParameters, toSafetensorsRecord } from './state-dict.js';

/** Value of the `format` field of model.json. */
export const MODEL_FORMAT = 'ckaad-model';

/** Where the backbone's weights come from. */
export type ExtractorWeightsRecord =
  | { kind: 'random'; seed: number }
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
  /** Scoring options. Defaults: sigma 4, topK 100. */
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

/** SHA-256 of a file, hex, streamed (large weight files are never held in memory). */
export async function sha256File(path: string): Promise<string> {
  const { stream, crypto } = await nodeModules();
  const hash = crypto.createHash('sha256');
  try {
    for await (const chunk of stream.createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new FileFormatError(path, `cannot read file (${(e as Error).message})`);
  }
  return hash.digest('hex');
}

/**
 * The record of an extractor built with `createResNetExtractor(options)`: for a weights file,
 * its absolute path and SHA-256; for random weights, the seed.
 *
 * @throws InvalidArgumentError for weights given as bytes (there is no path to record).
 */
export async function describeExtractor(options: ResNetExtractorOptions): Promise<ExtractorRecord> {
  const { arch, layers, weights = 'random', seed = 0 } = options;
  const sorted = [...layers].sort((a, b) => LAYER_NAMES.indexOf(a) - LAYER_NAMES.indexOf(b));
  if (weights === 'random') return { arch, layers: sorted, weights: { kind: 'random', seed } };
  if (typeof weights !== 'string') {
    throw new InvalidArgumentError('options.weights', "a file path or 'random' (a saved model records the weights' path)", 'bytes');
  }
  const path = (await nodeModules()).path.resolve(weights);
  return { arch, layers: sorted, weights: { kind: 'file', path, sha256: await sha256File(path) } };
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

/** The file and format that mark a folder as a saved ckaad model. */
export const MODEL_MARKER = { file: 'model.json', formats: [MODEL_FORMAT] } as const;

/**
 * Checks that a model may be written to `target`: it does not exist, is an empty folder, or
 * (with `overwrite`) is a ckaad model folder. Any other folder, `.` or a dataset root among
 * them, is refused whatever `overwrite` says: ckaad never deletes a folder of the user's files.
 *
 * @param argument The option `target` came from, for the error (e.g. `'dir'`, `'--model'`).
 * @param overwriteHint How the caller asks for overwriting (e.g. `'--overwrite'`).
 * @param ErrorType The error class to throw (an {@link InvalidArgumentError} or a subclass).
 * @throws InvalidArgumentError (or `ErrorType`) naming `argument` and `target`.
 */
export async function checkModelTarget(
  target: string,
  overwrite: boolean,
  argument: string,
  overwriteHint: string,
  ErrorType: typeof InvalidArgumentError = InvalidArgumentError,
): Promise<void> {
  const state = await folderState(target, MODEL_MARKER);
  if (state === 'file') throw new ErrorType(argument, 'a folder to save the model in', `${target} (a file)`);
  if (state === 'foreign') {
    throw new ErrorType(
      argument,
      'a new or empty folder, or a ckaad model folder to replace; ckaad never deletes a folder that holds other files',
      `${target} (holds files and no ckaad model.json)`,
    );
  }
  if (state === 'ours' && !overwrite) {
    throw new ErrorType(argument, `a folder where no model exists yet (or ${overwriteHint} to replace the model)`, `${target} (a ckaad model)`);
  }
}

/**
 * Saves a trained model as one directory, atomically (temporary sibling + rename).
 *
 * @example
 * ```ts
 * const extractorOptions = { arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'resnet18.safetensors' } as const;
 * const extractor = await createResNetExtractor(extractorOptions);
 * const trainer = new CKAADTrainer({ extractor });
 * const result = await trainer.fit(data);
 * await saveModel('models/xray', {
 *   extractor: await describeExtractor(extractorOptions),
 *   autoencoder: result.autoencoder,
 *   imageSize: 256,
 *   training: trainingRecord(trainer, result),
 * });
 * ```
 * @param options.overwrite Replace an existing ckaad model at `dir`. Default false. An empty folder
 *   is always used; a folder of other files is never replaced.
 * @throws InvalidArgumentError if `dir` is a ckaad model and `overwrite` is false, if it is a file or a
 *   folder holding anything but a ckaad model (never replaced, whatever `overwrite` says), or the parts disagree
 *   (auto-encoder vs. extractor architecture, bad scoring options); FileFormatError if writing fails.
 */
export async function saveModel(dir: string, model: ModelToSave, options: { overwrite?: boolean } = {}): Promise<void> {
  const { extractor, autoencoder, imageSize } = model;
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('dir', 'a directory path', String(dir));
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
  FeatureAutoEncoder.validateInputSize(imageSize, [...ae.layers]);
  const scoring: ScoringRecord = { sigma: model.scoring?.sigma ?? 4, topK: model.scoring?.topK ?? 100 };
  checkScoring(scoring, 'model.scoring');

  const { fs, path, crypto } = await nodeModules();
  const { basename, dirname, join } = path;
  const target = path.resolve(dir);
  await checkModelTarget(target, options.overwrite === true, 'dir', 'options.overwrite: true');
  const bytes = encodeSafetensors(await toSafetensorsRecord(autoencoder.parameters()), { format: MODEL_FORMAT });
  const record: ModelRecord = {
    format: MODEL_FORMAT,
    version: 1,
    extractor,
    autoencoder: {
      backbone: ae.backbone,
      layers: [...ae.layers],
      file: 'autoencoder.safetensors',
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      parameters: autoencoder.parameterCount(),
    },
    imageSize,
    scoring,
    training: model.training ?? null,
  };

  const suffix = crypto.randomBytes(6).toString('hex');
  const staging = join(dirname(target), `.${basename(target)}.${suffix}.tmp`);
  try {
    await fs.mkdir(staging, { recursive: true });
    await writeFileAtomic(join(staging, record.autoencoder.file), bytes);
    await writeFileAtomic(join(staging, 'model.json'), JSON.stringify(record, null, 2) + '\n');
    if ((await folderState(target, MODEL_MARKER)) !== 'absent') {
      // Swap: the old model moves aside, the new one takes its name, the old one is deleted.
      const old = join(dirname(target), `.${basename(target)}.${suffix}.old`);
      await fs.rename(target, old);
      await fs.rename(staging, target);
      await fs.rm(old, { recursive: true, force: true });
    } else {
      await fs.rename(staging, target);
    }
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true });
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(target, `cannot write model (${(e as Error).message})`);
  }
}

/**
 * Loads a model saved by {@link saveModel}: rebuilds the extractor (checking the weights
 * file's SHA-256) and the auto-encoder (checking its file's SHA-256).
 *
 * @example
 * ```ts
 * const model = await loadModel('models/xray');
 * const scorer = createScorer(model);
 * const { scores } = await scorer.score(batches);
 * model.dispose();
 * ```
 * @param options.extractorWeights Where the backbone weights file is now, if it moved since
 *   saving (its SHA-256 must still match).
 * @throws FileFormatError for a missing or malformed model.json, a hash mismatch, or unreadable
 *   files; WeightsMismatchError if the auto-encoder file does not fit the architecture.
 */
export async function loadModel(dir: string, options: { extractorWeights?: string } = {}): Promise<LoadedModel> {
  const { fs, path, crypto } = await nodeModules();
  const recordPath = path.join(dir, 'model.json');
  const record = await readModelRecord(recordPath);
  const aePath = path.join(dir, record.autoencoder.file);
  let aeBytes: Uint8Array;
  try {
    aeBytes = await fs.readFile(aePath);
  } catch (e) {
    throw new FileFormatError(aePath, `cannot read file (${(e as Error).message})`);
  }
  const aeHash = crypto.createHash('sha256').update(aeBytes).digest('hex');
  if (aeHash !== record.autoencoder.sha256) {
    throw new FileFormatError(aePath, `SHA-256 ${aeHash} differs from ${record.autoencoder.sha256} recorded in model.json (corrupt or replaced file)`);
  }

  const { arch, layers, weights } = record.extractor;
  let extractorOptions: ResNetExtractorOptions;
  if (weights.kind === 'random') {
    extractorOptions = { arch, layers, weights: 'random', seed: weights.seed };
  } else {
    const path = options.extractorWeights ?? weights.path;
    const hash = await sha256File(path);
    if (hash !== weights.sha256) {
      throw new FileFormatError(
        path,
        `SHA-256 ${hash} differs from ${weights.sha256} recorded in ${recordPath}: not the backbone weights this model was trained with`,
      );
    }
    extractorOptions = { arch, layers, weights: path };
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
    ((e.weights.kind === 'random' && Number.isInteger(e.weights.seed)) ||
      (e.weights.kind === 'file' && typeof e.weights.path === 'string' && /^[0-9a-f]{64}$/.test(e.weights.sha256)));
  if (!ok) {
    throw new InvalidArgumentError(
      where,
      "{ arch, layers, weights: { kind: 'random', seed } | { kind: 'file', path, sha256 } } (see describeExtractor)",
    );
  }
}

function checkScoring(s: ScoringRecord, where: string): void {
  if (typeof s.sigma !== 'number' || !Number.isFinite(s.sigma) || s.sigma < 0) {
    throw new InvalidArgumentError(`${where}.sigma`, 'a finite number ≥ 0', String(s.sigma));
  }
  if (s.topK !== 'mean' && !(Number.isInteger(s.topK) && s.topK >= 1)) {
    throw new InvalidArgumentError(`${where}.topK`, "an integer ≥ 1 or 'mean'", String(s.topK));
  }
}

async function readModelRecord(path: string): Promise<ModelRecord> {
  const { fs, path: p } = await nodeModules();
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new FileFormatError(path, `cannot read file (${(e as Error).message}); is this a directory written by saveModel?`);
  }
  let record: ModelRecord;
  try {
    record = JSON.parse(text) as ModelRecord;
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof record !== 'object' || record === null || record.format !== MODEL_FORMAT) {
    throw new FileFormatError(path, `not a ckaad model (expected "format": "${MODEL_FORMAT}")`);
  }
  if (record.version !== 1) {
    throw new FileFormatError(path, `unsupported model version ${String(record.version)} (this ckaad reads version 1)`);
  }
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
    p.basename(ae.file) === ae.file &&
    /^[0-9a-f]{64}$/.test(ae.sha256) &&
    Number.isInteger(record.imageSize);
  if (!aeOk) throw new FileFormatError(path, 'the "autoencoder" or "imageSize" entry is missing, malformed, or disagrees with "extractor"');
  return record;
}
