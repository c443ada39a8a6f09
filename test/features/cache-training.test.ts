/**
 * The trainer's feature cache on the tiny real model (resnet18 {layer1, layer2}, random
 * weights, 32×32, batch 2): cached training gives exactly the losses of uncached training
 * with float32 storage (also when spilling to disk or when nothing fits), close ones with
 * float16, recomputes random datasets every draw, and survives checkpoint/resume.
 */

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import { Rng } from '../../src/nn/random.js';
import { tensorDataset } from '../../src/data/image-dataset.js';
import type { ImageDataset } from '../../src/data/image-dataset.js';
import type { StepLog, TrainingResult } from '../../src/training/history.js';
import type { TrainerOptions } from '../../src/training/options.js';
import { CKAADTrainer } from '../../src/training/trainer.js';
import type { FitCallbacks, TrainingData } from '../../src/training/trainer.js';
import { maxDifference, setUpBackend, snapshot, textures, tinyExtractor } from '../training/fixtures.js';

let extractor: ResNetFeatureExtractor;
let normal: tf.Tensor4D;
let anomalies: tf.Tensor4D;
let scratch: string;

beforeAll(async () => {
  await setUpBackend();
  extractor = await tinyExtractor();
  normal = textures(4, 1);
  anomalies = textures(2, 1, true);
  scratch = await mkdtemp(join(tmpdir(), 'ckaad-cache-training-'));
});

afterAll(async () => {
  tf.dispose([normal, anomalies]);
  extractor.dispose();
  await rm(scratch, { recursive: true, force: true });
});

const data = (): TrainingData => ({ normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) });

/** Per-image features of the tiny model: [8, 8, 64] + [4, 4, 128] floats. */
const IMAGE_BYTES = (8 * 8 * 64 + 4 * 4 * 128) * 4;

interface Run {
  steps: StepLog[];
  result: TrainingResult;
  weights: Map<string, Float32Array>;
}

async function train(options: TrainerOptions, d: TrainingData = data(), callbacks: FitCallbacks = {}): Promise<Run> {
  const steps: StepLog[] = [];
  const trainer = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 2, worker: false, ...options });
  const result = await trainer.fit(d, { ...callbacks, onStep: (s) => void steps.push(s) });
  const weights = snapshot(result.autoencoder.parameters());
  result.autoencoder.dispose();
  return { steps, result, weights };
}

const losses = (s: StepLog) => [s.step, s.epoch, s.batch, s.lRec, s.lAdv, s.lD, s.lAe, s.dGradNorm, s.anomalies];

let uncached: Run;

