/**
 * Testing a model: metrics over all / seen / unseen test images, checked with a hand-made
 * "model" whose anomaly map is known exactly (1 − cos between a pixel's colour and the
 * background colour), and the choice of examples.
 */

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/backbone/preprocess.js';
import type { TestItem, TestSet } from '../../src/experiment/data.js';
import { evaluateTestSet, exampleIndices, testSubsets } from '../../src/experiment/evaluate.js';
import { memoryPixels } from '../../src/pipeline/pixels.js';
import { Scorer } from '../../src/scoring/scorer.js';

const S = 32;
const BACKGROUND = [0.8, 0.2, 0.2];
const NORMAL_PATCH = [0.5, 0.5, 0.2]; // 1 − cos ≈ 0.134 against the background
const SEEN = [0.2, 0.2, 0.8]; // ≈ 0.5
const UNSEEN = [0.8, 0.35, 0.2]; // ≈ 0.013

/** An image of background colour with a 4×4 patch of `colour` at (8, 8); its mask if `defect`. */
function picture(colour: number[] | null, defect: boolean): { image: Uint8Array; mask: Uint8Array } {
  const image = new Uint8Array(S * S * 3);
  const mask = new Uint8Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const inPatch = colour !== null && x >= 8 && x < 12 && y >= 8 && y < 12;
      const c = inPatch ? (colour as number[]) : BACKGROUND;
      for (let k = 0; k < 3; k++) image[(y * S + x) * 3 + k] = Math.round(255 * c[k]);
      if (inPatch && defect) mask[y * S + x] = 1;
    }
  }
  return { image, mask };
}

function testSet(): TestSet {
  const specs: [TestItem, number[] | null][] = [
    [{ name: 'good/0', className: 'good', label: 0 }, NORMAL_PATCH],
    [{ name: 'seen/0', className: 'scratch', label: 1 }, SEEN],
    [{ name: 'good/1', className: 'good', label: 0 }, NORMAL_PATCH],
    [{ name: 'unseen/0', className: 'hole', label: 1 }, UNSEEN],
    [{ name: 'good/2', className: 'good', label: 0 }, NORMAL_PATCH],
    [{ name: 'seen/1', className: 'scratch', label: 1 }, SEEN],
    [{ name: 'good/3', className: 'good', label: 0 }, NORMAL_PATCH],
    [{ name: 'unseen/1', className: 'hole', label: 1 }, UNSEEN],
  ];
  const images = new Uint8Array(specs.length * S * S * 3);
  const masks = new Uint8Array(specs.length * S * S);
  specs.forEach(([item, colour], i) => {
    const p = picture(colour, item.label === 1);
    images.set(p.image, i * S * S * 3);
    masks.set(p.mask, i * S * S);
  });
  return { items: specs.map(([item]) => item), pixels: memoryPixels(images, specs.length, S), masks: memoryPixels(masks, specs.length, S, 1) };
}

