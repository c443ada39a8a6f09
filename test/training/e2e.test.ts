/**
 * A tiny end-to-end run: CKAPatch on generated 32×32 stripe textures with a few labelled
 * anomalies (the same kind of textures with a bright blob), then scoring a test set of fresh
 * textures and the very same textures with a blob planted in each.
 */

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

import type { ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import { Scorer } from '../../src/scoring/scorer.js';
import { tensorDataset } from '../../src/data/image-dataset.js';
import { CKAPatch } from '../../src/training/strategies.js';
import { CKAADTrainer } from '../../src/training/trainer.js';
import { setUpBackend, textures, tinyExtractor } from './fixtures.js';

let extractor: ResNetFeatureExtractor;

beforeAll(async () => {
  await setUpBackend();
  extractor = await tinyExtractor();
});

afterAll(() => extractor.dispose());

it('the reconstruction loss falls and planted defects score above every normal test image', async () => {
  const baseline = tf.memory().numTensors;
  const normal = textures(8, 1);
  const anomalies = textures(4, 2, true);
  const testNormal = textures(6, 3);
  const testDefect = textures(6, 3, true); // the same six textures, each with a blob

  const trainer = new CKAADTrainer({ extractor }, { strategy: CKAPatch, batchSize: 4, epochs: 12, aeLearningRate: 5e-3 });
  const result = await trainer.fit({ normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) });
  const curve = result.history.map((h) => h.lRec);
  expect(result.status).toBe('completed');
  expect(curve.length).toBe(12);
  expect(curve[11]).toBeLessThan(0.5 * curve[0]);
  expect(curve.slice(1).every((l) => l < curve[0])).toBe(true);
  expect(result.history.every((h) => h.lD > 0 && h.lAdv > 0)).toBe(true);

  const scorer = new Scorer({ extractor, autoencoder: result.autoencoder });
  const clean = scorer.scoreBatch(testNormal).scores;
  const defect = scorer.scoreBatch(testDefect).scores;
  console.log(`L_rec per epoch: ${curve.map((l) => l.toFixed(3)).join(' ')}`);
  console.log(`normal scores: ${Array.from(clean, (s) => s.toFixed(3)).join(' ')}`);
  console.log(`defect scores: ${Array.from(defect, (s) => s.toFixed(3)).join(' ')}`);
  // Every planted blob raises its image's score, and the most visible one beats every normal image.
  defect.forEach((s, i) => expect(s).toBeGreaterThan(clean[i]));
  expect(Math.max(...defect)).toBeGreaterThan(Math.max(...clean));

  result.autoencoder.dispose();
  tf.dispose([normal, anomalies, testNormal, testDefect]);
  expect(tf.memory().numTensors).toBe(baseline);
});
