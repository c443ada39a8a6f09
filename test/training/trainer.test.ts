/**
 * CKAADTrainer on the tiniest real model (resnet18 {layer1, layer2}, random weights, 32×32,
 * batch 2) on wasm with the fast conv-gradient kernels.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import type { ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import type { Discriminator } from '../../src/discriminator/discriminator.js';
import { EnergyDiscriminator } from '../../src/discriminator/energy-discriminator.js';
import { GanDiscriminator } from '../../src/discriminator/gan-discriminator.js';
import { ImageEnergyDiscriminator } from '../../src/discriminator/image-energy-discriminator.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { energyDiscriminatorLoss } from '../../src/losses/energy-discriminator-loss.js';
import { energyGeneratorLoss } from '../../src/losses/energy-generator-loss.js';
import { reconstructionLoss } from '../../src/losses/reconstruction.js';
import { imageAuroc } from '../../src/metrics/auroc.js';
import { bestF1 } from '../../src/metrics/pr-curve.js';
import { Scorer } from '../../src/scoring/scorer.js';
import { checkpointFolder } from '../../src/node/folders.js';
import { readCheckpointProgress } from '../../src/training/checkpoint.js';
import { clipByGlobalNorm } from '../../src/training/clip.js';
import { tensorDataset } from '../../src/data/image-dataset.js';
import type { ImageDataset } from '../../src/data/image-dataset.js';
import type { EpochLog, StepLog } from '../../src/training/history.js';
import { CKAImg, CKAPatch, GAN, Recon, ReconSub } from '../../src/training/strategies.js';
import type { Adversary, Strategy } from '../../src/training/strategies.js';
import { CKAADTrainer } from '../../src/training/trainer.js';
import type { FitCallbacks, TrainingData } from '../../src/training/trainer.js';
import type { TrainerOptions } from '../../src/training/options.js';
import { LAYERS, maxDifference, setUpBackend, snapshot, textures, tinyExtractor } from './fixtures.js';

let extractor: ResNetFeatureExtractor;
let normal: tf.Tensor4D;
let anomalies: tf.Tensor4D;
let scratch: string;

beforeAll(async () => {
  await setUpBackend();
  extractor = await tinyExtractor();
  normal = textures(4, 1);
  anomalies = textures(2, 1, true);
  scratch = await mkdtemp(join(tmpdir(), 'ckaad-trainer-'));
});

afterAll(async () => {
  tf.dispose([normal, anomalies]);
  extractor.dispose();
  await rm(scratch, { recursive: true, force: true });
});

const data = (): TrainingData => ({ normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) });

/** Trains, collects the step logs, disposes the auto-encoder, returns logs and result summary. */
async function train(options: TrainerOptions, callbacks: FitCallbacks = {}, d: TrainingData = data()) {
  const steps: StepLog[] = [];
  const trainer = new CKAADTrainer({ extractor }, { batchSize: 2, ...options });
  const result = await trainer.fit(d, {
    ...callbacks,
    onStep: async (s) => {
      steps.push(s);
      await callbacks.onStep?.(s);
    },
  });
  const weights = snapshot(result.autoencoder.parameters());
  result.autoencoder.dispose();
  return { steps, result, weights };
}

/** The losses of a step, without the wall-clock parts. */
const losses = (s: StepLog) => [s.step, s.epoch, s.batch, s.lRec, s.lAdv, s.lD, s.lAe, s.dGradNorm, s.anomalies];
const epochLosses = (e: EpochLog) => [e.epoch, e.steps, e.lRec, e.lAdv, e.lD, e.lAe, e.validationAuroc];

/** A strategy that behaves as `base` but records the discriminator it builds and counts its forward passes. */
function instrumented(base: Strategy) {
  const record: { discriminator: Discriminator | null; initial: Map<string, Float32Array> | null; forwards: number } = {
    discriminator: null,
    initial: null,
    forwards: 0,
  };
  const adversary: Adversary | null =
    base.adversary === null
      ? null
      : {
          ...base.adversary,
          createDiscriminator(context) {
            const d = (base.adversary as Adversary).createDiscriminator(context);
            record.discriminator = d;
            record.initial = snapshot(d.parameters());
            const forward = d.forward.bind(d);
            d.forward = (maps) => {
              record.forwards += 1;
              return forward(maps);
            };
            return d;
          },
        };
  return { strategy: { ...base, adversary } satisfies Strategy, record };
}

