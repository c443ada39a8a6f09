import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { RESNET_CONFIGS, type ResNetName } from '../../src/backbone/configs.js';
import { createResNetExtractor } from '../../src/backbone/extractor.js';
import { convBn } from '../../src/backbone/resnet.js';
import {
  BN_EPS,
  checkWeights,
  foldConvBn,
  loadResNetWeights,
  randomWeightSource,
  tensorSeed,
  resnetWeightSpecs,
  type ConvBnSpec,
  type WeightSource,
} from '../../src/backbone/resnet-weights.js';
import { encodeSafetensors, readSafetensors, type SafetensorsTensorInput } from '../../src/io/safetensors.js';
import { FileFormatError, WeightsMismatchError } from '../../src/errors.js';
import { Rng } from '../../src/nn/random.js';
import { formulaSafetensors } from './formula.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A zero-filled torchvision-style file of an architecture (cheap to build, real format). */
function zeroFile(arch: ResNetName, drop: (name: string) => boolean = () => false): Uint8Array {
  const tensors: Record<string, SafetensorsTensorInput> = {};
  for (const s of resnetWeightSpecs(RESNET_CONFIGS[arch])) {
    if (drop(s.name)) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    tensors[s.name] = { dtype: 'F32', shape: s.shape, data: new Float32Array(n).fill(s.role === 'bn_var' ? 1 : 0) };
    if (s.role === 'bn_var') tensors[s.name.replace('running_var', 'num_batches_tracked')] = { dtype: 'I64', shape: [], data: new BigInt64Array(1) };
  }
  return encodeSafetensors(tensors);
}

async function mismatch(promise: Promise<unknown>): Promise<WeightsMismatchError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeightsMismatchError);
  return err as WeightsMismatchError;
}

describe('torchvision tensor names and shapes', () => {
  // Parameter counts (conv + BN affine, without fc) and state_dict sizes printed by torchvision 0.14.
  const TORCHVISION: Record<ResNetName, { params: number; tensors: number }> = {
    resnet18: { params: 11_176_512, tensors: 100 },
    resnet34: { params: 21_284_672, tensors: 180 },
    resnet50: { params: 23_508_032, tensors: 265 },
    resnet101: { params: 42_500_160, tensors: 520 },
    wide_resnet50_2: { params: 66_834_240, tensors: 265 },
    wide_resnet101_2: { params: 124_837_696, tensors: 520 },
  };

  it.each(Object.keys(TORCHVISION) as ResNetName[])('%s matches torchvision', (arch) => {
    const specs = resnetWeightSpecs(RESNET_CONFIGS[arch]);
    expect(specs.length).toBe(TORCHVISION[arch].tensors);
    const params = specs
      .filter((s) => s.role === 'conv' || s.role === 'bn_weight' || s.role === 'bn_bias')
      .reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(TORCHVISION[arch].params);
    expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
  });

  it('uses torchvision shapes for basic and (wide) bottleneck blocks', () => {
    const shape = (arch: ResNetName, name: string) => resnetWeightSpecs(RESNET_CONFIGS[arch]).find((s) => s.name === name)?.shape;
    expect(shape('resnet18', 'conv1.weight')).toEqual([64, 3, 7, 7]);
    expect(shape('resnet18', 'layer1.0.downsample.0.weight')).toBeUndefined();
    expect(shape('resnet18', 'layer2.0.downsample.0.weight')).toEqual([128, 64, 1, 1]);
    expect(shape('resnet50', 'layer1.0.conv2.weight')).toEqual([64, 64, 3, 3]);
    expect(shape('wide_resnet50_2', 'layer1.0.conv2.weight')).toEqual([128, 128, 3, 3]);
    expect(shape('wide_resnet50_2', 'layer1.0.downsample.0.weight')).toEqual([256, 64, 1, 1]);
    expect(shape('wide_resnet50_2', 'layer3.5.conv3.weight')).toEqual([1024, 512, 1, 1]);
    expect(shape('wide_resnet50_2', 'layer4.0.downsample.1.running_var')).toEqual([2048]);
  });
});

