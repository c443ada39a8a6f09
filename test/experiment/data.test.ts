/**
 * The data of a run: pixel sources, the decode cache, sub-sampling, and the splits built for
 * the synthetic set (labelled anomalies rendered anew, never test images) and Fashion-MNIST.
 */

import '@tensorflow/tfjs-backend-cpu';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { preprocessImages } from '../../src/backbone/preprocess.js';
import { decodeImage } from '../../src/node/images.js';
import { labelledAnomalyCount } from '../../src/data/sampler.js';
import { ExperimentData } from '../../src/experiment/data.js';
import { derivedSeed } from '../../src/pipeline/keys.js';
import { decodeToCache } from '../../src/pipeline/pixel-cache.js';
import { limitPerClass } from '../../src/pipeline/split.js';
import { assertNotInTest } from '../../src/pipeline/synthetic.js';
import { expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';
import { bytesToInput, elasticSourceDataset, filePixels, memoryPixels, sourceDataset, subsetPixels } from '../../src/pipeline/pixels.js';
import { tempDir, writeImage } from '../data/helpers.js';
import { tinyIdx } from '../cli/helpers.js';
import { FASHION_MNIST_CLASSES, idxPixels, readIdxDataset } from '../../src/node/readers/idx.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  await tf.setBackend('cpu');
  ({ dir, cleanup } = await tempDir('ckaad-expdata-'));
});
afterAll(async () => cleanup());

function pixels(count: number, size: number): Uint8Array {
  return Uint8Array.from({ length: count * size * size * 3 }, (_, i) => (i * 7 + Math.floor(i / 11)) % 256);
}

describe('pixel sources', () => {
  it('memory, subset and file sources return the same bytes', async () => {
    const bytes = pixels(5, 4);
    const mem = memoryPixels(bytes, 5, 4);
    expect(mem.read([3, 1])).toEqual(Uint8Array.from([...bytes.subarray(3 * 48, 4 * 48), ...bytes.subarray(48, 96)]));
    const sub = subsetPixels(mem, [4, 2]);
    expect(sub.count).toBe(2);
    expect(sub.read([1, 0])).toEqual(mem.read([2, 4]));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'raw.rgb'), bytes);
    const file = filePixels(join(dir, 'raw.rgb'), 5, 4, 3);
    expect(file.read([0, 4, 2])).toEqual(mem.read([0, 4, 2]));
    file.close();
    expect(() => file.read([0])).toThrow(/closed/);
    expect(() => mem.read([5])).toThrow(/indices/);
    expect(() => subsetPixels(mem, [7])).toThrow(/indices/);
    expect(() => memoryPixels(bytes, 4, 4)).toThrow(/bytes/);
  });

  it('sourceDataset preprocesses like preprocessImages; elastic datasets draw anew per call', () => {
    const before = tf.memory().numTensors;
    const mem = memoryPixels(pixels(3, 16), 3, 16);
    const ds = sourceDataset(mem);
    const x = ds.batch([2, 0]);
    const raw = tf.tensor4d(Float32Array.from(mem.read([2, 0])), [2, 16, 16, 3]);
    const expected = preprocessImages(raw, { size: 16 });
    expect(Array.from(x.dataSync())).toEqual(Array.from(expected.dataSync()));
    const elastic = elasticSourceDataset(mem, 1);
    const [a, b] = [elastic.batch([1]), elastic.batch([1])];
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(b.dataSync()));
    tf.dispose([x, raw, expected, a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('decodeToCache', () => {
  it('decodes once, reads back what decodeImage gives, and reuses a complete cache', async () => {
    const items = [0, 1, 2].map((i) => ({ path: join(dir, 'img', `${i}.png`) }));
    for (const [i, item] of items.entries()) await writeImage(item.path, 20, 12, i);
    const cache = join(dir, 'cache');
    const first = await decodeToCache(cache, items, 16, false);
    for (const [i, item] of items.entries()) {
      const decoded = await decodeImage(item.path, { size: 16 });
      expect(first.images.read([i])).toEqual(decoded.data);
    }
    expect(first.masks).toBeNull();
    first.close();
    const files = (await import('node:fs/promises')).readdir;
    const names = (await files(cache)).sort();
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const rgb = names.find((n) => n.endsWith('.rgb')) as string;
    const mtime = (await stat(join(cache, rgb))).mtimeMs;
    const second = await decodeToCache(cache, items, 16, false);
    expect((await stat(join(cache, rgb))).mtimeMs).toBe(mtime);
    expect(second.images.read([2])).toEqual((await decodeImage(items[2].path, { size: 16 })).data);
    second.close();
    // Another size or another list is another cache.
    const third = await decodeToCache(cache, items.slice(0, 2), 16, false);
    third.close();
    expect((await files(cache)).filter((n) => n.endsWith('.rgb')).length).toBe(2);
  });
});

describe('helpers', () => {
  it('limitPerClass keeps at most n per class, in input order, reproducibly', () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ id: i, className: ['a', 'b', 'c'][i % 3], label: 0 as const }));
    const kept = limitPerClass(items, 4, 0);
    expect(kept.length).toBe(12);
    for (const c of ['a', 'b', 'c']) expect(kept.filter((k) => k.className === c).length).toBe(4);
    expect(kept.map((k) => k.id)).toEqual([...kept.map((k) => k.id)].sort((x, y) => x - y));
    expect(limitPerClass(items, 4, 0)).toEqual(kept);
    expect(limitPerClass(items, 4, 1)).not.toEqual(kept);
    expect(limitPerClass(items, 100, 0)).toEqual(items);
  });

  it('derivedSeed gives independent safe-integer seeds per purpose and values', () => {
    const s = derivedSeed('labelled', 0, 1);
    expect(Number.isSafeInteger(s)).toBe(true);
    expect(derivedSeed('labelled', 0, 1)).toBe(s);
    expect(new Set([s, derivedSeed('validation', 0, 1), derivedSeed('labelled', 0, 2), derivedSeed('labelled', 1, 1)]).size).toBe(4);
  });
});

