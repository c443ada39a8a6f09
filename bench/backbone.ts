/**
 * Backbone forward throughput on the active backend: resnet18 {layer2, layer3} (medical
 * setting) and wide_resnet50_2 {layer1, layer2, layer3} (industrial setting), batch 4 at
 * 256×256, random weights (throughput does not depend on the values).
 */
import * as tf from '@tensorflow/tfjs-core';

import { createResNetExtractor } from '../src/backbone/extractor.js';
import type { LayerName, ResNetName } from '../src/backbone/configs.js';
import type { BenchFn, BenchRow } from './types.js';

const BATCH = 4;
const SIZE = 256;
const ITERATIONS = 2;

const CASES: { arch: ResNetName; layers: LayerName[] }[] = [
  { arch: 'resnet18', layers: ['layer2', 'layer3'] },
  { arch: 'wide_resnet50_2', layers: ['layer1', 'layer2', 'layer3'] },
];

/** One warm-up pass, then the mean of {@link ITERATIONS} timed passes (outputs read back, so the work is done). */
export const run: BenchFn = async () => {
  await tf.ready();
  const backend = tf.getBackend();
  const rows: BenchRow[] = [];
  const images = tf.randomNormal([BATCH, SIZE, SIZE, 3], 0, 1, 'float32', 0) as tf.Tensor4D;
  for (const { arch, layers } of CASES) {
    const extractor = await createResNetExtractor({ arch, layers, weights: 'random' });
    const pass = async () => {
      const maps = extractor.extract(images);
      await Promise.all(maps.map((m) => m.data()));
      tf.dispose(maps);
    };
    await pass();
    const started = performance.now();
    for (let i = 0; i < ITERATIONS; i++) await pass();
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      group: 'backbone',
      name: `${arch} {${layers.map((l) => l.slice(5)).join(',')}} forward, batch ${BATCH} × ${SIZE}²`,
      value: (BATCH * ITERATIONS) / seconds,
      unit: 'images/s',
      note: backend,
    });
    extractor.dispose();
  }
  images.dispose();
  return rows;
};
