import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RESNET_CONFIGS, type LayerName, type ResNetName } from '../../src/backbone/configs.js';
import {
  createResNetExtractor,
  extractorFromFunction,
  type ExecutableModel,
  type PredictableModel,
} from '../../src/backbone/extractor.js';
import { maxPool3x3s2 } from '../../src/backbone/resnet.js';
import { resnetWeightSpecs } from '../../src/backbone/resnet-weights.js';
import { readSafetensors, type SafetensorsTensorInput } from '../../src/io/safetensors.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { formulaSafetensors } from './formula.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ckaad-backbone-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function images(n: number, h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(tf.sin(tf.mul(tf.range(0, n * h * w * 3), 0.37)), [n, h, w, 3]));
}

/** Number of FusedConv2D kernels one extract() runs. */
async function convCount(run: () => void): Promise<number> {
  const profile = await tf.profile(run);
  return profile.kernels.filter((k) => k.name === 'FusedConv2D').length;
}

describe('ResNet feature maps', () => {
  it('resnet18 at 64×64: layer1..4 shapes, channels and strides', async () => {
    const e = await createResNetExtractor({ arch: 'resnet18', layers: ['layer1', 'layer2', 'layer3', 'layer4'] });
    expect(e.channels).toEqual([64, 128, 256, 512]);
    expect(e.strides).toEqual([4, 8, 16, 32]);
    const x = images(2, 64, 64);
    const outs = e.extract(x);
    expect(outs.map((t) => t.shape)).toEqual([
      [2, 16, 16, 64],
      [2, 8, 8, 128],
      [2, 4, 4, 256],
      [2, 2, 2, 512],
    ]);
    tf.dispose([...outs, x]);
    e.dispose();
  });

  it('wide_resnet50_2 {1,2,3} at 32×32: 256, 512, 1024 channels', async () => {
    const e = await createResNetExtractor({ arch: 'wide_resnet50_2', layers: ['layer1', 'layer2', 'layer3'], seed: 3 });
    expect(e.arch).toBe('wide_resnet50_2');
    expect(e.config).toBe(RESNET_CONFIGS.wide_resnet50_2);
    expect(e.channels).toEqual([256, 512, 1024]);
    expect(e.strides).toEqual([4, 8, 16]);
    const x = images(1, 32, 32);
    const outs = e.extract(x);
    expect(outs.map((t) => t.shape)).toEqual([
      [1, 8, 8, 256],
      [1, 4, 4, 512],
      [1, 2, 2, 1024],
    ]);
    tf.dispose([...outs, x]);
    e.dispose();
  });

  it('follows PyTorch output sizes for sizes that are not multiples of 32', async () => {
    // conv1: ⌊(H+6−7)/2⌋+1, maxpool and each stride-2 stage: ⌊(H+2−3)/2⌋+1
    const down = (h: number) => Math.floor((h - 1) / 2) + 1;
    const e = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer4'] });
    const x = images(1, 70, 45);
    const outs = e.extract(x);
    const l1 = [70, 45].map((v) => down(down(v)));
    const l2 = l1.map(down);
    const l4 = l2.map(down).map(down);
    expect(outs.map((t) => t.shape)).toEqual([
      [1, l2[0], l2[1], 128],
      [1, l4[0], l4[1], 512],
    ]);
    tf.dispose([...outs, x]);
    e.dispose();
  });

  it('returns layers shallow → deep whatever the request order', async () => {
    const e = await createResNetExtractor({ arch: 'resnet18', layers: ['layer3', 'layer1'] });
    expect(e.layers).toEqual(['layer1', 'layer3']);
    expect(e.channels).toEqual([64, 256]);
    const x = images(1, 32, 32);
    const outs = e.extract(x);
    expect(outs.map((t) => t.shape[3])).toEqual([64, 256]);
    tf.dispose([...outs, x]);
    e.dispose();
  });

  it('runs and holds only the stages up to the deepest requested layer', async () => {
    const x = images(1, 32, 32);
    const counts: Record<string, number> = {};
    const held: Record<string, number> = {};
    for (const layers of [['layer2'], ['layer2', 'layer3'], ['layer4']] as LayerName[][]) {
      const bytesBefore = tf.memory().numBytes;
      const e = await createResNetExtractor({ arch: 'resnet18', layers });
      held[layers.join()] = e.numParameters;
      expect(tf.memory().numBytes - bytesBefore).toBe(4 * e.numParameters);
      counts[layers.join()] = await convCount(() => e.extract(x).forEach((t) => t.dispose()));
      e.dispose();
      expect(tf.memory().numBytes).toBe(bytesBefore);
    }
    // stem 1 conv; resnet18 stages: layer1 4 convs, layer2..4 4 convs + 1 projection each
    expect(counts).toEqual({ layer2: 10, 'layer2,layer3': 15, layer4: 20 });
    // folded parameters: conv weights + one bias per output channel, of the stages that ran
    const size = (depth: number) =>
      resnetWeightSpecs(RESNET_CONFIGS.resnet18)
        .filter((s) => s.role === 'conv' && s.stage <= depth)
        .reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) + s.shape[0], 0);
    expect(held).toEqual({ layer2: size(2), 'layer2,layer3': size(3), layer4: size(4) });
    x.dispose();
  });

  it('does not leak tensors: only the returned maps outlive extract()', async () => {
    const e = await createResNetExtractor({ arch: 'resnet50', layers: ['layer1', 'layer2'] });
    const x = images(2, 32, 32);
    const before = tf.memory().numTensors;
    const outs = e.extract(x);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose(outs);
    expect(tf.memory().numTensors).toBe(before);
    const beforeDispose = tf.memory().numTensors;
    e.dispose();
    expect(tf.memory().numTensors).toBeLessThan(beforeDispose);
    expect(() => e.extract(x)).toThrow(/not been disposed/);
    x.dispose();
  });

  it('random weights are seeded', async () => {
    const x = images(1, 32, 32);
    const run = async (seed: number) => {
      const e = await createResNetExtractor({ arch: 'resnet18', layers: ['layer1'], seed });
      const [y] = e.extract(x);
      const data = y.dataSync().slice();
      y.dispose();
      e.dispose();
      return data;
    };
    const a = await run(1);
    const b = await run(1);
    const c = await run(2);
    expect(a.every((v, i) => v === b[i])).toBe(true);
    expect(a.some((v, i) => v !== c[i])).toBe(true);
    x.dispose();
  });

  it('loads the same weights from a path as from bytes', async () => {
    const bytes = formulaSafetensors(RESNET_CONFIGS.resnet18);
    const reader = await readSafetensors(bytes);
    const tensors: Record<string, SafetensorsTensorInput> = {};
    for (const name of reader.names) {
      const t = await reader.tensor(name);
      if (t.dtype === 'F32') tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    }
    const path = join(dir, 'resnet18.safetensors');
    await writeSafetensors(path, tensors);
    const x = images(1, 32, 32);
    const fromBytes = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2'], weights: bytes });
    const fromPath = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2'], weights: path });
    const [a] = fromBytes.extract(x);
    const [b] = fromPath.extract(x);
    const da = a.dataSync();
    const db = b.dataSync();
    expect(da.every((v, i) => v === db[i])).toBe(true);
    tf.dispose([a, b, x]);
    fromBytes.dispose();
    fromPath.dispose();
  });

  it('rejects unknown architectures and layers, listing the valid ones', async () => {
    const err = await createResNetExtractor({ arch: 'resnet152' as ResNetName, layers: ['layer1'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe(
      'Invalid options.arch: expected one of resnet18, resnet34, resnet50, resnet101, wide_resnet50_2, wide_resnet101_2, found "resnet152".',
    );
    await expect(createResNetExtractor({ arch: 'resnet18', layers: ['layer5' as LayerName] })).rejects.toThrow(
      /options.layers: expected names among layer1, layer2, layer3, layer4, found "layer5"/,
    );
    await expect(createResNetExtractor({ arch: 'resnet18', layers: [] })).rejects.toThrow(InvalidArgumentError);
    await expect(createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer2'] })).rejects.toThrow(/no duplicate layer/);
    await expect(createResNetExtractor({ arch: 'resnet18', layers: ['layer2'], seed: 0.5 })).rejects.toThrow(/options.seed/);
    await expect(createResNetExtractor({ arch: 'resnet18', layers: ['layer2'], weights: join(dir, 'absent.safetensors') })).rejects.toThrow(/absent.safetensors: cannot open/);
  });

  it('rejects images that are not preprocessed float32 [N, H, W, 3]', async () => {
    const e = await createResNetExtractor({ arch: 'resnet18', layers: ['layer1'] });
    const bad = [tf.zeros([1, 32, 32, 1]), tf.zeros([1, 32, 32, 3], 'int32'), tf.zeros([32, 32, 3])];
    for (const t of bad) expect(() => e.extract(t as tf.Tensor4D)).toThrow(InvalidArgumentError);
    expect(() => e.extract(bad[0] as tf.Tensor4D)).toThrow(/expected preprocessed float32 images \[N, H, W, 3\].*found float32 \[1, 32, 32, 1\]/);
    tf.dispose(bad);
    e.dispose();
  });
});

describe('PyTorch max-pool semantics', () => {
  it('pads with −∞ (zero padding would win on negative inputs)', () => {
    const x = tf.tensor4d([-1, -2, -3, -4, -5, -6, -7, -8, -9], [1, 3, 3, 1]);
    const y = maxPool3x3s2(x);
    // windows rows/cols {-1,0,1} and {1,2,3}, clipped to the image
    expect(Array.from(y.dataSync())).toEqual([-1, -2, -4, -5]);
    tf.dispose([x, y]);
  });
});

describe('extractorFromFunction', () => {
  const x = () => images(2, 32, 32);

  it('wraps a function, freeing its intermediates', () => {
    const input = x();
    const e = extractorFromFunction({
      channels: [3, 3],
      strides: [2, 4],
      fn: (im) => {
        const a = tf.avgPool(im, 2, 2, 'valid');
        const b = tf.avgPool(tf.mul<tf.Tensor4D>(a, 2), 2, 2, 'valid'); // the product is an intermediate
        return [a, b];
      },
    });
    expect(e.channels).toEqual([3, 3]);
    const before = tf.memory().numTensors;
    const outs = e.extract(input);
    expect(outs.map((t) => t.shape)).toEqual([
      [2, 16, 16, 3],
      [2, 8, 8, 3],
    ]);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([...outs, input]);
  });

  it('wraps a GraphModel-like execute() with output names, and a predict()', () => {
    const input = x();
    const calls: unknown[] = [];
    const graph: ExecutableModel = {
      execute: (inputs, outputs) => {
        calls.push(outputs);
        return tf.maxPool(inputs as tf.Tensor4D, 8, 8, 'valid');
      },
    };
    const e1 = extractorFromFunction({ channels: [3], strides: [8], fn: graph, outputs: ['feat'] });
    const [g] = e1.extract(input);
    expect(g.shape).toEqual([2, 4, 4, 3]);
    expect(calls).toEqual([['feat']]);

    const layers: PredictableModel = { predict: (t) => [tf.avgPool(t as tf.Tensor4D, 4, 4, 'valid')] };
    let disposed = 0;
    const e2 = extractorFromFunction({ channels: [3], strides: [4], fn: layers, dispose: () => disposed++ });
    const [p] = e2.extract(input);
    expect(p.shape).toEqual([2, 8, 8, 3]);
    e2.dispose();
    e2.dispose();
    expect(disposed).toBe(1);
    expect(() => e2.extract(input)).toThrow(InvalidArgumentError);
    tf.dispose([g, p, input]);
  });

  it('checks the maps against channels and strides and frees them on mismatch', () => {
    const input = x();
    const before = tf.memory().numTensors;
    const wrongChannels = extractorFromFunction({ channels: [4], strides: [2], fn: (im) => tf.avgPool(im, 2, 2, 'valid') });
    expect(() => wrongChannels.extract(input)).toThrow(ShapeMismatchError);
    const wrongStride = extractorFromFunction({ channels: [3], strides: [4], fn: (im) => tf.avgPool(im, 2, 2, 'valid') });
    expect(() => wrongStride.extract(input)).toThrow(/expected \[2, 8, 8, 3\] float32, found \[2, 16, 16, 3\] float32/);
    const wrongCount = extractorFromFunction({ channels: [3, 3], strides: [2, 2], fn: (im) => tf.avgPool(im, 2, 2, 'valid') });
    expect(() => wrongCount.extract(input)).toThrow(ShapeMismatchError);
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('validates its options', () => {
    const fn = (im: tf.Tensor4D) => im;
    expect(() => extractorFromFunction({ channels: [], strides: [], fn })).toThrow(/options.channels/);
    expect(() => extractorFromFunction({ channels: [3], strides: [1, 2], fn })).toThrow(/options.strides/);
    expect(() => extractorFromFunction({ channels: [3], strides: [0], fn })).toThrow(/options.strides/);
    expect(() => extractorFromFunction({ channels: [3], strides: [1], fn: {} as ExecutableModel })).toThrow(/options.fn/);
  });
});
