/**
 * Exact resume for every strategy and every kind of training data: a run interrupted in the
 * middle of its second epoch and resumed from its checkpoint ends with bit-identical weights and the
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
import { LAYERS, SIZE, maxDifference, randomPixels, setUpBackend, snapshot } from './fixtures.js';
import { buildWorkerFile } from './worker-file.js';

const EXTRACTOR: ResNetExtractorOptions = { arch: 'resnet18', layers: LAYERS, weights: 'random', seed: 0 };

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

/**
 * Which strategy × data combinations run: every strategy on tensors with real anomalies (what
 * differs between strategies is the networks and optimisers a checkpoint holds), and CKAPatch,
 * which holds all of them and uses the anomalies, on every kind of data (what differs between
 * kinds is where the batches and the random draws come from).
 */
const CASES = Object.values(STRATEGIES).map((strategy) => ({
  strategy,
  kinds: strategy === STRATEGIES.CKAPatch ? Object.keys(KINDS) : ['tensors, real anomalies'],
}));

describe.each(CASES.map((c) => [c.strategy.name, c] as const))('%s', (_name, { strategy, kinds }) => {
  const straight = new Map<string, Run>();

  it.each(kinds)('%s: interrupted after step 3 and resumed = uninterrupted, bit for bit', async (kind) => {
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

  if (!kinds.includes('elastic anomalies, feature worker')) return;
  it('elastic anomalies: the feature worker draws what the main thread draws', () => {
    const main = straight.get('elastic anomalies, main thread');
    const threaded = straight.get('elastic anomalies, feature worker');
    expect(main).toBeDefined();
    expect(threaded?.steps.map(losses)).toEqual(main?.steps.map(losses));
    expect(maxDifference(threaded?.weights ?? new Map(), main?.weights ?? new Map())).toBe(0);
  });
});

describe("anomalyShuffle 'every-epoch' (the authors' schedule)", () => {
  /** 12 normal images and 5 anomalies at batch 3: 4 steps per epoch, anomaly passes of 3 + 2. */
  async function run(options: TrainerOptions, callbacks: FitCallbacks = {}) {
    const normal12 = tensorOf(pixels(12, 6));
    const anomalies5 = tensorOf(pixels(5, 7));
    const drawn = new Map<number, number[]>(); // step (the draw key) → anomaly indices
    const base = tensorDataset(anomalies5);
    const anomalyData = { size: 5, random: false, batch: (indices: readonly number[], key?: number) => {
      if (key !== undefined) drawn.set(key, [...indices]);
      return base.batch(indices, key);
    } };
    try {
      const steps: StepLog[] = [];
      const trainer = new CKAADTrainer({ extractor }, { strategy: STRATEGIES.CKAPatch, batchSize: 3, epochs: 3, worker: false, featureCache: false, ...options });
      const result = await trainer.fit({ normal: tensorDataset(normal12), anomalies: anomalyData }, { ...callbacks, onStep: async (s) => { steps.push(s); await callbacks.onStep?.(s); } });
      const weights = snapshot(result.autoencoder.parameters());
      result.autoencoder.dispose();
      return { steps, weights, status: result.status, drawn: [...drawn.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v.join()) };
    } finally {
      tf.dispose([normal12, anomalies5]);
    }
  }

  it('repeats each epoch\'s first pass in order, draws a new one every epoch, and resumes bit for bit', async () => {
    const authors = await run({ anomalyShuffle: 'every-epoch' });
    expect(authors.drawn).toHaveLength(12);
    const epochs = [0, 1, 2].map((e) => authors.drawn.slice(4 * e, 4 * e + 4));
    for (const [a, b, c, d] of epochs) {
      expect([a.split(',').length, b.split(',').length]).toEqual([3, 2]);
      expect([c, d]).toEqual([a, b]); // the same batches in the same order until the epoch ends
      expect([...a.split(','), ...b.split(',')].map(Number).sort()).toEqual([0, 1, 2, 3, 4]);
    }
    expect(new Set(epochs.map((e) => e.join('|'))).size).toBeGreaterThan(1);

    // The default reshuffles at the end of every pass: some pass differs from the one before.
    const ours = await run({});
    const passes = Array.from({ length: 6 }, (_, p) => ours.drawn.slice(2 * p, 2 * p + 2).join('|'));
    expect(passes.some((p, i) => i > 0 && p !== passes[i - 1])).toBe(true);
    expect(ours.drawn.slice(2, 4)).not.toEqual(ours.drawn.slice(0, 2));

    // Interrupted in the middle of epoch 2 (after step 6) and resumed: the same run.
    const checkpoint = memoryStorage();
    const controller = new AbortController();
    const first = await run({ anomalyShuffle: 'every-epoch', checkpoint }, { signal: controller.signal, onStep: (s) => void (s.step === 6 && controller.abort()) });
    expect(first.status).toBe('aborted');
    const second = await run({ anomalyShuffle: 'every-epoch', checkpoint, resume: true });
    expect([...first.drawn, ...second.drawn]).toEqual(authors.drawn);
    expect([...first.steps, ...second.steps].map(losses)).toEqual(authors.steps.map(losses));
    expect(maxDifference(second.weights, authors.weights)).toBe(0);

    // A checkpoint of one schedule is not resumed under the other.
    await expect(run({ checkpoint, resume: true })).rejects.toThrow(/anomalyShuffle = every-epoch/);
  });
});
