/**
 * The feature worker thread: the trainer computing features of datasets with a recipe in
 * dist/feature-worker.js (built here once, from the sources, with the package's own tsup
 * settings), on the tiny real model (resnet18 {layer1, layer2}, random weights, 32×32).
 */

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ResNetExtractorOptions, ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import { elasticDataset, pixelDataset } from '../../src/data/pixel-dataset.js';
import type { PixelStack } from '../../src/data/pixel-dataset.js';
import { BackendError } from '../../src/errors.js';
import type { ImageDataset } from '../../src/data/image-dataset.js';
import type { StepLog, TrainingResult } from '../../src/training/history.js';
import type { TrainerOptions } from '../../src/training/options.js';
import { CKAADTrainer } from '../../src/training/trainer.js';
import type { TrainingData } from '../../src/training/trainer.js';
import { FeatureWorker } from '../../src/node/feature-worker/client.js';
import { LAYERS, SIZE, randomPixels, setUpBackend, tinyExtractor } from '../training/fixtures.js';
import { buildWorkerFile } from '../training/worker-file.js';

const EXTRACTOR: ResNetExtractorOptions = { arch: 'resnet18', layers: LAYERS, weights: 'random', seed: 0 };

let removeWorker = (): void => undefined;
let workerFile = '';
let extractor: ResNetFeatureExtractor;

const normalStack: PixelStack = randomPixels(4, 1);
const anomalyStack: PixelStack = randomPixels(2, 2);

beforeAll(async () => {
  await setUpBackend();
  extractor = await tinyExtractor();
  // The worker entry exactly as tsup.config.ts builds it, into a private directory.
  const built = await buildWorkerFile();
  workerFile = built.file;
  removeWorker = built.remove;
}, 120_000);

afterAll(() => {
  extractor.dispose();
  removeWorker();
});

async function train(options: TrainerOptions, data: TrainingData, withOptions = true): Promise<{ steps: StepLog[]; result: TrainingResult }> {
  const steps: StepLog[] = [];
  const trainer = new CKAADTrainer(withOptions ? { extractor, extractorOptions: EXTRACTOR } : { extractor }, { batchSize: 2, epochs: 2, ...options });
  const result = await trainer.fit(data, { onStep: (s) => void steps.push(s) });
  result.autoencoder.dispose();
  return { steps, result };
}

const losses = (s: StepLog) => [s.step, s.epoch, s.batch, s.lRec, s.lAdv, s.lD, s.lAe, s.dGradNorm, s.anomalies];

describe('feature worker', () => {
  it('computes fixed datasets ahead in the worker, with exactly the losses of the main thread', async () => {
    const data = (): TrainingData => ({ normal: pixelDataset(normalStack), anomalies: pixelDataset(anomalyStack) });
    const before = tf.memory().numTensors;
    const main = await train({ worker: false }, data());
    const threaded = await train({ worker: { file: workerFile } }, data());
    expect(tf.memory().numTensors).toBe(before);
    expect(threaded.steps.map(losses)).toEqual(main.steps.map(losses));
    expect(threaded.result.features).toMatchObject({
      worker: 'wasm',
      computed: { normal: 4, anomalies: 2 },
      cached: { normal: 4, anomalies: 6 },
    });
    expect(main.result.features?.worker).toBeNull();
  }, 120_000);

  it('draws elastic anomalies in the worker, afresh for every step', async () => {
    const recipe = { kind: 'elastic' as const, stack: normalStack, options: { seed: 3 } };
    const anomalies: ImageDataset = { ...elasticDataset(normalStack, { seed: 3 }), recipe };
    const { steps, result } = await train({ worker: { file: workerFile } }, { normal: pixelDataset(normalStack), anomalies });
    expect(result.features).toMatchObject({ worker: 'wasm', computed: { normal: 4, anomalies: 8 }, cached: { anomalies: 0 } });
    expect(result.features?.stores.anomalies).toBeNull();
    expect(steps).toHaveLength(4);
    for (const s of steps) {
      expect(Number.isFinite(s.lAe)).toBe(true);
      expect(s.anomalies).toBe(2);
    }
  }, 120_000);

  it("'auto' runs without a worker where none can run; true names what is missing", async () => {
    const data = (): TrainingData => ({ normal: pixelDataset(normalStack), anomalies: pixelDataset(anomalyStack) });
    // From the TypeScript sources there is no built worker next to the module: 'auto' quietly uses none.
    const auto = await train({ epochs: 1 }, data());
    expect(auto.result.features?.worker).toBeNull();
    await expect(train({ worker: true }, data(), false)).rejects.toThrow(/options\.worker.*extractorOptions is missing/);
    const { size, batch } = pixelDataset(normalStack); // the same images without a recipe
    await expect(train({ worker: true }, { normal: { size, batch } })).rejects.toThrow(/options\.worker.*no dataset has a recipe/);
    await expect(train({ worker: true }, data())).rejects.toThrow(/No feature worker script/);
  }, 120_000);

  it("reports the worker's errors, naming the dataset", async () => {
    const worker = await FeatureWorker.start({
      backend: 'wasm',
      extractor: EXTRACTOR,
      datasets: { normal: { kind: 'pixels', stack: normalStack } },
      imageSize: [SIZE * 2, SIZE * 2], // not the images' size
      file: workerFile,
    });
    try {
      await expect(worker.request('normal', [0])).rejects.toThrow(BackendError);
      await expect(worker.request('normal', [0])).rejects.toThrow(new RegExp(`data\\.normal\\.batch.*\\[1, ${2 * SIZE}, ${2 * SIZE}, 3\\]`));
      await expect(worker.request('anomalies', [0])).rejects.toThrow(/no dataset 'anomalies'/);
      const sized = await FeatureWorker.start({
        backend: 'wasm',
        extractor: EXTRACTOR,
        datasets: { normal: { kind: 'pixels', stack: normalStack } },
        imageSize: [SIZE, SIZE],
        file: workerFile,
      });
      const { maps, shapes } = await sized.request('normal', [2, 0]).finally(() => sized.close());
      expect(shapes).toEqual([
        [2, SIZE / 4, SIZE / 4, 64],
        [2, SIZE / 8, SIZE / 8, 128],
      ]);
      // The worker's features are the main thread's (same backend, same kernels).
      const direct = tf.tidy(() => extractor.extract(pixelDataset(normalStack).batch([2, 0])).map((m) => m.dataSync() as Float32Array));
      expect(maps).toEqual(direct);
    } finally {
      await worker.close();
    }
    await expect(
      FeatureWorker.start({ backend: 'wasm', extractor: { ...EXTRACTOR, weights: '/nonexistent/r18.safetensors' }, datasets: {}, imageSize: [SIZE, SIZE], file: workerFile }),
    ).rejects.toThrow(/could not start.*nonexistent/);
  }, 120_000);
});