describe('ExperimentData: synthetic set', () => {
  const protocol = parseProtocol({
    name: 'syn',
    dataset: { kind: 'synthetic', categories: ['disc'], defects: ['scratch', 'hole'], seed: 3, trainCount: 10, testGoodCount: 3, testDefectCount: 2 },
    arms: [{ strategy: 'CKAPatch', labelled: [0.3, 'elastic'] }],
    labelledClasses: ['hole'],
    seeds: [0],
    epochs: 1,
    imageSize: 64,
    validationFraction: 0.2,
    model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
  });

  it('renders new images of the seen kind for the labelled anomalies and validation, never test images', async () => {
    const [labelledRun, elasticRun] = expandGrid(protocol);
    const data = new ExperimentData({ resultsDir: join(dir, 'syn') });
    try {
      const run = await data.prepare(labelledRun);
      // 10 normal training images: 2 held out; m = round(8 / 0.7 − 8) = 3 labelled anomalies.
      expect(run.counts).toEqual({ normal: 8, labelledAnomalies: labelledAnomalyCount(8, 0.3), validationNormal: 2, validationAnomalous: 2, test: 3 + 2 * 2 });
      expect(run.counts.labelledAnomalies).toBe(3);
      expect(run.labelledClasses).toEqual(['hole']);
      expect(Array.from(run.validation?.labels ?? [])).toEqual([0, 0, 1, 1]);
      expect(run.test.items.map((t) => `${t.className}:${t.label}`).sort()).toEqual(['good:0', 'good:0', 'good:0', 'hole:1', 'hole:1', 'scratch:1', 'scratch:1']);
      expect(run.test.masks).not.toBeNull();
      // The labelled and validation anomalies are not test images (and not normal training images).
      const before = tf.memory().numTensors;
      const n = run.test.items.length;
      const testInput = bytesToInput(run.test.pixels.read(run.test.items.map((_, i) => i)), n, 64);
      const per = 64 * 64 * 3;
      const t = testInput.dataSync();
      const testImages = new Set(Array.from({ length: n }, (_, i) => t.subarray(i * per, (i + 1) * per).join()));
      const trainInput = run.normal.batch(Array.from({ length: 8 }, (_, i) => i));
      const tr = trainInput.dataSync();
      const known = new Set([...testImages, ...Array.from({ length: 8 }, (_, i) => tr.subarray(i * per, (i + 1) * per).join())]);
      const anomalies = run.anomalies?.batch([0, 1, 2]) as tf.Tensor4D;
      const validation = run.validation?.images.batch([0, 1, 2, 3]) as tf.Tensor4D;
      expect(anomalies.shape).toEqual([3, 64, 64, 3]);
      expect(validation.shape).toEqual([4, 64, 64, 3]);
      const rendered = [...Array.from({ length: 3 }, (_, i) => anomalies.dataSync().subarray(i * per, (i + 1) * per).join()), ...[2, 3].map((i) => validation.dataSync().subarray(i * per, (i + 1) * per).join())];
      expect(new Set(rendered).size).toBe(5);
      for (const r of rendered) expect(known.has(r)).toBe(false);
      tf.dispose([testInput, trainInput]);
      // Same seed, same images: the split is reproducible.
      const again = await new ExperimentData({ resultsDir: join(dir, 'syn') }).prepare(labelledRun);
      const a2 = again.anomalies?.batch([0, 1, 2]) as tf.Tensor4D;
      expect(Array.from(a2.dataSync())).toEqual(Array.from(anomalies.dataSync()));
      tf.dispose([anomalies, validation, a2]);
      expect(tf.memory().numTensors).toBe(before);
      expect(testImages.size).toBe(7);

      const elastic = await data.prepare(elasticRun);
      expect(elastic.labelledClasses).toEqual(['elastic']);
      expect(elastic.counts.labelledAnomalies).toBe(elastic.counts.normal);
      expect(elastic.counts.validationAnomalous).toBe(2);
    } finally {
      await data.close();
    }
  });

  it('assertNotInTest catches a rendered image equal to a test image', () => {
    const test = memoryPixels(pixels(3, 8), 3, 8);
    const fresh = memoryPixels(pixels(3, 8).map((v) => 255 - v), 3, 8);
    expect(() => assertNotInTest([fresh, null], test, 'disc')).not.toThrow();
    expect(() => assertNotInTest([fresh, subsetPixels(test, [2])], test, 'disc')).toThrow(/image 0 of set 1 equals a test image/);
  });

  it('refuses a generated set whose settings differ from the protocol', async () => {
    const other = parseProtocol({ ...protocol, dataset: { ...protocol.dataset, trainCount: 11 } });
    const data = new ExperimentData({ resultsDir: join(dir, 'syn') });
    await expect(data.prepare(expandGrid(other)[0])).rejects.toThrow(/trainCount: 10, protocol wants 11/);
    await data.close();
  });
});

