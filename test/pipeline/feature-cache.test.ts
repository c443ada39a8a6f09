/**
 * The test-feature cache: the features read back equal a direct extraction bit for bit (so
 * scores are unchanged), a second open reuses the file, other pixels get another file, a
 * corrupt file is named, and a stopped extraction leaves nothing behind.
 */

import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import { createResNetExtractor } from '../../src/backbone/extractor.js';
import type { ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import { FileFormatError } from '../../src/errors.js';
import { bytesToInput, memoryPixels } from '../../src/pipeline/pixels.js';
import { openTestFeatures, testFeatureKey } from '../../src/pipeline/feature-cache.js';
import { Rng } from '../../src/nn/random.js';
import { Scorer } from '../../src/scoring/scorer.js';
import { tempDir } from '../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let extractor: ResNetFeatureExtractor;
const size = 64;
const count = 7;

function randomPixels(seed: number) {
  const rng = new Rng(seed);
  const bytes = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rng.next() * 256);
  return memoryPixels(bytes, count, size, 3);
}

beforeAll(async () => {
  await useBackend('wasm');
  ({ dir, cleanup } = await tempDir('ckaad-test-features-'));
  extractor = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random', seed: 3 });
});
afterAll(async () => {
  extractor.dispose();
  await cleanup();
});

describe('openTestFeatures', () => {
  it('reads back exactly the extracted features, for any indices, and reuses its file', async () => {
    const pixels = randomPixels(1);
    const before = tf.memory().numTensors;
    const first = await openTestFeatures(extractor, pixels, { dir, backboneKey: 'a', batchSize: 3 });
    expect(first.computed).toBe(true);
    expect(first.shapes).toEqual([[8, 8, 128], [4, 4, 256]]);
    for (const indices of [[0, 1, 2, 3, 4, 5, 6], [5, 1, 6], [4]]) {
      const cached = first.read(indices);
      const input = bytesToInput(pixels.read(indices), indices.length, size);
      const direct = extractor.extract(input);
      expect(cached.map((t) => t.shape)).toEqual(direct.map((t) => t.shape));
      cached.forEach((t, l) => expect(Array.from(t.dataSync())).toEqual(Array.from(direct[l].dataSync())));
      tf.dispose([...cached, ...direct, input]);
    }
    first.close();
    expect(() => first.read([0])).toThrow(/closed/);
    expect(tf.memory().numTensors).toBe(before);

    const second = await openTestFeatures(extractor, pixels, { dir, backboneKey: 'a' });
    expect(second.computed).toBe(false);
    expect(second.path).toBe(first.path);
    second.close();
    // another backbone key or other pixels: another file
    const other = await openTestFeatures(extractor, randomPixels(2), { dir, backboneKey: 'a' });
    expect(other.path).not.toBe(first.path);
    other.close();
    expect(testFeatureKey('b', pixels)).not.toBe(testFeatureKey('a', pixels));
    expect((await stat(first.path)).size).toBe(count * (8 * 8 * 128 + 4 * 4 * 256) * 4);
  });

  it('scores from cached features exactly as from the images', async () => {
    const pixels = randomPixels(4);
    const features = await openTestFeatures(extractor, pixels, { dir, backboneKey: 'score' });
    const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'], seed: 1 });
    const scorer = new Scorer({ extractor, autoencoder, sigma: 2, topK: 10 });
    const indices = [2, 3, 4];
    const input = bytesToInput(pixels.read(indices), 3, size);
    const direct = scorer.scoreBatch(input);
    const maps = features.read(indices);
    const cached = scorer.scoreFeatureBatch(maps, [size, size]);
    expect(Array.from(cached.scores)).toEqual(Array.from(direct.scores));
    expect(Array.from(cached.maps)).toEqual(Array.from(direct.maps));
    expect(() => scorer.scoreFeatureBatch([], [size, size])).toThrow(/features/);
    expect(() => scorer.scoreFeatureBatch(maps, [0, size])).toThrow(/imageSize/);
    tf.dispose([input, ...maps]);
    autoencoder.dispose();
    features.close();
  });

  it('names a cache file of the wrong size, and leaves no file when stopped', async () => {
    const pixels = randomPixels(5);
    const features = await openTestFeatures(extractor, pixels, { dir, backboneKey: 'c' });
    features.close();
    await truncate(features.path, 100);
    const error = await openTestFeatures(extractor, pixels, { dir, backboneKey: 'c' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toContain(features.path);

    const stop = new AbortController();
    stop.abort();
    const stopDir = join(dir, 'stopped');
    await expect(openTestFeatures(extractor, randomPixels(6), { dir: stopDir, backboneKey: 'c', signal: stop.signal })).rejects.toThrow();
    expect(await readdir(stopDir)).toEqual([]);
  });
});