/** A dataset that records which indices each batch asked for. */
function recording(images: tf.Tensor4D): { dataset: ImageDataset; requests: number[][] } {
  const inner = tensorDataset(images);
  const requests: number[][] = [];
  return {
    requests,
    dataset: {
      size: inner.size,
      batch(indices) {
        requests.push([...indices]);
        return inner.batch(indices);
      },
    },
  };
}

describe('one training step', () => {
  it('equals a reference step: D on detached inputs + clipping, then the AE against the updated D', async () => {
    const { strategy, record } = instrumented(CKAPatch);
    const normals = recording(tf.slice(normal, 0, 2));
    const anomalous = recording(anomalies);
    const clipNorm = 0.02; // small enough to be active: the first D gradient has norm ≈ 0.11
    let dAfter = new Map<string, Float32Array>();
    const { steps, weights } = await train(
      { strategy, epochs: 1, clipNorm, seed: 3 },
      { onStep: () => void (dAfter = snapshot((record.discriminator as Discriminator).parameters())) },
      { normal: normals.dataset, anomalies: anomalous.dataset },
    );
    expect(steps.length).toBe(1);
    expect(steps[0].dGradNorm).toBeGreaterThan(clipNorm);

    // Reference: the step of docs/reference-implementation.md §4 written out plainly, with a separate, untaped forward
    // pass of the auto-encoder for the discriminator, on the batches the trainer drew.
    const n = normals.requests[normals.requests.length - 1];
    const a = anomalous.requests[anomalous.requests.length - 1];
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: LAYERS, seed: 3 });
    const d = new EnergyDiscriminator({ channels: [64, 128] });
    for (const [name, v] of d.parameters()) v.assign(tf.tensor(record.initial?.get(name) as Float32Array, v.shape));
    // The authors' Adam: betas (0.5, 0.999) and PyTorch's ε 1e-8 (tfjs's default is 1e-7).
    const aeOpt = tf.train.adam(1e-3, 0.5, 0.999, 1e-8);
    const dOpt = tf.train.adam(1e-4, 0.5, 0.999, 1e-8);
    const x = tf.concat([tf.gather(normal, n), tf.gather(anomalies, a)]);
    const maps = extractor.extract(x);
    const fN = maps.map((m) => tf.slice(m, [0, 0, 0, 0], [2, -1, -1, -1]));
    const fA = maps.map((m) => tf.slice(m, [2, 0, 0, 0], [2, -1, -1, -1]));
    const r0 = ae.reconstruct(maps);
    const dVars = [...d.parameters().values()];
    const dg = tf.variableGrads(
      () => energyDiscriminatorLoss({ normal: d.forward(fN), anomalous: d.forward(fA), reconstructed: d.forward(r0) }, { gamma: 0.5, margin: 5 }),
      dVars,
    );
    const gradList = dVars.map((v) => dg.grads[v.name]);
    // The norm, in double precision; the clipping itself with the library's float32 function
    // (checked against torch's formula in units.test.ts), because Adam's first step divides by
    // |g| + 1e-8 and so magnifies any last-bit difference in tiny gradients up to 10⁵ times.
    const norm = Math.sqrt(gradList.reduce((sum, g) => sum + tf.sum(tf.square(g)).dataSync()[0], 0));
    const { clipped } = clipByGlobalNorm(gradList, clipNorm);
    dOpt.applyGradients(dVars.map((v, i) => ({ name: v.name, tensor: clipped[i] })));
    const aeVars = [...ae.parameters().values()];
    const ag = tf.variableGrads(() => {
      const r = ae.reconstruct(maps);
      const rN = r.map((t) => tf.slice(t, [0, 0, 0, 0], [2, -1, -1, -1]));
      return tf.add(reconstructionLoss(fN, rN), tf.mul(0.02, energyGeneratorLoss(d.forward(r)))) as tf.Scalar;
    }, aeVars);
    aeOpt.applyGradients(aeVars.map((v) => ({ name: v.name, tensor: ag.grads[v.name] })));

    expect(steps[0].lD).toBeCloseTo(dg.value.dataSync()[0], 5);
    expect(steps[0].dGradNorm).toBeCloseTo(norm, 4);
    expect(steps[0].lAe).toBeCloseTo(ag.value.dataSync()[0], 5);
    const dInitial = record.initial as Map<string, Float32Array>;
    expect(maxDifference(dInitial, snapshot(d.parameters()))).toBeGreaterThan(5e-5); // D did move
    expect(maxDifference(dAfter, snapshot(d.parameters()))).toBeLessThan(1e-8);
    const aeInitial = snapshot(new FeatureAutoEncoder({ backbone: 'resnet18', layers: LAYERS, seed: 3 }).parameters());
    expect(maxDifference(aeInitial, weights)).toBeGreaterThan(5e-4); // the AE did move
    expect(maxDifference(weights, snapshot(ae.parameters()))).toBeLessThan(1e-7);

    tf.dispose([x, ...maps, ...fN, ...fA, ...r0, dg.value, ag.value, ...Object.values(dg.grads), ...Object.values(ag.grads)]);
    aeOpt.dispose();
    dOpt.dispose();
    ae.dispose();
    d.dispose();
  });
});