describe('weights validation', () => {
  it('a wide_resnet50_2 file given for resnet18 fails once, listing every bad tensor', async () => {
    const err = await mismatch(createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: zeroFile('wide_resnet50_2') }));
    const r18 = new Map(resnetWeightSpecs(RESNET_CONFIGS.resnet18).map((s) => [s.name, s.shape]));
    const wide = new Map(resnetWeightSpecs(RESNET_CONFIGS.wide_resnet50_2).map((s) => [s.name, s.shape]));
    const expected = new Set<string>();
    for (const [n, s] of wide) if (!r18.has(n) || r18.get(n)!.join() !== s.join()) expected.add(n);
    for (const [n] of r18) if (!wide.has(n)) expected.add(n); // (none: every resnet18 name exists in the wide net)
    expect(new Set(err.problems.map((p) => p.name))).toEqual(expected);
    expect(err.problems.length).toBe(expected.size);
    expect(err.message).toContain('wrong shape: layer1.0.conv1.weight (expected [64, 64, 3, 3], found [128, 64, 1, 1])');
    expect(err.message).toContain('unexpected: layer1.0.conv3.weight (found [256, 128, 1, 1])');
    expect(err.message).toContain('unexpected: layer4.2.bn3.running_var (found [2048])');
    expect(err.message).toMatch(/^<weights bytes> \(for resnet18\): weights do not match/);
  });

  it('lists every missing tensor of the needed stages, and allows deeper ones to be absent', async () => {
    const noLayer4 = zeroFile('resnet18', (n) => n.startsWith('layer4.'));
    const ok = await createResNetExtractor({ arch: 'resnet18', layers: ['layer3'], weights: noLayer4 });
    ok.dispose();
    const err = await mismatch(createResNetExtractor({ arch: 'resnet18', layers: ['layer4'], weights: noLayer4 }));
    const layer4 = resnetWeightSpecs(RESNET_CONFIGS.resnet18).filter((s) => s.stage === 4);
    expect(err.problems.map((p) => p.name)).toEqual(layer4.map((s) => s.name));
    expect(err.problems.every((p) => p.kind === 'missing')).toBe(true);
    expect(err.message).toContain('missing: layer4.0.conv1.weight (expected [512, 256, 3, 3])');

    const holes = zeroFile('resnet18', (n) => n === 'layer2.1.bn2.running_var' || n === 'bn1.bias');
    const err2 = await mismatch(createResNetExtractor({ arch: 'resnet18', layers: ['layer2'], weights: holes }));
    expect(err2.problems.map((p) => `${p.kind} ${p.name}`)).toEqual(['missing bn1.bias', 'missing layer2.1.bn2.running_var']);
  });

  it('reports mis-shaped tensors of unused deeper stages too', () => {
    const specs = resnetWeightSpecs(RESNET_CONFIGS.resnet18);
    const source: WeightSource = {
      source: 'fake',
      names: [...specs.map((s) => s.name), 'fc.weight', 'bn1.num_batches_tracked', 'head.weight'],
      info: (name) => ({ dtype: 'F32', shape: name === 'layer4.1.conv2.weight' ? [512, 512, 1, 1] : specs.find((s) => s.name === name)?.shape ?? [7] }),
      float32: () => Promise.reject(new Error('not read')),
    };
    let caught: unknown;
    try {
      checkWeights(RESNET_CONFIGS.resnet18, 2, source);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WeightsMismatchError);
    expect((caught as WeightsMismatchError).problems).toEqual([
      { name: 'layer4.1.conv2.weight', kind: 'shape', expected: [512, 512, 3, 3], found: [512, 512, 1, 1] },
      { name: 'head.weight', kind: 'unexpected', found: [7] },
    ]);
  });

  it('rejects negative running variances with a FileFormatError', async () => {
    const tensors: Record<string, SafetensorsTensorInput> = {};
    for (const s of resnetWeightSpecs(RESNET_CONFIGS.resnet18)) {
      const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(s.role === 'bn_var' ? 1 : 0);
      if (s.name === 'layer1.0.bn2.running_var') data[5] = -1;
      tensors[s.name] = { dtype: 'F32', shape: s.shape, data };
    }
    await expect(createResNetExtractor({ arch: 'resnet18', layers: ['layer1'], weights: encodeSafetensors(tensors) })).rejects.toThrow(
      /layer1.0.bn2.running_var\[5\] = -1/,
    );
    await expect(createResNetExtractor({ arch: 'resnet18', layers: ['layer1'], weights: encodeSafetensors(tensors) })).rejects.toBeInstanceOf(FileFormatError);
  });
});