const FASHION = '/usr/share/datasets/fashion-mnist';

describe.skipIf(!existsSync(FASHION))('ExperimentData: Fashion-MNIST', () => {
  it('splits by the paper protocol: validation from all classes, labelled anomalies from the labelled class', async () => {
    const protocol = parseProtocol({
      name: 'fm',
      dataset: { kind: 'fashion-mnist', root: FASHION },
      normalClasses: ['Trouser'],
      arms: [{ strategy: 'CKAPatch', labelled: [0.05] }],
      labelledClasses: ['Bag'],
      seeds: [0],
      epochs: 1,
      imageSize: 64,
      limits: { trainPerClass: 100, testPerClass: 10 },
      model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
    });
    const [run] = expandGrid(protocol);
    const data = new ExperimentData({ resultsDir: join(dir, 'fm') });
    const d = await data.prepare(run);
    // n_val = min(⌊0.05·100⌋, ⌊0.05·900⌋) = 5 of each; 95 normal; m = round(95 / 0.95 − 95) = 5
    expect(d.counts).toEqual({ normal: 95, labelledAnomalies: 5, validationNormal: 5, validationAnomalous: 5, test: 100 });
    expect(d.labelledClasses).toEqual(['Bag']);
    expect(d.test.items.filter((t) => t.label === 0).every((t) => t.className === 'Trouser')).toBe(true);
    expect(d.test.items.filter((t) => t.label === 0).length).toBe(10);
    expect(d.test.pixels.size).toBe(64);
    const x = d.normal.batch([0]);
    expect(x.shape).toEqual([1, 64, 64, 3]);
    x.dispose();
    await data.close();
  });
});

describe('ExperimentData: one listing of an IDX set for every normal class', () => {
  it("trains each run on its own normal class's images", async () => {
    const root = await tinyIdx(join(dir, 'idx'), [0, 1, 2], 60);
    const protocol = parseProtocol({
      name: 'idx',
      dataset: { kind: 'fashion-mnist', root },
      normalClasses: ['Pullover', 'Trouser'],
      arms: [{ strategy: 'Recon', labelled: [0] }],
      seeds: [0],
      epochs: 1,
      imageSize: 64,
      model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
    });
    const data = new ExperimentData({ resultsDir: join(dir, 'idx-results') });
    const stack = (await readIdxDataset(root, { normalClass: 0, classNames: FASHION_MNIST_CLASSES })).trainImages;
    const before = tf.memory().numTensors;
    for (const run of expandGrid(protocol)) {
      const d = await data.prepare(run);
      const label = FASHION_MNIST_CLASSES.indexOf(run.normalClass);
      // Every normal training image is one of the normal class's (label value = index mod 3).
      const x = d.normal.batch(Array.from({ length: d.counts.normal }, (_, i) => i));
      const per = 64 * 64 * 3;
      const normal = x.dataSync();
      const candidates = Array.from({ length: 60 }, (_, i) => i);
      const reference = bytesToInput(idxPixels(stack, candidates, 64), 60, 64);
      const r = reference.dataSync();
      for (let n = 0; n < d.counts.normal; n++) {
        const image = normal.subarray(n * per, (n + 1) * per).join();
        const match = candidates.find((i) => r.subarray(i * per, (i + 1) * per).join() === image);
        expect(match === undefined ? undefined : match % 3).toBe(label);
      }
      tf.dispose([x, reference]);
    }
    expect(tf.memory().numTensors).toBe(before);
    await data.close();
  });
});