describe('strategies', () => {
  const cases: [Strategy, (new (...args: never[]) => Discriminator) | null, number][] = [
    [Recon, null, 0],
    [ReconSub, null, 0],
    [GAN, GanDiscriminator, 3], // D(F(N)), D(R) for D; D(R) for the AE — never D(F(A))
    [CKAImg, ImageEnergyDiscriminator, 4], // D(F(N)), D(F(A)), D(R); D(R)
    [CKAPatch, EnergyDiscriminator, 4],
  ];
  it.each(cases)('%o runs a step and uses the discriminator as specified', async (base, kind, forwards) => {
    const { strategy, record } = instrumented(base);
    const { steps } = await train({ strategy, epochs: 1 }, {}, { normal: tensorDataset(tf.slice(normal, 0, 2)), anomalies: tensorDataset(anomalies) });
    expect(steps.length).toBe(1);
    const [s] = steps;
    expect(Number.isFinite(s.lRec) && s.lRec > 0).toBe(true);
    if (kind === null) {
      expect(record.discriminator).toBeNull();
      expect([s.lD, s.lAdv, s.dGradNorm]).toEqual([0, 0, 0]);
    } else {
      expect(record.discriminator).toBeInstanceOf(kind);
      expect(record.forwards).toBe(forwards);
      expect(s.lD).toBeGreaterThan(0);
      expect(s.dGradNorm).toBeGreaterThan(0);
      expect(s.lAe).toBeCloseTo(s.lRec + 0.02 * s.lAdv, 5);
    }
    if (base === Recon) expect(s.lAe).toBe(s.lRec);
    if (base === ReconSub) expect(s.lAe).toBeLessThan(s.lRec); // − λ·L_rec(A)
    expect(s.anomalies).toBe(base.usesAnomalies ? 2 : 0);
  });

  it('without anomalies CKAPatch is pure Recon: no discriminator', async () => {
    const { strategy, record } = instrumented(CKAPatch);
    const withNone = await train({ strategy, epochs: 1 }, {}, { normal: tensorDataset(normal) });
    const empty = await train({ strategy, epochs: 1 }, {}, { normal: tensorDataset(normal), anomalies: tensorDataset(tf.slice(anomalies, 0, 0)) });
    const recon = await train({ strategy: Recon, epochs: 1 }, {}, { normal: tensorDataset(normal) });
    expect(record.discriminator).toBeNull();
    expect(withNone.steps.map(losses)).toEqual(recon.steps.map(losses));
    expect(empty.steps.map(losses)).toEqual(recon.steps.map(losses));
  });
});

