/**
 * The page's Web Worker: holds the images and the model, and does everything heavy — decoding,
 * training, scoring, saving, loading — off the page's thread. Requests are handled one at a time
 * in arrival order, except 'stop', which aborts a running training between two steps.
 *
 * It computes on the best backend the browser offers: webgpu and webgl are registered here, so
 * ckaad's automatic choice tries webgpu, then webgl (unless it is a software renderer, see
 * softwareWebgl), then wasm (multi-threaded on this cross-origin-isolated page; its .wasm
 * binaries are served next to this script), then cpu. The page can also name one.
 */

import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';

import {
  CKAADTrainer,
  STRATEGIES,
  backendInfo,
  createResNetExtractor,
  createScorer,
  describeExtractor,
  ensureBackend,
  loadModel,
  memoryStorage,
  pixelDataset,
  saveModel,
  toPixelStack,
  trainingRecord,
  useBackend,
} from 'ckaad';
import type {
  FeatureAutoEncoder,
  ImageBytes,
  LayerName,
  PixelStack,
  ResNetExtractorOptions,
  ResNetFeatureExtractor,
  Scorer,
  ScoringRecord,
  TrainingRecord,
} from 'ckaad';

import type { BackendChoice, ModelSummary, Picture, Reply, Request, SetName, TrainSettings } from './protocol.js';
import { sampleSets } from './sample.js';
import type { NamedImage } from './sample.js';

/** The worker's global scope, as far as this file uses it (tsconfig has no WebWorker lib). */
interface WorkerScope {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

/** The layers the page's models read features from (the paper's choice for ResNets). */
const LAYERS: LayerName[] = ['layer2', 'layer3'];
/** Images scored per batch. */
const SCORE_BATCH = 8;
/** File names the page accepts as images (besides files whose type says image/*). */
const IMAGE_NAME = /\.(png|jpe?g|bmp|gif|webp|avif)$/i;

/** The model the worker scores with. */
interface HeldModel {
  extractor: ResNetFeatureExtractor;
  autoencoder: FeatureAutoEncoder;
  imageSize: number;
  scoring: ScoringRecord;
  summary: ModelSummary;
  /** What saveModel needs for a model trained here; null for a loaded model (its files are kept). */
  save: { extractorOptions: ResNetExtractorOptions; training: TrainingRecord } | null;
  /** The files a loaded model came from. */
  files: Record<string, Uint8Array> | null;
  dispose(): void;
}

const sets: Record<SetName, NamedImage[]> = { normal: [], defective: [], test: [] };
let model: HeldModel | null = null;
let training: AbortController | null = null;

function post(reply: Reply, transfer: Transferable[] = []): void {
  scope.postMessage(reply, transfer);
}

// -----------------------------------------------------------------------------------------
// Backend

/**
 * The renderer of this browser's WebGL 2 when it is a software one (SwiftShader, llvmpipe, …),
 * else null. A software WebGL runs every shader on the CPU and trains far slower than wasm
 * (measured in headless Chromium: about 45 s per step of 8 images at 64², against seconds on
 * wasm), so the automatic choice skips it.
 */
function softwareWebgl(): string | null {
  if (typeof OffscreenCanvas === 'undefined') return null;
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (gl === null) return null;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info === null ? gl.RENDERER : info.UNMASKED_RENDERER_WEBGL));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer) ? renderer : null;
}

async function init(choice: BackendChoice): Promise<void> {
  const notes: string[] = [];
  if (choice === 'auto') {
    const software = softwareWebgl();
    if (software !== null && tf.findBackendFactory('webgl') != null) {
      tf.removeBackend('webgl');
      notes.push(`webgl skipped: software renderer (${software})`);
    }
  }
  const backend = choice === 'auto' ? await ensureBackend() : await useBackend(choice);
  const info = backendInfo();
  post({
    type: 'ready',
    backend,
    wasmThreads: info.wasmThreads,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    notes,
  });
}

// -----------------------------------------------------------------------------------------
// Images

