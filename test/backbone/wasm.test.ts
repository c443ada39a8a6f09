/**
 * The same torchvision parity on the wasm backend (XNNPACK kernels: explicit conv padding and
 * the −∞ max-pool padding must behave as on cpu).
 */

import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

import { LAYER_NAMES, RESNET_CONFIGS } from '../../src/backbone/configs.js';
import { createResNetExtractor } from '../../src/backbone/extractor.js';
import { maxPool3x3s2 } from '../../src/backbone/resnet.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { formulaInput, formulaSafetensors } from './formula.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/resnet/', import.meta.url));

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('wasm backend', () => {
  it.each(['resnet18', 'wide_resnet50_2'] as const)('%s layer1..layer4 match torchvision within relative L2 1e-4', async (arch) => {
    expect(tf.getBackend()).toBe('wasm');
    const fixture = await readSafetensors(`${FIXTURES}${arch}.safetensors`);
    const extractor = await createResNetExtractor({ arch, layers: LAYER_NAMES, weights: formulaSafetensors(RESNET_CONFIGS[arch]) });
    const x = tf.tensor4d(formulaInput([2, 64, 64, 3]), [2, 64, 64, 3]);
    const before = tf.memory().numTensors;
    const outs = extractor.extract(x);
    const errors: string[] = [];
    for (const [i, layer] of LAYER_NAMES.entries()) {
      const ref = await fixture.float32(layer);
      const got = outs[i].dataSync();
      let num = 0;
      let den = 0;
      for (let j = 0; j < ref.length; j++) {
        num += (got[j] - ref[j]) ** 2;
        den += ref[j] ** 2;
      }
      const err = Math.sqrt(num / den);
      errors.push(`${layer} ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-4);
    }
    console.log(`[parity] ${arch} (wasm): ${errors.join(', ')}`);
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    extractor.dispose();
    await fixture.close();
  });

  it('max-pool pads with −∞', () => {
    const x = tf.tensor4d([-1, -2, -3, -4, -5, -6, -7, -8, -9], [1, 3, 3, 1]);
    const y = maxPool3x3s2(x);
    expect(Array.from(y.dataSync())).toEqual([-1, -2, -4, -5]);
    tf.dispose([x, y]);
  });
});
