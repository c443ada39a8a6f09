/**
 * The one application pipeline: the dataset registry serves the command line's and the
 * protocols' kinds, errors speak the caller's words, the split forms each setting's lists, the
 * two pixel loaders (decode per list, pick from one cached decode) give the trainer the same
 * bytes, and the evaluator gives the same numbers from decoded files as from decoded pixels.
 */

import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DATASET_KINDS as CLI_KINDS } from '../../src/cli/dataset.js';
import { OptionError } from '../../src/cli/errors.js';
import { trainingSplit as cliSplit } from '../../src/cli/split.js';
import type { ImageDataset } from '../../src/data/image-dataset.js';
import { sampleProtocol } from '../../src/data/sampler.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { CATEGORY_KINDS, MULTI_CLASS_KINDS } from '../../src/experiment/protocol.js';
import { renameArguments } from '../../src/pipeline/arguments.js';
import { DATASET_KINDS, DATASET_REGISTRY, openDataset } from '../../src/pipeline/datasets.js';
import type { DataItem, Dataset } from '../../src/pipeline/datasets.js';
import { evaluate, decodedBatches, sourceBatches } from '../../src/pipeline/evaluate.js';
import { derivedSeed } from '../../src/pipeline/keys.js';
import { decodeToCache } from '../../src/pipeline/pixel-cache.js';
import { loadRunData, memoryLoader, pickingLoader } from '../../src/pipeline/run-data.js';
import { trainingSplit } from '../../src/pipeline/split.js';
import { generateSyntheticDefects } from '../../src/node/synthetic-writer.js';
import { Scorer } from '../../src/scoring/scorer.js';
import { tempDir } from '../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let root: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  ({ dir, cleanup } = await tempDir('ckaad-pipeline-'));
  root = join(dir, 'synthetic');
  await generateSyntheticDefects({ target: root, size: 32, seed: 2, classes: ['disc'], defects: ['scratch', 'hole'], trainCount: 10, testGoodCount: 3, testDefectCount: 2 });
});
afterAll(() => cleanup());

/** A multi-class dataset of listed items only (no files): classes a (normal), b, c. */
function listed(counts: Record<string, number>): Dataset {
  const train: DataItem[] = Object.entries(counts).flatMap(([c, n]) =>
    Array.from({ length: n }, (_, i) => ({ label: (c === 'a' ? 0 : 1) as 0 | 1, className: c, path: `/x/${c}/${i}.png`, name: `${c}/${i}` })),
  );
  return { kind: 'chest-xray', setting: 'protocol', root: '/x', normalClass: 'a', classes: ['a', 'b', 'c'], train, test: [] };
}

describe('the dataset registry', () => {
  it('holds every kind the command line and the protocols name, in their orders', () => {
    for (const kind of [...CLI_KINDS, ...MULTI_CLASS_KINDS, ...CATEGORY_KINDS]) expect(DATASET_KINDS).toContain(kind);
    expect([...MULTI_CLASS_KINDS, ...CATEGORY_KINDS]).toEqual(DATASET_KINDS.filter((k) => k !== 'folder'));
    expect(CLI_KINDS).not.toContain('synthetic');
    for (const kind of MULTI_CLASS_KINDS) expect(DATASET_REGISTRY[kind].classes?.length).toBeGreaterThan(1);
    expect(DATASET_REGISTRY.visa.maskThreshold).toBe(0);
    expect(DATASET_REGISTRY.mvtec.maskThreshold).toBe(0.5);
  });

  it('opens a per-category set as items named by their path below the root', async () => {
    const ds = await openDataset({ kind: 'synthetic', root, category: 'disc' });
    expect(ds.setting).toBe('industrial');
    expect(ds.train).toHaveLength(10);
    expect(ds.train.every((t) => t.label === 0 && /^disc\/train\/good\/\d+$/.test(t.name))).toBe(true);
    expect(ds.test.filter((t) => t.maskPath !== undefined)).toHaveLength(4);
  });

  it('names its own parameters, which a caller renames to its own words and error class', async () => {
    await expect(openDataset({ kind: 'mvtec', root })).rejects.toThrow(/^Invalid category: expected the object category/);
    const run = () => openDataset({ kind: 'mvtec', root, category: 'nope' });
    await expect(renameArguments(run, { 'options.category': '--category' }, OptionError)).rejects.toBeInstanceOf(Error);
    const e = await renameArguments(() => openDataset({ kind: 'mvtec', root }), { category: '--category' }, OptionError).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OptionError);
    expect((e as OptionError).argument).toBe('--category');
    expect((e as Error).message).toMatch(/^Invalid --category: expected the object category/);
    expect(() => renameArguments(() => { throw new InvalidArgumentError('k', 'at most 2'); }, { k: 'protocol.k' })).toThrow(/^Invalid protocol\.k: expected at most 2\.$/);
  });
});