describe('memory', () => {
  it('holds the same number of tensors after 1 and after 20 steps, and none after', async () => {
    const baseline = tf.memory().numTensors;
    const atStep: number[] = [];
    const trainer = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 10 });
    const result = await trainer.fit(data(), { onStep: () => void atStep.push(tf.memory().numTensors) });
    expect(atStep.length).toBe(20);
    expect(atStep[19]).toBe(atStep[0]);
    expect(new Set(atStep).size).toBe(1);
    // Left over: exactly the returned auto-encoder's variables.
    expect(tf.memory().numTensors).toBe(baseline + result.autoencoder.parameters().size);
    result.autoencoder.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('validation scoring after every epoch and scoring after training leave nothing behind', async () => {
    const baseline = tf.memory().numTensors;
    const atEpoch: number[] = [];
    const validationImages = tf.concat([normal, anomalies]) as tf.Tensor4D;
    const validation = { images: tensorDataset(validationImages), labels: new Uint8Array([0, 0, 0, 0, 1, 1]) };
    const trainer = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 3 });
    const result = await trainer.fit({ ...data(), validation }, { onEpoch: () => void atEpoch.push(tf.memory().numTensors) });
    expect(atEpoch.length).toBe(3);
    expect(new Set(atEpoch).size).toBe(1); // (the best epoch's copy exists from epoch 1 on)
    const parameters = result.autoencoder.parameters().size;
    expect(tf.memory().numTensors).toBe(baseline + 1 + parameters); // + the validation images
    const scorer = new Scorer({ extractor, autoencoder: result.autoencoder });
    const before = tf.memory().numTensors;
    await scorer.score([normal, anomalies]);
    expect(tf.memory().numTensors).toBe(before);
    result.autoencoder.dispose();
    validationImages.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});

describe('reproducibility, checkpoints and resume', () => {
  let straight: Awaited<ReturnType<typeof train>>;
  beforeAll(async () => {
    straight = await train({ strategy: CKAPatch, epochs: 2 });
  });

  it('the same seed gives the same losses and weights; another seed does not', async () => {
    const again = await train({ strategy: CKAPatch, epochs: 2 });
    expect(again.steps.map(losses)).toEqual(straight.steps.map(losses));
    expect(maxDifference(again.weights, straight.weights)).toBe(0);
    const other = await train({ strategy: CKAPatch, epochs: 1, seed: 1 });
    expect(other.steps[0].lRec).not.toBe(straight.steps[0].lRec);
  });

  it('1 epoch + checkpoint + resume 1 epoch equals 2 epochs', async () => {
    const dir = join(scratch, 'epoch-boundary');
    const first = await train({ strategy: CKAPatch, epochs: 1, checkpoint: dir });
    expect(first.result.status).toBe('completed');
    const second = await train({ strategy: CKAPatch, epochs: 2, checkpoint: dir, resume: true });
    expect([...first.steps, ...second.steps].map(losses)).toEqual(straight.steps.map(losses));
    expect(second.result.history.map(epochLosses)).toEqual(straight.result.history.map(epochLosses));
    expect(second.result.steps).toBe(4);
    expect(maxDifference(second.weights, straight.weights)).toBe(0);
  });

  it('an abort mid-epoch checkpoints, releases everything, and resumes to the same result', async () => {
    const dir = join(scratch, 'mid-epoch');
    const controller = new AbortController();
    const baseline = tf.memory().numTensors;
    const aborted = await train(
      { strategy: CKAPatch, epochs: 2, checkpoint: dir },
      { signal: controller.signal, onStep: (s) => void (s.step === 3 && controller.abort()) },
    );
    expect(aborted.result.status).toBe('aborted');
    expect(aborted.result.steps).toBe(3);
    expect(aborted.result.history.length).toBe(1);
    expect(tf.memory().numTensors).toBe(baseline);
    // Where the checkpoint stands: epoch 1 (2 steps) done, 1 step into epoch 2.
    expect(await readCheckpointProgress(checkpointFolder(dir))).toEqual({ epoch: 1, batchInEpoch: 1, step: 3, history: aborted.result.history, best: null });
    const resumed = await train({ strategy: CKAPatch, epochs: 2, checkpoint: dir, resume: true });
    expect([...aborted.steps, ...resumed.steps].map(losses)).toEqual(straight.steps.map(losses));
    expect(resumed.result.history.map(epochLosses)).toEqual(straight.result.history.map(epochLosses));
    expect(maxDifference(resumed.weights, straight.weights)).toBe(0);
    // Nothing left to do: resuming a finished run trains no more steps.
    expect(await readCheckpointProgress(checkpointFolder(dir))).toMatchObject({ epoch: 2, batchInEpoch: 0, step: 4 });
    const done = await train({ strategy: CKAPatch, epochs: 2, checkpoint: dir, resume: true });
    expect(done.steps.length).toBe(0);
    expect(maxDifference(done.weights, straight.weights)).toBe(0);
  });

  it('refuses to resume a checkpoint written with other options or data', async () => {
    const dir = join(scratch, 'epoch-boundary');
    const trainer = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 3, lambda: 0.1, checkpoint: dir, resume: true });
    const error = await trainer.fit(data()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('options.resume');
    expect((error as Error).message).toMatch(/lambda = 0\.1.*lambda = 0\.02/);
    const fewer = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 3, checkpoint: dir, resume: true });
    await expect(fewer.fit({ normal: tensorDataset(normal) })).rejects.toThrow(/training data|discriminator/);
  });
});