describe('loading', () => {
  it('reads only the tensors of the stem and the needed stages, and frees nothing it did not create', async () => {
    const reader = await readSafetensors(formulaSafetensors(RESNET_CONFIGS.resnet18));
    const read: string[] = [];
    const spy: WeightSource = {
      source: reader.source,
      names: reader.names,
      info: (n) => reader.info(n),
      float32: (n) => {
        read.push(n);
        return reader.float32(n);
      },
    };
    const before = tf.memory().numTensors;
    const weights = await loadResNetWeights(RESNET_CONFIGS.resnet18, 2, spy);
    const needed = resnetWeightSpecs(RESNET_CONFIGS.resnet18).filter((s) => s.stage <= 2);
    expect(read.sort()).toEqual(needed.map((s) => s.name).sort());
    expect(weights.stages.length).toBe(2);
    // one filter and one bias per conv of the stem, layer1 and layer2
    const convs = needed.filter((s) => s.role === 'conv');
    expect(tf.memory().numTensors - before).toBe(2 * convs.length);
    expect(weights.numParameters).toBe(convs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) + s.shape[0], 0));
    weights.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('folds BatchNorm into the conv: convBn(x) = bn(conv(x)) in eval mode', () => {
    const spec: ConvBnSpec = { conv: 'c', bn: 'b', inChannels: 3, outChannels: 4, kernel: 3, stride: 2, pad: 1, stage: 1 };
    const w = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.sin(i * 1.7) * 0.5); // OIHW
    const gamma = new Float32Array([1.2, 0.7, -0.4, 1]);
    const beta = new Float32Array([0.1, -0.2, 0.3, 0]);
    const mean = new Float32Array([0.5, -1, 0, 2]);
    const variance = new Float32Array([4, 0.25, 1, 0]);
    const folded = foldConvBn(w, gamma, beta, mean, variance, spec);
    // one element by hand: HWIO[kh=1][kw=2][i=0][o=1] = OIHW[1][0][1][2] · γ1/√(var1+eps)
    expect(folded.filter[((1 * 3 + 2) * 3 + 0) * 4 + 1]).toBeCloseTo(w[((1 * 3 + 0) * 3 + 1) * 3 + 2] * (0.7 / Math.sqrt(0.25 + BN_EPS)), 6);
    expect(folded.bias[3]).toBeCloseTo(0 - 2 * (1 / Math.sqrt(BN_EPS)), 2);

    const x = tf.tensor4d(Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.cos(i)), [2, 6, 6, 3]);
    const ours = tf.tidy(() => {
      const conv = { filter: tf.tensor4d(folded.filter, [3, 3, 3, 4]), bias: tf.tensor1d(folded.bias), stride: 2, pad: 1 };
      return convBn(x, conv, false);
    });
    const reference = tf.tidy(() => {
      const hwio = tf.transpose(tf.tensor4d(w, [4, 3, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D;
      const y = tf.conv2d(x, hwio, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      return tf.batchNorm(y, tf.tensor1d(mean), tf.tensor1d(variance), tf.tensor1d(beta), tf.tensor1d(gamma), BN_EPS);
    });
    expect(ours.shape).toEqual([2, 3, 3, 4]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, reference))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-3 * Math.max(1, tf.tidy(() => tf.max(tf.abs(reference)).dataSync()[0])));
    tf.dispose([x, ours, reference]);
  });
});

describe('random initialisation', () => {
  it('is torchvision kaiming-normal fan_out for convs and identity BatchNorm, seeded', async () => {
    const src = randomWeightSource(RESNET_CONFIGS.resnet18, 7);
    const w = await src.float32('layer3.0.conv2.weight'); // [256, 256, 3, 3]: fan_out = 256·9
    const n = w.length;
    const mean = w.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std / Math.sqrt(2 / (256 * 9))).toBeCloseTo(1, 1);
    expect(Array.from(await src.float32('layer3.0.bn2.weight')).every((v) => v === 1)).toBe(true);
    expect(Array.from(await src.float32('layer3.0.bn2.running_mean')).every((v) => v === 0)).toBe(true);
    expect(Array.from(await src.float32('layer3.0.bn2.running_var')).every((v) => v === 1)).toBe(true);
    // deterministic per seed, tensor by tensor, independent of the order of requests
    const again = randomWeightSource(RESNET_CONFIGS.resnet18, 7);
    await again.float32('conv1.weight');
    const same = await again.float32('layer3.0.conv2.weight');
    expect(same.every((v, i) => v === w[i])).toBe(true);
    const other = await randomWeightSource(RESNET_CONFIGS.resnet18, 8).float32('layer3.0.conv2.weight');
    expect(other.filter((v, i) => v === w[i]).length).toBeLessThan(10);
  });

  it("draws every conv tensor from ckaad's one generator, Rng, seeded per tensor", async () => {
    const src = randomWeightSource(RESNET_CONFIGS.resnet18, 3);
    const index = src.names.indexOf('layer2.1.conv1.weight'); // [128, 128, 3, 3]
    const expected = new Rng(tensorSeed(3, index)).fillNormal(new Float32Array(128 * 128 * 9), 0, Math.sqrt(2 / (128 * 9)));
    expect(await src.float32('layer2.1.conv1.weight')).toEqual(expected);
  });
});