describe('the split', () => {
  it('multi-class sets follow the paper protocol (sampleProtocol)', () => {
    const ds = listed({ a: 40, b: 40, c: 40 });
    const split = trainingSplit(ds, { labelled: 0.2, k: 1, anomalyClass: 'b', validationFraction: 0.05, seed: 3 });
    const reference = sampleProtocol(ds.train, { normalClass: 'a', labelledRatio: 0.2, anomalyClass: 'b', validationFraction: 0.05, seed: 3, classes: ds.classes });
    expect(split.normal).toEqual(reference.normal);
    expect(split.anomalies).toEqual(reference.labelledAnomalies);
    expect(split.validation).toEqual(reference.validation);
    expect(split.facts.requestedAnomalies).toBe(10);
  });

  it('per-category sets hold out validation images only when asked, with elastic or rendered anomalies', async () => {
    const ds = await openDataset({ kind: 'synthetic', root, category: 'disc' });
    const plain = trainingSplit(ds, { labelled: 0.1, k: 1, validationFraction: 0.2, seed: 0 });
    expect(plain.normal).toEqual(ds.train);
    expect(plain.anomalies).toBe('elastic');
    expect(plain.validation).toEqual([]);
    const held = trainingSplit(ds, { labelled: 'elastic', k: 1, validationFraction: 0.2, industrialValidation: true, seed: 0 });
    expect(held.validation).toHaveLength(2);
    expect(held.normal).toHaveLength(8);
    expect(new Set([...held.normal, ...held.validation].map((t) => t.path)).size).toBe(10);
    expect(held.validationAnomalies).toBe('elastic');
    const rendered = trainingSplit(ds, { labelled: 0.3, k: 2, validationFraction: 0.2, industrialValidation: true, seed: 0, synthetic: { defects: ['scratch', 'hole'], seed: 2 } });
    expect(rendered.anomalies).toEqual({ kind: 'rendered', defects: expect.arrayContaining(['scratch', 'hole']), count: 3 });
    expect(rendered.validationAnomalies).toEqual({ kind: 'rendered', defects: (rendered.anomalies as { defects: string[] }).defects, count: 2 });
  });

  it('the command line checks its options first and notes what it did, in order', () => {
    const ds = listed({ a: 30, b: 3, c: 0 });
    expect(() => cliSplit(ds, { ratio: 0.2, k: 3, validationFraction: 0, seed: 0 })).toThrow(OptionError);
    expect(() => cliSplit(ds, { ratio: 0.2, k: 1, anomalyClass: 'C', validationFraction: 0, seed: 0 })).toThrow(/--anomaly-class: expected a class with training images/);
    const split = cliSplit(ds, { ratio: 0.2, k: 1, anomalyClass: 'B', maxNormal: 20, validationFraction: 0.05, seed: 1 });
    expect(split.notes).toEqual([
      'using 20 of 30 normal training images (--max-normal, seed 1)',
      "only 3 labelled anomalies available in 'b' (r_l = 0.2 asks for 5)",
      'the validation hold-out is empty (too few images): the last epoch is kept',
    ]);
  });
});