describe('model selection on a validation split', () => {
  it('records the validation AUROC per epoch and returns the best epoch’s weights', async () => {
    const images = tf.concat([normal, anomalies]) as tf.Tensor4D;
    // Two of the normal images are labelled anomalous: AUROC then does not simply grow with training.
    const validation = { images: tensorDataset(images), labels: new Uint8Array([0, 1, 0, 1, 1, 0]) };
    const perEpoch: Map<string, Float32Array>[] = [];
    const checkpoint = join(scratch, 'selection');
    const trainer = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 4, aeLearningRate: 5e-3, checkpoint });
    const result = await trainer.fit(
      { ...data(), validation },
      // onEpoch runs after validation and gets the live auto-encoder: this epoch's weights.
      { onEpoch: (_log, autoencoder) => void perEpoch.push(snapshot(autoencoder.parameters())) },
    );
    const aurocs = result.history.map((h) => h.validationAuroc as number);
    expect(aurocs.length).toBe(4);
    expect(aurocs.every((x) => x >= 0 && x <= 1)).toBe(true);
    const best = Math.max(...aurocs);
    const bestEpoch = aurocs.indexOf(best) + 1;
    expect(result.best).toMatchObject({ epoch: bestEpoch, auroc: best });
    expect(maxDifference(snapshot(result.autoencoder.parameters()), perEpoch[bestEpoch - 1])).toBe(0);
    expect(await readCheckpointProgress(checkpointFolder(checkpoint))).toEqual({
      epoch: 4,
      batchInEpoch: 0,
      step: 8,
      history: result.history,
      best: { epoch: bestEpoch, auroc: best },
    });
    // The returned weights score the validation split with exactly the best AUROC, and the
    // stored threshold is that split's best-F1 threshold.
    const { scores } = await new Scorer({ extractor, autoencoder: result.autoencoder }).score([images]);
    expect(imageAuroc(validation.labels, scores)).toBe(best);
    expect(result.best?.threshold).toBe(bestF1(validation.labels, scores).threshold);
    result.autoencoder.dispose();
    images.dispose();
    console.log(`validation AUROC per epoch: ${aurocs.map((x) => x.toFixed(3)).join(', ')} (best epoch ${bestEpoch})`);
  });
});

describe('input checks', () => {
  it('names the problem: too few normal images, too small images, mismatched sizes, bad labels', async () => {
    const trainer = new CKAADTrainer({ extractor }, { batchSize: 8, epochs: 1 });
    await expect(trainer.fit(data())).rejects.toThrow(/data\.normal\.size.*at least 8/);
    const small = tf.image.resizeBilinear(normal, [16, 16]);
    const t2 = new CKAADTrainer({ extractor }, { batchSize: 2, epochs: 1 });
    await expect(t2.fit({ normal: tensorDataset(small) })).rejects.toThrow(/data\.normal.*32×32.*16×16/);
    const big = tf.image.resizeBilinear(anomalies, [48, 48]);
    await expect(t2.fit({ normal: tensorDataset(normal), anomalies: tensorDataset(big) })).rejects.toThrow(ShapeMismatchError);
    const images = tensorDataset(normal);
    await expect(t2.fit({ normal: images, validation: { images, labels: new Uint8Array([0, 0, 0, 0]) } })).rejects.toThrow(/both normal/);
    await expect(t2.fit({ normal: images, validation: { images, labels: new Uint8Array([0, 1, 2, 0]) } })).rejects.toThrow(/only 0/);
    await expect(t2.fit({ normal: images, validation: { images, labels: new Uint8Array([0, 1]) } })).rejects.toThrow(ShapeMismatchError);
    expect(() => new CKAADTrainer({ extractor }, { gamma: 2 })).toThrow(/options\.gamma/);
    tf.dispose([small, big]);
  });

  it('an already aborted signal trains nothing and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    controller.abort();
    const { steps, result } = await train({ epochs: 3 }, { signal: controller.signal });
    expect(result.status).toBe('aborted');
    expect(steps.length).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