/** Decodes an image file with the browser's decoders; throws when it cannot. */
async function decode(file: File): Promise<ImageBytes> {
  const bitmap = await createImageBitmap(file);
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('no 2d canvas in this worker');
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

function list(names: string[], max = 5): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Replaces set `name` with the readable images among `files`, telling the page what was left out. */
async function loadImages(name: SetName, files: File[]): Promise<void> {
  const notes: string[] = [];
  const images: NamedImage[] = [];
  const unreadable: string[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    if (!file.type.startsWith('image/') && !IMAGE_NAME.test(file.name)) {
      skipped.push(file.name);
      continue;
    }
    try {
      images.push({ name: file.name, image: await decode(file) });
    } catch {
      unreadable.push(file.name);
    }
  }
  if (skipped.length > 0) notes.push(`Skipped ${skipped.length} file(s) that are not images: ${list(skipped)}.`);
  if (unreadable.length > 0) notes.push(`Could not read ${unreadable.length} image(s) (not an image this browser can decode, or damaged): ${list(unreadable)}.`);
  const sizes = new Set(images.map(({ image }) => `${image.width}×${image.height}`));
  if (sizes.size > 1) {
    notes.push(`The images have ${sizes.size} different sizes (${list([...sizes], 3)}): each is resized to the model's square size (the aspect ratio is not kept).`);
  } else if (images.length > 0 && images[0].image.width !== images[0].image.height) {
    notes.push(`The images are ${[...sizes][0]}: they are resized to the model's square size (the aspect ratio is not kept).`);
  }
  if (images.length === 0 && files.length > 0) notes.push('No usable image: the set is empty.');
  sets[name] = images;
  post({ type: 'set', set: name, count: images.length, notes });
}

/** The built-in sample (sample.ts). */
function sample(): void {
  const made = sampleSets();
  for (const name of ['normal', 'defective', 'test'] as const) {
    sets[name] = made[name];
    post({ type: 'set', set: name, count: sets[name].length, notes: [] });
  }
}

function stack(images: NamedImage[], size: number): PixelStack {
  return toPixelStack(
    images.map((i) => i.image),
    size,
  );
}

// -----------------------------------------------------------------------------------------
// Training

/** Lets the worker read its messages (e.g. 'stop') between two training steps. */
function yieldToMessages(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function checkSettings(s: TrainSettings): void {
  if (!(s.strategy in STRATEGIES)) throw new Error(`Unknown strategy ${s.strategy}: one of ${Object.keys(STRATEGIES).join(', ')}.`);
  if (sets.normal.length === 0) throw new Error('Add normal images first (or click “Use the sample”).');
  const trainNormal = s.validation ? sets.normal.length - validationCount(sets.normal.length) : sets.normal.length;
  if (trainNormal < s.batchSize) {
    throw new Error(
      `Too few normal images: training takes batches of ${s.batchSize} normal images and has ${trainNormal}` +
        (s.validation ? ` (${validationCount(sets.normal.length)} more are held out for validation)` : '') +
        '. Add images or lower the batch size.',
    );
  }
  const adversarial = s.strategy !== 'Recon' && s.strategy !== 'ReconSub';
  if (adversarial && sets.defective.length === 0) throw new Error(`${s.strategy} learns from a few known-defective images: add some, or pick Recon.`);
  if (s.validation && sets.defective.length < 2) throw new Error('A validation split needs at least 2 defective images (one to train with, one to validate); add some or untick “validation”.');
}

/** Images held out for validation out of `n`: a quarter, at least one. */
function validationCount(n: number): number {
  return Math.max(1, Math.floor(n / 4));
}

async function train(settings: TrainSettings, weights: File | null): Promise<void> {
  checkSettings(settings);
  const size = settings.imageSize;
  const normalImages = settings.validation ? sets.normal.slice(0, sets.normal.length - validationCount(sets.normal.length)) : sets.normal;
  const defectImages = settings.validation ? sets.defective.slice(0, sets.defective.length - validationCount(sets.defective.length)) : sets.defective;
  const validation = settings.validation
    ? [...sets.normal.slice(normalImages.length), ...sets.defective.slice(defectImages.length)]
    : [];

  post({ type: 'phase', text: weights === null ? 'Building the backbone (random weights)…' : `Reading the backbone weights ${weights.name}…` });
  const extractorOptions: ResNetExtractorOptions = { arch: settings.arch, layers: LAYERS, weights: weights ?? 'random', seed: settings.seed };
  const extractor = await createResNetExtractor(extractorOptions);
  const strategy = STRATEGIES[settings.strategy as keyof typeof STRATEGIES];
  let autoencoder: FeatureAutoEncoder | null = null;
  try {
    const trainer = new CKAADTrainer({ extractor }, { strategy, epochs: settings.epochs, batchSize: settings.batchSize, seed: settings.seed });
    const data = {
      normal: pixelDataset(stack(normalImages, size)),
      ...(defectImages.length > 0 ? { anomalies: pixelDataset(stack(defectImages, size)) } : {}),
      ...(validation.length > 0
        ? {
            validation: {
              images: pixelDataset(stack(validation, size)),
              labels: Uint8Array.from(validation.map((_, i) => (i < sets.normal.length - normalImages.length ? 0 : 1))),
            },
          }
        : {}),
    };
    const totalSteps = settings.epochs * Math.floor(normalImages.length / settings.batchSize);
    training = new AbortController();
    post({ type: 'phase', text: `Training on ${normalImages.length} normal and ${defectImages.length} defective images…` });
    const started = performance.now();
    const result = await trainer.fit(data, {
      signal: training.signal,
      onStep: async (log) => {
        post({
          type: 'progress',
          progress: { step: log.step, totalSteps, epoch: log.epoch, epochs: settings.epochs, lRec: log.lRec, lAdv: log.lAdv, lD: log.lD, elapsed: (performance.now() - started) / 1000 },
        });
        await yieldToMessages();
      },
    });
    autoencoder = result.autoencoder;
    const seconds = (performance.now() - started) / 1000;
    const scoring: ScoringRecord = { sigma: trainer.options.sigma, topK: trainer.options.topK, threshold: result.best?.threshold ?? null };
    const summary: ModelSummary = {
      strategy: settings.strategy,
      arch: settings.arch,
      layers: LAYERS,
      imageSize: size,
      weights: weights?.name ?? 'random',
      threshold: scoring.threshold,
      validationAuroc: result.best?.auroc ?? null,
      origin: 'trained',
    };
    const trainedAutoencoder = autoencoder;
    replaceModel({
      extractor,
      autoencoder: trainedAutoencoder,
      imageSize: size,
      scoring,
      summary,
      save: { extractorOptions, training: trainingRecord(trainer, result) },
      files: null,
      dispose: () => {
        trainedAutoencoder.dispose();
        extractor.dispose();
      },
    });
    post({ type: 'trained', model: summary, seconds, status: result.status, steps: result.steps, totalSteps });
  } catch (err) {
    autoencoder?.dispose();
    extractor.dispose();
    throw err;
  } finally {
    training = null;
  }
  if (sets.test.length > 0) await score();
}

function replaceModel(next: HeldModel): void {
  model?.dispose();
  model = next;
}

// -----------------------------------------------------------------------------------------
// Scoring

function rgba(pixels: Uint8Array, offset: number, size: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    out[4 * i] = pixels[offset + 3 * i];
    out[4 * i + 1] = pixels[offset + 3 * i + 1];
    out[4 * i + 2] = pixels[offset + 3 * i + 2];
    out[4 * i + 3] = 255;
  }
  return out;
}

async function score(): Promise<void> {
  if (model === null) throw new Error('Train a model or load one first.');
  if (sets.test.length === 0) throw new Error('Add test images first.');
  const { imageSize: size } = model;
  post({ type: 'phase', text: `Scoring ${sets.test.length} test images…` });
  const started = performance.now();
  const pixels = stack(sets.test, size);
  const dataset = pixelDataset(pixels);
  const scorer: Scorer = createScorer({ extractor: model.extractor, autoencoder: model.autoencoder, scoring: model.scoring });
  const scores: number[] = [];
  const maps = new Float32Array(sets.test.length * size * size);
  for (let start = 0; start < sets.test.length; start += SCORE_BATCH) {
    const indices = Array.from({ length: Math.min(SCORE_BATCH, sets.test.length - start) }, (_, i) => start + i);
    const batch = dataset.batch(indices);
    try {
      const result = scorer.scoreBatch(batch);
      scores.push(...result.scores);
      maps.set(result.maps, start * size * size);
    } finally {
      batch.dispose();
    }
    await yieldToMessages();
  }
  const pictures: Picture[] = sets.test.map((image, i) => ({ name: image.name, width: size, height: size, rgba: rgba(pixels.images, i * size * size * 3, size) }));
  post(
    { type: 'scores', scores, maps, size, names: sets.test.map((i) => i.name), pictures, seconds: (performance.now() - started) / 1000 },
    [maps.buffer, ...pictures.map((p) => p.rgba.buffer)],
  );
}

// -----------------------------------------------------------------------------------------
// Saving and loading

async function save(): Promise<void> {
  if (model === null) throw new Error('There is no model to download yet: train one first.');
  if (model.files !== null) {
    post({ type: 'saved', files: model.files });
    return;
  }
  const storage = memoryStorage();
  const held = model;
  const { extractorOptions, training: record } = held.save as NonNullable<HeldModel['save']>;
  await saveModel(storage, {
    extractor: await describeExtractor(extractorOptions),
    autoencoder: held.autoencoder,
    imageSize: held.imageSize,
    scoring: held.scoring,
    training: record,
  });
  post({ type: 'saved', files: Object.fromEntries(storage.files) });
}

/** The backbone weights model.json names, or null for random ones (read before loading, for a clear message). */
function recordedWeights(json: Uint8Array | undefined): string | null {
  if (json === undefined) throw new Error('model.json is missing: pick both model.json and autoencoder.safetensors (or the model folder).');
  let record: { extractor?: { weights?: { kind?: string; path?: string } } };
  try {
    record = JSON.parse(new TextDecoder().decode(json)) as typeof record;
  } catch (err) {
    throw new Error(`model.json is not JSON (${(err as Error).message}).`);
  }
  const weights = record.extractor?.weights;
  return weights?.kind === 'file' ? (weights.path ?? 'a weights file') : null;
}

async function loadFiles(files: Record<string, Uint8Array>, weights: File | null): Promise<void> {
  const needs = recordedWeights(files['model.json']);
  if (files['autoencoder.safetensors'] === undefined) throw new Error('autoencoder.safetensors is missing: pick it together with model.json.');
  if (needs !== null && weights === null) {
    throw new Error(`This model was trained with the backbone weights ${needs}: pick that file under “Backbone weights”, then load the model again.`);
  }
  const loaded = await loadModel(memoryStorage(files, 'the picked model files'), needs === null ? {} : { weights: weights as File });
  const record = loaded.record;
  const summary: ModelSummary = {
    strategy: record.training?.strategy ?? 'unknown',
    arch: record.extractor.arch,
    layers: [...record.extractor.layers],
    imageSize: loaded.imageSize,
    weights: needs === null ? 'random' : (weights as File).name,
    threshold: loaded.scoring.threshold,
    validationAuroc: null,
    origin: 'loaded',
  };
  replaceModel({ ...loaded, summary, save: null, files, dispose: () => loaded.dispose() });
  post({ type: 'model', model: summary });
  if (sets.test.length > 0) await score();
}

// -----------------------------------------------------------------------------------------

async function handle(request: Request): Promise<void> {
  switch (request.type) {
    case 'init':
      return init(request.backend);
    case 'sample':
      return sample();
    case 'images':
      return loadImages(request.set, request.files);
    case 'train':
      return train(request.settings, request.weights);
    case 'score':
      return score();
    case 'save':
      return save();
    case 'load-model':
      return loadFiles(request.files, request.weights);
    case 'stop':
      return;
  }
}

const DOING: Record<Request['type'], string> = {
  init: 'starting the backend',
  sample: 'making the sample',
  images: 'reading the images',
  train: 'training',
  score: 'scoring',
  save: 'saving the model',
  'load-model': 'loading the model',
  stop: 'stopping',
};

let queue = Promise.resolve();
scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === 'stop') {
    training?.abort();
    return;
  }
  queue = queue.then(async () => {
    // A leak check of scoring and saving, which must leave nothing behind (tf.memory() would
    // start a backend: only once 'init' chose one).
    const checked = (request.type === 'score' || request.type === 'save') && model !== null;
    const tensors = checked ? tf.memory().numTensors : 0;
    try {
      await handle(request);
    } catch (err) {
      post({ type: 'error', while: DOING[request.type], message: (err as Error).message ?? String(err) });
    }
    if (checked && tf.memory().numTensors !== tensors) console.warn(`ckaad web: ${request.type} left ${tf.memory().numTensors - tensors} tensors`);
  });
};
