/**
 * Trains Recon and CKAPatch on the same generated data and prints their per-epoch loss
 * curves side by side, then the image AUROC of each on a generated test set.
 *
 *   npm run build && npx tsx --tsconfig examples/tsconfig.json examples/train-tiny.ts [epochs]
 *
 * The backbone is resnet18 with random weights (no download), so the numbers only show that
 * the machinery works; with ImageNet weights (`createResNetExtractor({ weights: 'resnet18.safetensors' })`)
 * and real data the same code trains the paper's models.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

import {
  CKAADTrainer,
  CKAPatch,
  Recon,
  createResNetExtractor,
  createScorer,
  describeExtractor,
  loadModel,
  saveModel,
  tensorDataset,
  trainingRecord,
  useBackend,
} from 'ckaad';
import type { EpochLog, Strategy } from 'ckaad';
import { imageAuroc } from 'ckaad/metrics';
import { modelFolder } from 'ckaad/node';
import { SIZE, textures } from './synthetic-textures.js';

/** Runs the example; returns the printed report. */
export async function main(epochs = 12): Promise<string> {
  const lines: string[] = [];
  const print = (line: string) => {
    lines.push(line);
    console.log(line);
  };
  await useBackend('wasm'); // with ckaad's fast convolution gradients: training on wasm is practical

  const extractorOptions = { arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random', seed: 0 } as const;
  const extractor = await createResNetExtractor(extractorOptions);
  const normal = textures(8, 1);
  const anomalies = textures(4, 2, true); // a few labelled anomalies (image labels only)
  // Test set: 12 fresh textures, and the same 12 with a blob planted in each.
  const testImages = tf.concat([textures(12, 3), textures(12, 3, true)]);
  const testLabels = new Uint8Array(24).fill(1, 12);

  const histories = new Map<string, EpochLog[]>();
  const aurocs = new Map<string, number>();
  let modelDir = '';
  for (const strategy of [Recon, CKAPatch] as Strategy[]) {
    const started = performance.now();
    const trainer = new CKAADTrainer({ extractor }, { strategy, epochs, batchSize: 4, aeLearningRate: 5e-3, seed: 0 });
    const result = await trainer.fit({ normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) });
    histories.set(strategy.name, result.history);
    const { scores } = createScorer({ extractor, autoencoder: result.autoencoder, scoring: { sigma: 4, topK: 100, threshold: null } }).scoreBatch(testImages);
    aurocs.set(strategy.name, imageAuroc(testLabels, scores));
    print(`${strategy.name}: ${result.steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (strategy === CKAPatch) {
      // Save the CKAPatch model, load it back, and check that it scores the same.
      modelDir = await mkdtemp(join(tmpdir(), 'ckaad-example-'));
      await saveModel(modelFolder(join(modelDir, 'model')), {
        extractor: await describeExtractor(extractorOptions),
        autoencoder: result.autoencoder,
        imageSize: SIZE,
        training: trainingRecord(trainer, result),
      });
      const loaded = await loadModel(modelFolder(join(modelDir, 'model')));
      const again = createScorer(loaded).scoreBatch(testImages).scores;
      print(`saved and reloaded CKAPatch model scores identically: ${again.every((s, i) => s === scores[i])}`);
      loaded.dispose();
    }
    result.autoencoder.dispose();
  }

  const recon = histories.get('Recon') as EpochLog[];
  const patch = histories.get('CKAPatch') as EpochLog[];
  print('');
  print('epoch | Recon L_rec | CKAPatch L_rec | CKAPatch L_adv | CKAPatch L_D');
  print('------|-------------|----------------|----------------|-------------');
  recon.forEach((r, i) => {
    const p = patch[i];
    print(
      `${String(r.epoch).padStart(5)} | ${r.lRec.toFixed(4).padStart(11)} | ${p.lRec.toFixed(4).padStart(14)} | ` +
        `${p.lAdv.toFixed(4).padStart(14)} | ${p.lD.toFixed(4).padStart(12)}`,
    );
  });
  print('');
  print(`image AUROC on 12 test textures + the same 12 with a planted blob: Recon ${aurocs.get('Recon')?.toFixed(3)}, CKAPatch ${aurocs.get('CKAPatch')?.toFixed(3)}`);

  tf.dispose([normal, anomalies, testImages]);
  extractor.dispose();
  if (modelDir !== '') await rm(modelDir, { recursive: true, force: true });
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv[2] === undefined ? undefined : Number(process.argv[2]));
}