describe('feature cache in training', () => {
  it('float32: exactly the losses and weights of uncached training, each image computed once', async () => {
    const before = tf.memory().numTensors;
    uncached = await train({ featureCache: false });
    const cached = await train({});
    expect(tf.memory().numTensors).toBe(before);
    expect(cached.steps.map(losses)).toEqual(uncached.steps.map(losses));
    expect(maxDifference(cached.weights, uncached.weights)).toBe(0);
    // 2 epochs × 2 steps: 8 normal draws, 8 anomaly draws (batches of min(2, 2) = 2).
    expect(uncached.result.features).toMatchObject({
      computed: { normal: 8, anomalies: 8 },
      cached: { normal: 0, anomalies: 0 },
      worker: null,
      stores: { normal: null, anomalies: null },
    });
    expect(cached.result.features).toMatchObject({
      computed: { normal: 4, anomalies: 2 },
      cached: { normal: 4, anomalies: 6 },
      stores: { normal: { inMemory: 4, onDisk: 0, memoryBytes: 4 * IMAGE_BYTES }, anomalies: { inMemory: 2, onDisk: 0 } },
    });
  });

  it('float16: half the memory, losses within float16 rounding of float32', async () => {
    const half = await train({ featureCache: { dtype: 'float16' } });
    expect(half.result.features?.stores.normal?.memoryBytes).toBe((4 * IMAGE_BYTES) / 2);
    const a = half.steps.map((s) => s.lAe);
    const b = uncached.steps.map((s) => s.lAe);
    const rel = a.map((v, i) => Math.abs(v - b[i]) / Math.abs(b[i]));
    // Step 1 sees only the features' float16 rounding. Later steps also see Adam's: with
    // PyTorch's ε = 1e-8 every weight whose gradient is ≫ ε moves by about ±lr, so rounding that
    // flips the sign of a tiny gradient flips a whole step (measured: ≤ 1.1e-2 by step 4).
    expect(rel[0]).toBeLessThan(5e-3);
    rel.slice(1).forEach((r) => expect(r).toBeLessThan(3e-2));
    expect(a).not.toEqual(b); // the rounding did happen
  });

  it('spills beyond the memory bound to disk with the same losses, and removes the spill files', async () => {
    const spillDir = join(scratch, 'spill');
    const spilled = await train({ featureCache: { maxMemoryBytes: 3 * IMAGE_BYTES, spillDir } });
    expect(spilled.steps.map(losses)).toEqual(uncached.steps.map(losses));
    const stores = spilled.result.features?.stores;
    expect((stores?.normal?.inMemory ?? 0) + (stores?.anomalies?.inMemory ?? 0)).toBe(3);
    expect((stores?.normal?.onDisk ?? 0) + (stores?.anomalies?.onDisk ?? 0)).toBe(3);
    expect(await readdir(spillDir)).toEqual([]);
  });

  it('with no room and no spill directory, recomputes instead, with the same losses', async () => {
    const tight = await train({ featureCache: { maxMemoryBytes: 0 } });
    expect(tight.steps.map(losses)).toEqual(uncached.steps.map(losses));
    expect(tight.result.features?.computed).toEqual({ normal: 8, anomalies: 8 });
  });

  it('never caches a random dataset (detected by drawing an image twice); same stream with the cache on or off', async () => {
    // New noise on every draw, from a seeded generator: two instances give the same stream.
    const noisy = (seed: number): ImageDataset => {
      const rng = new Rng(seed);
      const base = tensorDataset(anomalies);
      return {
        size: base.size,
        batch: (indices) =>
          tf.tidy(() => {
            const images = base.batch(indices);
            const noise = Float32Array.from({ length: images.size }, () => rng.next() - 0.5);
            return tf.add(images, tf.tensor(noise, images.shape)) as tf.Tensor4D;
          }),
      };
    };
    const off = await train({ featureCache: false }, { normal: tensorDataset(normal), anomalies: noisy(7) });
    const on = await train({}, { normal: tensorDataset(normal), anomalies: noisy(7) });
    expect(on.steps.map(losses)).toEqual(off.steps.map(losses));
    expect(on.result.features?.stores.anomalies).toBeNull();
    expect(on.result.features?.computed.anomalies).toBe(8);
    expect(on.result.features?.stores.normal?.inMemory).toBe(4);
    // The flag skips the probe: `random: false` on the same noisy data would be cached.
    const flagged = await train({ epochs: 1 }, { normal: tensorDataset(normal), anomalies: { ...noisy(7), random: false } });
    expect(flagged.result.features?.stores.anomalies?.inMemory).toBe(2);
  });

  it('checkpoint + resume with a float16 cache equals the uninterrupted float16 run', async () => {
    const options: TrainerOptions = { featureCache: { dtype: 'float16' }, checkpoint: join(scratch, 'ckpt') };
    const straight = await train({ ...options, checkpoint: join(scratch, 'ckpt-straight') });
    const first = await train({ ...options, epochs: 1 });
    const resumed = await train({ ...options, resume: true });
    expect([...first.steps, ...resumed.steps].map(losses)).toEqual(straight.steps.map(losses));
    expect(maxDifference(resumed.weights, straight.weights)).toBe(0);
    // The resumed run recomputed (and cached) the features it needed.
    expect(resumed.result.features?.computed.normal).toBe(4);
  });
});
