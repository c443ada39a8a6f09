/**
 * Trains a tiny CKAPatch model and scores test images, everything in memory: the same code runs
 * in a browser page (see index.html / main.ts beside this file) and in Node. It imports only
 * the universal `ckaad` entry.
 *
 * The images come from ckaad's synthetic defect generator (woven textures; a few of them with a
 * small scratch, hole or stain), the backbone is resnet18 with random weights (no download), so
 * the scores only show that the machinery works. With real photos, use `toPixelStack(imageDatas,
 * size)` instead of the generator, and torchvision's resnet18 weights as a safetensors file:
 * `createResNetExtractor({ ..., weights: file })` takes a `File` the user picked, a URL, or bytes.
 */

import {
  CKAADTrainer,
  CKAPatch,
  createResNetExtractor,
  createScorer,
  describeExtractor,
  ensureBackend,
  loadModel,
  memoryStorage,
  pixelDataset,
  renderSyntheticSample,
  saveModel,
  toPixelStack,
  trainingRecord,
  useBackend,
} from 'ckaad';
import type { ImageBytes, PixelStack, ResNetExtractorOptions, StepLog, SyntheticDefect } from 'ckaad';

/** What {@link trainAndScore} does; every field has a default. */
export interface TrainAndScoreOptions {
  /**
   * Backend to compute on ('wasm', 'cpu', or one the page registered, e.g. 'webgl'). Default:
   * ckaad's automatic choice (wasm, falling back to cpu).
   */
  backend?: string;
  /** Where the page serves tfjs-backend-wasm's `.wasm` files (a URL prefix ending in '/'). */
  wasmPaths?: string;
  /** XNNPACK threads for wasm (used on cross-origin-isolated pages). */
  threads?: number;
  /** Image side in pixels. Default 64. */
  size?: number;
  /** Training epochs (2 steps each). Default 2. */
  epochs?: number;
  /** Called after every training step. */
  onStep?: (log: StepLog) => void;
}

/** What {@link trainAndScore} returns (plain numbers, ready for JSON). */
export interface TrainAndScoreResult {
  /** The backend the work ran on. */
  backend: string;
  /** Each training step's losses. */
  steps: StepLog[];
  /** Image scores of the test images (4 normal, then 4 defective). */
  scores: number[];
  /** 0 = normal, 1 = defective, per test image. */
  labels: number[];
  /** The scores again after saving the model to memory and loading it back. */
  reloadedScores: number[];
  /** The saved model's files and their sizes in bytes. */
  savedFiles: Record<string, number>;
  /** Wall-clock seconds of training and of scoring. */
  seconds: { train: number; score: number };
}

const DEFECTS: readonly SyntheticDefect[] = ['scratch', 'hole', 'stain', 'scratch'];

/** `count` woven textures from seed `seed` on; with `defective`, each has one small defect. */
function weaves(count: number, size: number, seed: number, defective: boolean): PixelStack {
  const images: ImageBytes[] = [];
  for (let i = 0; i < count; i++) {
    const { image } = renderSyntheticSample('weave', defective ? DEFECTS[i % DEFECTS.length] : null, size, seed + i);
    images.push({ data: image, width: size, height: size, channels: 3 });
  }
  return toPixelStack(images, size);
}

/** Trains CKAPatch on 8 normal + 4 labelled defective images and scores 8 test images. */
export async function trainAndScore(options: TrainAndScoreOptions = {}): Promise<TrainAndScoreResult> {
  const { backend, wasmPaths, threads, size = 64, epochs = 2, onStep } = options;
  const wasmOptions = { ...(wasmPaths === undefined ? {} : { wasmPaths }), ...(threads === undefined ? {} : { threads }) };
  const active = backend === undefined ? await ensureBackend() : await useBackend(backend, backend === 'wasm' ? wasmOptions : {});

  const extractorOptions: ResNetExtractorOptions = { arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random', seed: 0 };
  const extractor = await createResNetExtractor(extractorOptions);
  const normal = pixelDataset(weaves(8, size, 100, false));
  const anomalies = pixelDataset(weaves(4, size, 200, true));
  const test = pixelDataset({
    images: new Uint8Array([...weaves(4, size, 300, false).images, ...weaves(4, size, 400, true).images]),
    count: 8,
    size,
  });
  const labels = [0, 0, 0, 0, 1, 1, 1, 1];

  const steps: StepLog[] = [];
  const started = performance.now();
  const trainer = new CKAADTrainer({ extractor }, { strategy: CKAPatch, epochs, batchSize: 4, aeLearningRate: 5e-3, seed: 0, topK: 100 });
  const result = await trainer.fit(
    { normal, anomalies },
    {
      onStep: (log) => {
        steps.push(log);
        onStep?.(log);
      },
    },
  );
  const trained = performance.now();

  const images = test.batch([0, 1, 2, 3, 4, 5, 6, 7]);
  const scoring = { sigma: 4, topK: 100, threshold: null };
  const scores = Array.from(createScorer({ extractor, autoencoder: result.autoencoder, scoring }).scoreBatch(images).scores);
  const scored = performance.now();

  // Save to memory (a page would offer the files as downloads) and load back.
  const storage = memoryStorage();
  await saveModel(storage, {
    extractor: await describeExtractor(extractorOptions),
    autoencoder: result.autoencoder,
    imageSize: size,
    scoring,
    training: trainingRecord(trainer, result),
  });
  const loaded = await loadModel(storage);
  const reloadedScores = Array.from(createScorer(loaded).scoreBatch(images).scores);

  images.dispose();
  loaded.dispose();
  result.autoencoder.dispose();
  extractor.dispose();
  const savedFiles = Object.fromEntries([...storage.files].map(([name, bytes]) => [name, bytes.byteLength]));
  return {
    backend: active,
    steps,
    scores,
    labels,
    reloadedScores,
    savedFiles,
    seconds: { train: (trained - started) / 1000, score: (scored - trained) / 1000 },
  };
}
