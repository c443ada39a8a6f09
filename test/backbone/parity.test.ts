/**
 * Parity with torchvision: the fixtures hold the layer1..layer4 outputs of torchvision's
 * resnet18 and wide_resnet50_2 (scripts/make_resnet_fixtures.py) for closed-form weights and
 * input, which this test recomputes, encodes as a real `model.safetensors` (with
 * num_batches_tracked and fc.* to skip) and runs through the public loader.
 */

import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

import { LAYER_NAMES, RESNET_CONFIGS, type LayerName, type ResNetName } from '../../src/backbone/configs.js';
import { createResNetExtractor } from '../../src/backbone/extractor.js';
import { resnetWeightSpecs } from '../../src/backbone/resnet-weights.js';
import { readSafetensors, type SafetensorsReader } from '../../src/io/safetensors.js';
import { formulaInput, formulaSafetensors } from './formula.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/resnet/', import.meta.url));
const INPUT_SHAPE: [number, number, number, number] = [2, 64, 64, 3];
const TOLERANCE = 1e-4;

function relativeL2(got: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (got[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

async function checkAgainstFixture(arch: ResNetName, layers: readonly LayerName[], fixture: SafetensorsReader, weights: Uint8Array): Promise<number[]> {
  const extractor = await createResNetExtractor({ arch, layers, weights });
  const x = tf.tensor4d(formulaInput(INPUT_SHAPE), INPUT_SHAPE);
  const before = tf.memory().numTensors;
  const outs = extractor.extract(x);
  const errors: number[] = [];
  for (const [i, layer] of extractor.layers.entries()) {
    expect(outs[i].shape).toEqual(fixture.info(layer).shape);
    const err = relativeL2(outs[i].dataSync() as Float32Array, await fixture.float32(layer));
    errors.push(err);
  }
  outs.forEach((t) => t.dispose());
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
  extractor.dispose();
  return errors;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(['resnet18', 'wide_resnet50_2'] as const)('%s parity with torchvision', (arch) => {
  it(`layer1..layer4 within relative L2 ${TOLERANCE}`, async () => {
    const fixture = await readSafetensors(`${FIXTURES}${arch}.safetensors`);
    // The fixture's weights were assigned by torchvision state_dict order; ours must agree.
    expect(JSON.parse(fixture.metadata.param_names)).toEqual(resnetWeightSpecs(RESNET_CONFIGS[arch]).map((s) => s.name));
    const weights = formulaSafetensors(RESNET_CONFIGS[arch]);

    const started = Date.now();
    const errors = await checkAgainstFixture(arch, LAYER_NAMES, fixture, weights);
    console.log(
      `[parity] ${arch} (cpu, ${Date.now() - started} ms): ` + LAYER_NAMES.map((l, i) => `${l} ${errors[i].toExponential(2)}`).join(', '),
    );
    for (const e of errors) expect(e).toBeLessThanOrEqual(TOLERANCE);

    if (arch === 'resnet18') {
      // The input formula agrees with the script's.
      expect(await fixture.float32('input')).toEqual(formulaInput(INPUT_SHAPE));
      // A truncated network (no layer4) gives the same maps.
      const partial = await checkAgainstFixture(arch, ['layer3', 'layer2'], fixture, weights);
      for (const e of partial) expect(e).toBeLessThanOrEqual(TOLERANCE);
    }
    await fixture.close();
  });
});
