/**
 * Exact resume for every strategy × kind of training data: a run interrupted in the middle of
 * its second epoch and resumed from its checkpoint ends with bit-identical weights and the
 * same per-step and per-epoch losses as the uninterrupted run. Kinds: tensors with real
 * anomalies (main thread), decoded pixels with real anomalies (feature worker), elastic
 * anomalies on the main thread and in the feature worker — random draws take their
 * randomness from the step number, so the last two also equal each other.
 *
 * Kept fast: resnet18 {layer1, layer2} with random weights on 32×32 images (the smallest the
 * auto-encoder takes), 4 normal images, batch 2, 2 epochs (4 steps); checkpoints in memory.
 */

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createResNetExtractor } from '../../src/backbone/extractor.js';
import type { ResNetExtractorOptions, ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import { preprocessImages } from '../../src/backbone/preprocess.js';
import { tensorDataset } from '../../src/data/image-dataset.js';
import { elasticDataset, pixelDataset } from '../../src/data/pixel-dataset.js';
import type { PixelStack } from '../../src/data/pixel-dataset.js';
import { memoryStorage } from '../../src/io/storage.js';
import type { EpochLog, StepLog } from '../../src/training/history.js';
import type { TrainerOptions } from '../../src/training/options.js';
import { STRATEGIES } from '../../src/training/strategies.js';
import type { Strategy } from '../../src/training/strategies.js';
import { CKAADTrainer } from '../../src/training/trainer.js';
import type { FitCallbacks, TrainingData } from '../../src/training/trainer.js';
import { maxDifference, randomPixels, setUpBackend, snapshot } from './fixtures.js';
import { buildWorkerFile } from './worker-file.js';

const EXTRACTOR: ResNetExtractorOptions = { arch: 'resnet18', layers: ['layer1', 'layer2'], weights: 'random', seed: 0 };
const SIZE = 32;

let extractor: ResNetFeatureExtractor;
let normal: tf.Tensor4D;
let anomalies: tf.Tensor4D;
let worker: { file: string; remove: () => void };

const pixels = (count: number, seed: number): PixelStack => randomPixels(count, seed, SIZE);
const normalStack = pixels(4, 1);
const anomalyStack = pixels(2, 2);

/** The images of `stack`, preprocessed. */
function tensorOf(stack: PixelStack): tf.Tensor4D {
  return tf.tidy(() => preprocessImages(tf.tensor4d(Float32Array.from(stack.images), [stack.count, SIZE, SIZE, 3]), { size: SIZE }));
}

beforeAll(async () => {
  await setUpBackend();
  extractor = await createResNetExtractor(EXTRACTOR);
  normal = tensorOf(pixels(4, 3));
  anomalies = tensorOf(pixels(2, 4));
  worker = await buildWorkerFile();
}, 120_000);

afterAll(() => {
  tf.dispose([normal, anomalies]);
  extractor.dispose();
  worker.remove();
});

/** The kinds of training data, with the trainer options each needs. */
const KINDS: Record<string, { data: () => TrainingData; options: () => TrainerOptions }> = {
  'tensors, real anomalies': {
    data: () => ({ normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) }),
    options: () => ({ worker: false }),
  },
  'pixels, real anomalies, feature worker': {
    data: () => ({ normal: pixelDataset(normalStack), anomalies: pixelDataset(anomalyStack) }),
    options: () => ({ worker: { file: worker.file } }),
  },
  'elastic anomalies, main thread': {
    data: () => ({ normal: pixelDataset(normalStack), anomalies: elasticDataset(normalStack, { seed: 5 }) }),
    options: () => ({ worker: false }),
  },
  'elastic anomalies, feature worker': {
    data: () => ({ normal: pixelDataset(normalStack), anomalies: elasticDataset(normalStack, { seed: 5 }) }),
    options: () => ({ worker: { file: worker.file } }),
  },
};

interface Run {
  steps: StepLog[];
  history: EpochLog[];
  status: string;
  weights: Map<string, Float32Array>;
}

async function train(strategy: Strategy, kind: string, options: TrainerOptions, callbacks: FitCallbacks = {}): Promise<Run> {
  const steps: StepLog[] = [];
  const k = KINDS[kind];
  const trainer = new CKAADTrainer({ extractor, extractorOptions: EXTRACTOR }, { strategy, batchSize: 2, epochs: 2, ...k.options(), ...options });
  const result = await trainer.fit(k.data(), { ...callbacks, onStep: async (s) => { steps.push(s); await callbacks.onStep?.(s); } });
  const weights = snapshot(result.autoencoder.parameters());
  result.autoencoder.dispose();
  return { steps, history: result.history, status: result.status, weights };
}

const losses = (s: StepLog) => [s.step, s.epoch, s.batch, s.lRec, s.lAdv, s.lD, s.lAe, s.dGradNorm, s.anomalies];
const epochLosses = (e: EpochLog) => [e.epoch, e.steps, e.lRec, e.lAdv, e.lD, e.lAe, e.validationAuroc];

describe.each(Object.values(STRATEGIES).map((s) => [s.name, s] as const))('%s', (_name, strategy) => {
  const straight = new Map<string, Run>();

  it.each(Object.keys(KINDS))('%s: interrupted after step 3 and resumed = uninterrupted, bit for bit', async (kind) => {
    const before = tf.memory().numTensors;
    const whole = await train(strategy, kind, {});
    straight.set(kind, whole);
    const checkpoint = memoryStorage();
    const controller = new AbortController();
    const first = await train(strategy, kind, { checkpoint }, { signal: controller.signal, onStep: (s) => void (s.step === 3 && controller.abort()) });
    expect(first.status).toBe('aborted');
    const second = await train(strategy, kind, { checkpoint, resume: true });
    expect(second.status).toBe('completed');
    expect(tf.memory().numTensors).toBe(before);
    expect([...first.steps, ...second.steps].map(losses)).toEqual(whole.steps.map(losses));
    expect(second.history.map(epochLosses)).toEqual(whole.history.map(epochLosses));
    expect(maxDifference(second.weights, whole.weights)).toBe(0);
  });

  it('elastic anomalies: the feature worker draws what the main thread draws', () => {
    const main = straight.get('elastic anomalies, main thread');
    const threaded = straight.get('elastic anomalies, feature worker');
    expect(main).toBeDefined();
    expect(threaded?.steps.map(losses)).toEqual(main?.steps.map(losses));
    expect(maxDifference(threaded?.weights ?? new Map(), main?.weights ?? new Map())).toBe(0);
  });
});