describe('pixels for the trainer', () => {
  it('decoding each list and picking from one cached decode give the same datasets', async () => {
    const ds = await openDataset({ kind: 'synthetic', root, category: 'disc' });
    const split = trainingSplit(ds, { labelled: 'elastic', k: 1, validationFraction: 0.2, industrialValidation: true, seed: 4 });
    const seeds = { elastic: derivedSeed('elastic', 0, 4), validationElastic: derivedSeed('validation-elastic', 0, 4) };
    const cached = await decodeToCache(join(dir, 'cache'), ds.train, 32, false);
    const before = tf.memory().numTensors;
    try {
      const a = await loadRunData(split, { loader: memoryLoader({ size: 32, onBadImage: 'fail' }), seeds });
      const b = await loadRunData(split, { loader: pickingLoader(ds.train, cached.images), seeds });
      expect(a.counts).toEqual({ normal: 8, anomalies: 'elastic', validationNormal: 2, validationAnomalous: 2 });
      expect(b.counts).toEqual(a.counts);
      expect(Array.from(b.data.validation?.labels ?? [])).toEqual([0, 0, 1, 1]);
      const all = (d: ImageDataset | undefined) => {
        if (d === undefined) throw new Error('no dataset');
        const x = d.batch(Array.from({ length: d.size }, (_, i) => i));
        const v = Array.from(x.dataSync());
        x.dispose();
        return v;
      };
      expect(all(b.data.normal)).toEqual(all(a.data.normal));
      expect(all(b.data.validation?.images)).toEqual(all(a.data.validation?.images));
      // The first elastic draw of both comes from the same stream.
      expect(all(b.data.anomalies)).toEqual(all(a.data.anomalies));
      await expect(loadRunData(split, { loader: memoryLoader({ size: 32, onBadImage: 'fail' }), seeds, minNormal: 9 })).rejects.toThrow(
        /^Invalid batchSize: expected at most the number of normal training images \(8\), found 9\.$/,
      );
    } finally {
      cached.close();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the evaluator', () => {
  /** Features = the image; "reconstruction" = its mean colour everywhere. */
  const extractor = { extract: (x: tf.Tensor4D) => [tf.clone(x)] };
  const autoencoder = { reconstruct: (maps: tf.Tensor4D[]) => maps.map((m) => tf.tidy(() => tf.mul(tf.onesLike(m), tf.mean(m, [1, 2], true)) as tf.Tensor4D)) };

  it('gives the same scores and metrics from decoded files as from cached pixels', async () => {
    const ds = await openDataset({ kind: 'synthetic', root, category: 'disc' });
    const scorer = new Scorer({ extractor, autoencoder, sigma: 1, topK: 5 });
    const before = tf.memory().numTensors;
    const decoded = await evaluate({
      scorer,
      imageSize: 32,
      items: ds.test,
      labelled: true,
      batches: decodedBatches(ds.test, { size: 32, batchSize: 3, masks: true, onBadImage: 'fail' }),
      masks: true,
      seenClasses: ['hole'],
      keep: new Set([0, 4]),
    });
    const cached = await decodeToCache(join(dir, 'cache'), ds.test, 32, true);
    const picked = await evaluate({
      scorer,
      imageSize: 32,
      items: ds.test,
      labelled: true,
      batches: sourceBatches(cached.images, cached.masks, 4),
      masks: true,
      seenClasses: ['hole'],
      keep: new Set([0, 4]),
    });
    cached.close();
    expect(tf.memory().numTensors).toBe(before);
    expect(picked.scored).toEqual(decoded.scored);
    expect(picked.subsets).toEqual(decoded.subsets);
    expect(Object.keys(decoded.subsets)).toEqual(['all', 'seen', 'unseen']);
    expect(decoded.subsets.all.images).toBe(7);
    expect(decoded.subsets.all.anomalous).toBe(4);
    for (const m of Object.values(decoded.subsets).map((s) => s.metrics)) {
      for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
    }
    expect(decoded.kept.map((k) => k.index)).toEqual([0, 4]);
    expect(picked.kept).toEqual(decoded.kept);

    // Without labels, no image metrics; without anomalies in the masks, no pixel metrics.
    const normal = ds.test.filter((t) => t.label === 0);
    const unlabelled = await evaluate({
      scorer,
      imageSize: 32,
      items: normal,
      labelled: false,
      batches: decodedBatches(normal, { size: 32, batchSize: 8, masks: true, onBadImage: 'fail' }),
      masks: true,
    });
    expect(unlabelled.subsets.all.metrics).toEqual({ imageAuroc: null, f1: null, accuracy: null, threshold: null, pixelAuroc: null, pro: null });
  });
});
