/**
 * The training building blocks that need no model: datasets, batch order, gradient clipping,
 * option validation, discriminator composition, Adam state round trip, checkpoint files.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/backend/select.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EnergyDiscriminator } from '../../src/discriminator/energy-discriminator.js';
import { ImageEnergyDiscriminator } from '../../src/discriminator/image-energy-discriminator.js';
import { CkaadError, FileFormatError, InvalidArgumentError, WeightsMismatchError } from '../../src/errors.js';
import { Rng } from '../../src/nn/random.js';
import { adamShapes, adamState, applyInOrder, createAdam, restoreAdam } from '../../src/training/adam.js';
import { AnomalyCycler, epochBatches } from '../../src/training/batches.js';
import { CHECKPOINT_FILE, readCheckpointState } from '../../src/training/checkpoint.js';
import { memoryStorage } from '../../src/io/storage.js';
import { clipByGlobalNorm } from '../../src/training/clip.js';
import { composeDiscriminators } from '../../src/discriminator/compose.js';
import { tensorDataset } from '../../src/data/image-dataset.js';
import { resolveTrainerOptions, TRAINER_DEFAULTS } from '../../src/training/options.js';
import type { TrainerOptions } from '../../src/training/options.js';
import { CKAImg, CKAPatch, GAN, Recon, ReconSub, STRATEGIES } from '../../src/training/strategies.js';
import type { Strategy } from '../../src/training/strategies.js';
import { encodeTensors, loadTensors } from '../../src/io/state-dict.js';

let scratch: string;

beforeAll(async () => {
  await useBackend('cpu');
  scratch = await mkdtemp(join(tmpdir(), 'ckaad-training-units-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('tensorDataset', () => {
  it('returns the requested images in the requested order and does not leak', () => {
    const images = tf.tidy(() => tf.reshape(tf.range(0, 5 * 2 * 2 * 3), [5, 2, 2, 3]) as tf.Tensor4D);
    const data = tensorDataset(images);
    expect(data.size).toBe(5);
    const before = tf.memory().numTensors;
    const batch = data.batch([3, 0, 3]);
    expect(batch.shape).toEqual([3, 2, 2, 3]);
    const values = batch.arraySync();
    expect(values[0][0][0][0]).toBe(36);
    expect(values[1][0][0][0]).toBe(0);
    expect(values[2]).toEqual(values[0]);
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it('rejects bad indices and non-image tensors with errors naming the argument', () => {
    const images = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    const data = tensorDataset(images);
    expect(() => data.batch([2])).toThrow(/indices.*\[0, 2\)/);
    expect(() => data.batch([0.5])).toThrow(InvalidArgumentError);
    expect(() => data.batch([])).toThrow(/non-empty/);
    expect(() => tensorDataset(tf.zeros([2, 4, 4, 1]) as tf.Tensor4D)).toThrow(/images/);
    expect(() => tensorDataset(tf.zeros([2, 4, 4, 3], 'int32') as tf.Tensor4D)).toThrow(/float32/);
    images.dispose();
  });
});

describe('batch order', () => {
  it('normal batches: full, disjoint, in range, tail dropped, new order every epoch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 16 }), fc.integer(), (size, batchSize, seed) => {
        const rng = new Rng(seed);
        const first = epochBatches(size, batchSize, rng);
        expect(first.length).toBe(Math.floor(size / batchSize));
        const seen = new Set<number>();
        for (const b of first) {
          expect(b.length).toBe(batchSize);
          for (const i of b) {
            expect(i >= 0 && i < size && Number.isInteger(i)).toBe(true);
            expect(seen.has(i)).toBe(false);
            seen.add(i);
          }
        }
        // Same seed → same epochs.
        expect(epochBatches(size, batchSize, new Rng(seed))).toEqual(first);
      }),
    );
    const rng = new Rng(3);
    const epochs = Array.from({ length: 4 }, () => epochBatches(20, 4, rng).flat().join());
    expect(new Set(epochs).size).toBe(4);
  });

  it('anomaly batches: each pass covers every anomaly once, then a new permutation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 16 }), fc.integer(), (size, batchSize, seed) => {
        const cycler = new AnomalyCycler(size, batchSize, new Rng(seed));
        const b = Math.min(batchSize, size);
        expect(cycler.batchSize).toBe(b);
        const perPass = Math.ceil(size / b);
        for (let pass = 0; pass < 3; pass++) {
          const indices: number[] = [];
          for (let k = 0; k < perPass; k++) {
            const batch = cycler.next();
            expect(batch.length).toBe(k < perPass - 1 ? b : size - b * (perPass - 1));
            indices.push(...batch);
          }
          expect([...indices].sort((x, y) => x - y)).toEqual(Array.from({ length: size }, (_, i) => i));
        }
      }),
    );
  });

  it('reshuffles on every pass (unlike itertools.cycle) and resumes exactly from its state', () => {
    const cycler = new AnomalyCycler(6, 3, new Rng(11));
    const passes = Array.from({ length: 8 }, () => [...cycler.next(), ...cycler.next()].join());
    expect(new Set(passes).size).toBeGreaterThan(4);

    const a = new AnomalyCycler(7, 3, new Rng(5));
    a.next();
    a.next();
    const b = AnomalyCycler.fromState(7, 3, JSON.parse(JSON.stringify(a.state())));
    for (let i = 0; i < 10; i++) expect(b.next()).toEqual(a.next());
  });

  it("'every-epoch': a new pass when an epoch starts, repeated in the same order until the next start", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }),
        fc.integer(),
        (size, batchSize, epochSteps, seed) => {
          const cycler = new AnomalyCycler(size, batchSize, new Rng(seed), 'every-epoch');
          const perPass = Math.ceil(size / cycler.batchSize);
          for (const steps of epochSteps) {
            const drawn = Array.from({ length: steps }, (_, i) => cycler.next(i === 0));
            const pass = drawn.slice(0, perPass);
            if (steps >= perPass) expect(pass.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: size }, (_, i) => i));
            drawn.forEach((batch, i) => expect(batch).toEqual(pass[i % perPass]));
          }
        },
      ),
    );
    // Epochs draw different passes; a copy continues exactly, even in the middle of a repeat.
    const cycler = new AnomalyCycler(9, 4, new Rng(2), 'every-epoch');
    const firsts = Array.from({ length: 6 }, () => cycler.next(true).join());
    expect(new Set(firsts).size).toBeGreaterThan(3);
    cycler.next();
    cycler.next();
    cycler.next();
    const copy = cycler.copy();
    for (let i = 0; i < 5; i++) expect(copy.next(i === 3)).toEqual(cycler.next(i === 3));
  });
});

describe('clipByGlobalNorm', () => {
  it('scales all gradients by min(1, max / (‖g‖ + 1e-6)) as torch.nn.utils.clip_grad_norm_', () => {
    const g1 = tf.tensor1d([3, 0]);
    const g2 = tf.tensor2d([[0, 4]]);
    const before = tf.memory().numTensors;
    const { clipped, norm } = clipByGlobalNorm([g1, g2], 1);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 6);
    const coef = 1 / (5 + 1e-6);
    expect(Array.from(clipped[0].dataSync())).toEqual([Math.fround(3 * coef), 0].map((x) => expect.closeTo(x, 7)));
    expect(clipped[1].shape).toEqual([1, 2]);
    expect(clipped[1].dataSync()[1]).toBeCloseTo(4 * coef, 7);
    // Below the limit: unchanged.
    const small = clipByGlobalNorm([g1, g2], 10);
    expect(Array.from(small.clipped[0].dataSync())).toEqual([3, 0]);
    tf.dispose([...clipped, norm, ...small.clipped, small.norm]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([g1, g2]);
  });
});

describe('resolveTrainerOptions', () => {
  it('fills in the documented defaults', () => {
    const r = resolveTrainerOptions();
    expect(r.strategy).toBe(CKAPatch);
    expect(r).toMatchObject({
      gamma: 0.5,
      lambda: 0.02,
      margin: 5,
      aeLearningRate: 1e-3,
      dLearningRate: 1e-4,
      batchSize: 16,
      epochs: 10,
      seed: 0,
      clipNorm: 1,
      checkpoint: null,
      resume: false,
      sigma: 4,
      topK: 100,
    });
    expect(TRAINER_DEFAULTS.epochs).toBe(10);
  });

  it('explicit options beat strategy defaults, which beat the trainer defaults', () => {
    const custom: Strategy = { ...CKAPatch, name: 'CKAPatch λ=0.1', defaults: { lambda: 0.1, margin: 3 } };
    expect(resolveTrainerOptions({ strategy: custom })).toMatchObject({ lambda: 0.1, margin: 3, gamma: 0.5 });
    expect(resolveTrainerOptions({ strategy: custom, lambda: 0.5 })).toMatchObject({ lambda: 0.5, margin: 3 });
  });

  const bad: [TrainerOptions, string][] = [
    [{ gamma: 0 }, 'options.gamma'],
    [{ gamma: 1.5 }, 'options.gamma'],
    [{ gamma: Number.NaN }, 'options.gamma'],
    [{ lambda: -0.1 }, 'options.lambda'],
    [{ margin: 0 }, 'options.margin'],
    [{ batchSize: 0 }, 'options.batchSize'],
    [{ batchSize: 2.5 }, 'options.batchSize'],
    [{ epochs: -1 }, 'options.epochs'],
    [{ aeLearningRate: 0 }, 'options.aeLearningRate'],
    [{ dLearningRate: -1 }, 'options.dLearningRate'],
    [{ clipNorm: 0 }, 'options.clipNorm'],
    [{ seed: 1.5 }, 'options.seed'],
    [{ anomalyShuffle: 'never' as unknown as 'every-pass' }, 'options.anomalyShuffle'],
    [{ topK: 0 }, 'options.topK'],
    [{ resume: true }, 'options.resume'],
    [{ checkpoint: '' }, 'options.checkpoint'],
    [{ strategy: { name: 'x' } as unknown as Strategy }, 'options.strategy'],
  ];
  it.each(bad)('rejects %j naming %s', (options, argument) => {
    let error: unknown;
    try {
      resolveTrainerOptions(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
    expect((error as Error).message).toContain(argument);
  });

  it('names the allowed values of a choice and the value found', () => {
    expect(() => resolveTrainerOptions({ anomalyShuffle: 'never' as unknown as 'every-pass' })).toThrow(/'every-pass' or 'every-epoch'.*"never"/);
  });
});

describe('strategies', () => {
  it('are values that differ only in their blocks', () => {
    expect(Object.keys(STRATEGIES)).toEqual(['Recon', 'ReconSub', 'GAN', 'CKAImg', 'CKAPatch']);
    expect([Recon, ReconSub, GAN, CKAImg, CKAPatch].map((s) => s.usesAnomalies)).toEqual([false, true, true, true, true]);
    expect([Recon, ReconSub].map((s) => s.adversary)).toEqual([null, null]);
    expect(GAN.adversary?.seesAnomalies).toBe(false);
    expect(CKAImg.adversary?.seesAnomalies).toBe(true);
    expect(CKAPatch.adversary?.seesAnomalies).toBe(true);
    // CKAImg and CKAPatch share the loss functions and differ in the discriminator only.
    expect(CKAImg.adversary?.discriminatorLoss).toBe(CKAPatch.adversary?.discriminatorLoss);
    expect(CKAImg.reconstructionObjective).toBe(CKAPatch.reconstructionObjective);
  });

  it('ReconSub subtracts λ·L_rec(A) and falls back to L_rec(N) without anomalies', () => {
    const f = [tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2])];
    const rGood = [tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2])];
    const rBad = [tf.tensor4d([0, 1, 1, 0], [2, 1, 1, 2])]; // cos = 0 → error 1 per image
    const w = { gamma: 0.5, lambda: 0.25, margin: 5 };
    const withA = ReconSub.reconstructionObjective(
      { normal: { features: f, reconstructions: rGood }, anomalous: { features: f, reconstructions: rBad } },
      w,
    );
    expect(withA.dataSync()[0]).toBeCloseTo(-0.25, 5);
    const withoutA = ReconSub.reconstructionObjective({ normal: { features: f, reconstructions: rBad }, anomalous: null }, w);
    expect(withoutA.dataSync()[0]).toBeCloseTo(1, 5);
    tf.dispose([...f, ...rGood, ...rBad, withA, withoutA]);
  });
});

describe('composeDiscriminators', () => {
  it('concatenates the heads, prefixes parameter names and disposes every part', () => {
    const patch = new EnergyDiscriminator({ channels: [4, 8], seed: 1 });
    const image = new ImageEnergyDiscriminator({ channels: [4, 8], sizes: [8, 4], seed: 2 });
    const d = composeDiscriminators({ patch, image });
    const names = [...d.parameters().keys()];
    expect(names.every((n) => n.startsWith('patch.') || n.startsWith('image.'))).toBe(true);
    expect(names.length).toBe(patch.parameters().size + image.parameters().size);
    expect(d.parameterCount()).toBe(patch.parameterCount() + image.parameterCount());
    const maps = [tf.randomNormal([2, 8, 8, 4]) as tf.Tensor4D, tf.randomNormal([2, 4, 4, 8]) as tf.Tensor4D];
    const out = d.forward(maps);
    expect(out.map((o) => o.shape)).toEqual([[2, 8, 8, 1], [2, 4, 4, 1], [2]]);
    tf.dispose([...maps, ...out]);
    const before = tf.memory().numTensors;
    d.dispose();
    expect(tf.memory().numTensors).toBe(before - names.length);
    expect(() => composeDiscriminators({})).toThrow(InvalidArgumentError);
    expect(() => composeDiscriminators({ 'a.b': patch })).toThrow(/dot/);
  });
});

describe('Adam state', () => {
  /** Runs `steps` Adam steps on a quadratic with two parameters. */
  function run(optimizer: tf.AdamOptimizer, parameters: Map<string, tf.Variable>, steps: number): void {
    for (let s = 0; s < steps; s++) {
      const { grads } = tf.variableGrads(() => {
        const [a, b] = [...parameters.values()];
        return tf.add(tf.sum(tf.square(tf.sub(a, 3))), tf.sum(tf.mul(b, b))) as tf.Scalar;
      }, [...parameters.values()]);
      applyInOrder(
        optimizer,
        parameters,
        [...parameters.values()].map((v) => grads[v.name]),
      );
      tf.dispose(Object.values(grads));
    }
  }
  const make = () =>
    new Map<string, tf.Variable>([
      ['a', tf.variable(tf.tensor1d([0.5, -1, 2]))],
      ['b', tf.variable(tf.tensor2d([[1, 2]]))],
    ]);

  it('saves and restores exactly: a restored optimiser continues bit for bit', async () => {
    const p1 = make();
    const o1 = createAdam(0.01);
    run(o1, p1, 37);
    const saved = await adamState(o1, p1);
    expect(saved.scalars.iterations).toBe(37);
    expect([...saved.tensors.keys()]).toEqual(['m.a', 'm.b', 'v.a', 'v.b']);
    const path = await encodeTensors(saved.tensors);
    const scalars = JSON.parse(JSON.stringify(saved.scalars)) as typeof saved.scalars;

    const p2 = make();
    for (const [name, v] of p1) p2.get(name)?.assign(v);
    const o2 = createAdam(0.01);
    const loaded = await loadTensors(path, adamShapes(p2));
    await restoreAdam(o2, p2, loaded, scalars);
    tf.dispose([...loaded.values()]);

    run(o1, p1, 25);
    run(o2, p2, 25);
    for (const [name, v] of p1) expect(Array.from(p2.get(name)?.dataSync() ?? [])).toEqual(Array.from(v.dataSync()));
    tf.dispose([...p1.values(), ...p2.values()]);
    o1.dispose();
    o2.dispose();
  });

  it('rejects moments of the wrong shape', async () => {
    const p = make();
    const o = createAdam(0.01);
    run(o, p, 2);
    const saved = await adamState(o, p);
    const path = await encodeTensors(saved.tensors);
    const other = new Map<string, tf.Variable>([
      ['a', tf.variable(tf.zeros([4]))],
      ['b', tf.variable(tf.zeros([1, 2]))],
    ]);
    await expect(loadTensors(path, adamShapes(other))).rejects.toThrow(WeightsMismatchError);
    await expect(loadTensors(path, adamShapes(other))).rejects.toThrow(/m\.a/);
    tf.dispose([...p.values(), ...other.values()]);
    o.dispose();
  });
});

describe('checkpoint state files', () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  it('returns null without a checkpoint and rejects foreign, broken or old state files', async () => {
    expect(await readCheckpointState(memoryStorage())).toBeNull();
    const stored = (text: string) => memoryStorage({ [CHECKPOINT_FILE]: bytes(text) }, 'ckpt-bad');
    await expect(readCheckpointState(stored('{"format": "something-else"}'))).rejects.toThrow(FileFormatError);
    await expect(readCheckpointState(stored('{ not json'))).rejects.toThrow(/ckpt-bad\/checkpoint\.json: not valid JSON/);
    await expect(readCheckpointState(stored('{"format": "ckaad-checkpoint", "version": 7}'))).rejects.toThrow(/version 7/);
    await expect(readCheckpointState(stored('{"format": "ckaad-checkpoint", "version": 1}'))).rejects.toThrow(/version 1 cannot be resumed/);
    await expect(readCheckpointState(stored('{"format": "ckaad-checkpoint", "version": 2, "progress": 3}'))).rejects.toThrow(CkaadError);
  });
});