/** Features = the image's colours in [0, 1]; "reconstruction" = the background colour (pixel (0, 0)) everywhere. */
const extractor = {
  extract: (images: tf.Tensor4D): tf.Tensor4D[] =>
    tf.tidy(() => [tf.add(tf.mul(images, tf.tensor1d([...IMAGENET_STD])), tf.tensor1d([...IMAGENET_MEAN])) as tf.Tensor4D]),
};
const autoencoder = {
  reconstruct: (maps: tf.Tensor4D[]): tf.Tensor4D[] =>
    tf.tidy(() => maps.map((m) => tf.tile(tf.slice(m, [0, 0, 0, 0], [-1, 1, 1, -1]), [1, m.shape[1], m.shape[2], 1]) as tf.Tensor4D)),
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('evaluateTestSet', () => {
  it('computes image and pixel metrics over all, seen and unseen test images', async () => {
    const before = tf.memory().numTensors;
    const scorer = new Scorer({ extractor, autoencoder, sigma: 0, topK: 10 });
    const { metrics, scores, examples } = await evaluateTestSet(scorer, testSet(), { batchSize: 3, seenClasses: ['scratch'], examplesPerClass: 1 });
    expect(tf.memory().numTensors).toBe(before);
    // Image scores = the patch's 1 − cos: seen > normal > unseen.
    const [normal, seen, unseen] = [scores[0], scores[1], scores[3]];
    expect(seen).toBeGreaterThan(normal);
    expect(normal).toBeGreaterThan(unseen);
    expect(scores[0]).toBeCloseTo(1 - 0.54 / Math.sqrt(0.72 * 0.54), 2);

    expect(metrics.seen).toMatchObject({ images: 6, anomalous: 2, imageAuroc: 1, f1: 1, accuracy: 1, pixelAuroc: 1, aupro: 1 });
    expect(metrics.unseen).toMatchObject({ images: 6, anomalous: 2, imageAuroc: 0 });
    expect(metrics.all).toMatchObject({ images: 8, anomalous: 4, imageAuroc: 0.5 });
    // Unseen pixels beat every normal pixel except the 4 normal images' 16-pixel patches:
    // negatives = 4·1024 + 2·(1024 − 16) = 6112, of which 64 score higher.
    expect(metrics.unseen?.pixelAuroc).toBeCloseTo(6048 / 6112, 10);
    expect(metrics.all.pixelAuroc).toBeGreaterThan(metrics.unseen?.pixelAuroc as number);
    expect(metrics.all.pixelAuroc).toBeLessThan(1);

    // One example per class: normal first, then the seen class, then the others.
    expect(examples?.names).toEqual(['good/0', 'seen/0', 'unseen/0']);
    expect(examples?.classNames).toEqual(['good', 'scratch', 'hole']);
    expect(Array.from(examples?.scores ?? [])).toEqual([scores[0], scores[1], scores[3]]);
    const mapOfSeen = examples?.maps.subarray(S * S, 2 * S * S) as Float32Array;
    expect(mapOfSeen[9 * S + 9]).toBeCloseTo(0.5, 2);
    expect(mapOfSeen[0]).toBeCloseTo(0, 5);
    expect(examples?.masks?.subarray(S * S, 2 * S * S)[9 * S + 9]).toBe(1);
  });

  it('reports only "all" without seen classes, and no pixel metrics without masks', async () => {
    const scorer = new Scorer({ extractor, autoencoder, sigma: 0, topK: 10 });
    const t = { ...testSet(), masks: null };
    const { metrics } = await evaluateTestSet(scorer, t, { batchSize: 8, seenClasses: [] });
    expect(Object.keys(metrics)).toEqual(['all']);
    expect(metrics.all.pixelAuroc).toBeUndefined();
    expect(metrics.all.imageAuroc).toBe(0.5);
  });

  it('stops between batches when the signal fires', async () => {
    const scorer = new Scorer({ extractor, autoencoder, sigma: 0, topK: 10 });
    const controller = new AbortController();
    controller.abort();
    await expect(evaluateTestSet(scorer, testSet(), { batchSize: 2, seenClasses: [], signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('subsets and examples', () => {
  it('seen/unseen exist only when the test set has anomalies of both kinds', () => {
    const t = testSet();
    expect([...testSubsets(t, ['scratch']).keys()]).toEqual(['all', 'seen', 'unseen']);
    expect([...testSubsets(t, ['scratch', 'hole']).keys()]).toEqual(['all']);
    expect([...testSubsets(t, ['elsewhere']).keys()]).toEqual(['all']);
    const seen = testSubsets(t, ['scratch']).get('seen') as (i: number) => boolean;
    expect(t.items.map((_, i) => seen(i))).toEqual([true, true, true, false, true, true, true, false]);
  });

  it('exampleIndices takes the first images of each class, normal first', () => {
    expect(exampleIndices(testSet(), ['hole'], 2)).toEqual([0, 2, 3, 7, 1, 5]);
    expect(exampleIndices(testSet(), [], 0)).toEqual([]);
  });
});
