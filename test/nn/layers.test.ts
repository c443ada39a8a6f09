import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { leakyRelu, relu } from '../../src/nn/activations.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { ConvTranspose2d } from '../../src/nn/conv-transpose2d.js';
import { InstanceNorm2d, instanceNorm1dRows } from '../../src/nn/instance-norm.js';
import { Linear } from '../../src/nn/linear.js';
import { Sequential } from '../../src/nn/module.js';
import { Rng } from '../../src/nn/random.js';
import { maxAbsDiff, naiveConv2d, naiveConvTranspose2d } from './reference.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const values = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());
const std = (xs: Float32Array) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};
const maxAbs = (xs: Float32Array) => xs.reduce((a, b) => Math.max(a, Math.abs(b)), 0);

describe('Conv2d', () => {
  it('stride-2 3×3 pad-1 conv on an even input pads symmetrically, as PyTorch (not tf "same")', () => {
    const rng = new Rng(1);
    const conv = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, rng });
    const xData = values(rng, 1 * 4 * 4 * 2);
    const x = tf.tensor4d(xData, [1, 4, 4, 2]);
    const y = conv.apply(x);
    const ref = naiveConv2d(xData, [1, 4, 4, 2], conv.weight.dataSync() as Float32Array, [3, 3, 2, 3], 2, 1);
    expect(y.shape).toEqual([1, 2, 2, 3]);
    expect(maxAbsDiff(y.dataSync(), ref.data)).toBeLessThan(1e-5);
    // TF's 'same' pads bottom/right only here: a different result, so the check above has teeth.
    const same = tf.conv2d(x, conv.weight, 2, 'same');
    expect(maxAbsDiff(same.dataSync(), ref.data)).toBeGreaterThan(1e-3);
    tf.dispose([x, y, same]);
    conv.dispose();
  });

  it('matches PyTorch semantics for an odd input, stride 1, and the 1×1 fast path', () => {
    const rng = new Rng(2);
    for (const [k, s, p, h, w] of [[3, 2, 1, 5, 7], [3, 1, 1, 4, 3], [1, 1, 0, 3, 5], [1, 2, 0, 5, 4], [2, 2, 0, 4, 6]]) {
      const conv = new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: k, stride: s, padding: p, rng });
      const xData = values(rng, 2 * h * w * 3);
      const x = tf.tensor4d(xData, [2, h, w, 3]);
      const y = conv.apply(x);
      const ref = naiveConv2d(xData, [2, h, w, 3], conv.weight.dataSync() as Float32Array, [k, k, 3, 2], s, p);
      expect(y.shape).toEqual(ref.shape);
      expect(maxAbsDiff(y.dataSync(), ref.data)).toBeLessThan(1e-5);
      tf.dispose([x, y]);
      conv.dispose();
    }
  });

  it('has correct gradients with explicit padding (finite differences)', () => {
    const rng = new Rng(3);
    const conv = new Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, padding: 1, rng });
    const x = tf.tensor4d(values(rng, 4 * 4 * 2), [1, 4, 4, 2]);
    const target = tf.tensor4d(values(rng, 2 * 2 * 2), [1, 2, 2, 2]);
    const loss = () => tf.tidy(() => tf.sum(tf.square(tf.sub(conv.apply(x), target))) as tf.Scalar);
    const { grads, value } = tf.variableGrads(loss, [conv.weight]);
    const analytic = grads[conv.weight.name].dataSync();
    const w0 = conv.weight.dataSync().slice();
    const eps = 1e-2;
    for (const idx of [0, 5, 17, 35]) {
      const bump = (d: number) => {
        const w = w0.slice();
        w[idx] += d;
        conv.weight.assign(tf.tensor4d(w, conv.weight.shape));
        return loss().dataSync()[0];
      };
      const numeric = (bump(eps) - bump(-eps)) / (2 * eps);
      expect(Math.abs(numeric - analytic[idx])).toBeLessThan(1e-2 * Math.max(1, Math.abs(numeric)));
    }
    tf.dispose([x, target, value, ...Object.values(grads)]);
    conv.dispose();
  });

  it('initialises kaiming-normal (fan_out, relu) or PyTorch-default uniform', () => {
    const rng = new Rng(4);
    const kaiming = new Conv2d({ inChannels: 64, outChannels: 32, kernelSize: 3, init: 'kaiming-normal-fan-out', rng });
    // std = √2/√(out·k·k) = √2/√288 ≈ 0.0833 (fan_in would give √2/√576 ≈ 0.0589)
    expect(std(kaiming.weight.dataSync() as Float32Array)).toBeCloseTo(Math.sqrt(2 / 288), 2);
    const uniform = new Conv2d({ inChannels: 8, outChannels: 64, kernelSize: 3, rng });
    const bound = 1 / Math.sqrt(8 * 9);
    const w = uniform.weight.dataSync() as Float32Array;
    expect(maxAbs(w)).toBeLessThanOrEqual(bound);
    expect(maxAbs(w)).toBeGreaterThan(0.98 * bound);
    expect(std(w)).toBeCloseTo(bound / Math.sqrt(3), 3);
    kaiming.dispose();
    uniform.dispose();
  });

  it('rejects bad options and inputs', () => {
    const rng = new Rng(0);
    expect(() => new Conv2d({ inChannels: 0, outChannels: 1, kernelSize: 1, rng })).toThrow(InvalidArgumentError);
    expect(() => new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: -1, rng })).toThrow(/padding/);
    const conv = new Conv2d({ inChannels: 3, outChannels: 1, kernelSize: 3, rng });
    const x = tf.zeros([1, 5, 5, 2]) as tf.Tensor4D;
    expect(() => conv.apply(x)).toThrow(ShapeMismatchError);
    const tiny = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    expect(() => conv.apply(tiny)).toThrow(ShapeMismatchError);
    tf.dispose([x, tiny]);
    conv.dispose();
  });
});

describe('ConvTranspose2d', () => {
  it('2×2 stride 2 scatters each pixel times the kernel (hand computation)', () => {
    const deconv = new ConvTranspose2d({ inChannels: 1, outChannels: 1, kernelSize: 2, stride: 2, rng: new Rng(0) });
    deconv.weight.assign(tf.tensor4d([1, 10, 100, 1000], [2, 2, 1, 1])); // [[1, 10], [100, 1000]]
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = deconv.apply(x);
    expect(y.shape).toEqual([1, 4, 4, 1]);
    // PyTorch: out[2i+a, 2j+b] = x[i, j] · W[a, b]
    expect(Array.from(y.dataSync())).toEqual([
      1, 10, 2, 20,
      100, 1000, 200, 2000,
      3, 30, 4, 40,
      300, 3000, 400, 4000,
    ]);
    tf.dispose([x, y]);
    deconv.dispose();
  });

  it('matches the PyTorch definition with several channels; output size exact', () => {
    const rng = new Rng(5);
    for (const [k, s, h, w] of [[2, 2, 3, 2], [3, 2, 2, 3], [2, 1, 3, 3]]) {
      const deconv = new ConvTranspose2d({ inChannels: 3, outChannels: 2, kernelSize: k, stride: s, rng });
      const xData = values(rng, 2 * h * w * 3);
      const x = tf.tensor4d(xData, [2, h, w, 3]);
      const y = deconv.apply(x);
      const ref = naiveConvTranspose2d(xData, [2, h, w, 3], deconv.weight.dataSync() as Float32Array, [k, k, 2, 3], s);
      expect(y.shape).toEqual(ref.shape);
      expect(maxAbsDiff(y.dataSync(), ref.data)).toBeLessThan(1e-5);
      tf.dispose([x, y]);
      deconv.dispose();
    }
  });

  it('initialises as PyTorch: U(±1/√fan_in) with fan_in = out·k·k', () => {
    // in = 64, out = 16: bound 1/√64 = 0.125 (in·k·k would give 0.0625).
    const deconv = new ConvTranspose2d({ inChannels: 64, outChannels: 16, kernelSize: 2, stride: 2, rng: new Rng(6) });
    const w = deconv.weight.dataSync() as Float32Array;
    expect(deconv.weight.shape).toEqual([2, 2, 16, 64]);
    expect(maxAbs(w)).toBeLessThanOrEqual(0.125);
    expect(maxAbs(w)).toBeGreaterThan(0.12);
    deconv.dispose();
  });
});

describe('InstanceNorm2d', () => {
  it('normalises each sample and channel over H×W with the biased variance (hand computation)', () => {
    const norm = new InstanceNorm2d({ channels: 2, affine: true });
    // sample 0: channel 0 = [1, 2, 3, 4], channel 1 = [10, 10, 10, 30]; sample 1: channel 0 = 100·[1, 2, 3, 4]
    const x = tf.tensor4d([1, 10, 2, 10, 3, 10, 4, 30, 100, 0, 200, 0, 300, 0, 400, 0], [2, 2, 2, 2]);
    norm.weight?.assign(tf.tensor1d([2, 1]));
    norm.bias?.assign(tf.tensor1d([0.5, -1]));
    const y = norm.apply(x).dataSync();
    const eps = 1e-5;
    const c0 = [1, 2, 3, 4].map((v) => 2 * ((v - 2.5) / Math.sqrt(1.25 + eps)) + 0.5); // var = 1.25 (biased)
    const c1 = [10, 10, 10, 30].map((v) => (v - 15) / Math.sqrt(75 + eps) - 1);
    const s1c0 = [100, 200, 300, 400].map((v) => 2 * ((v - 250) / Math.sqrt(12500 + eps)) + 0.5);
    const expected = [c0[0], c1[0], c0[1], c1[1], c0[2], c1[2], c0[3], c1[3], s1c0[0], -1, s1c0[1], -1, s1c0[2], -1, s1c0[3], -1];
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-4);
    x.dispose();
    norm.dispose();
  });

  it('has weight 1 / bias 0 when affine, no parameters otherwise', () => {
    const affine = new InstanceNorm2d({ channels: 3, affine: true });
    expect(Array.from(affine.weight?.dataSync() ?? [])).toEqual([1, 1, 1]);
    expect(Array.from(affine.bias?.dataSync() ?? [])).toEqual([0, 0, 0]);
    expect([...affine.parameters().keys()]).toEqual(['weight', 'bias']);
    expect(new InstanceNorm2d({ channels: 3 }).parameterCount()).toBe(0);
    affine.dispose();
  });
});

describe('instanceNorm1dRows (PyTorch InstanceNorm1d on a 2-D input)', () => {
  it('normalises each row over its features, independently of other rows', () => {
    const x = tf.tensor2d([[1, 2, 3, 6], [-5, -5, 5, 5]]);
    const y = instanceNorm1dRows(x).arraySync();
    const row = (r: number[]) => {
      const m = r.reduce((a, b) => a + b, 0) / r.length;
      const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / r.length;
      return r.map((e) => (e - m) / Math.sqrt(v + 1e-5));
    };
    expect(maxAbsDiff(y[0], row([1, 2, 3, 6]))).toBeLessThan(1e-5);
    expect(maxAbsDiff(y[1], row([-5, -5, 5, 5]))).toBeLessThan(1e-5);
    x.dispose();
  });
});

describe('Linear and activations', () => {
  it('computes x·W with U(±1/√in) init', () => {
    const lin = new Linear({ inFeatures: 16, outFeatures: 300, rng: new Rng(7) });
    const w = lin.weight.dataSync() as Float32Array;
    expect(maxAbs(w)).toBeLessThanOrEqual(0.25);
    expect(maxAbs(w)).toBeGreaterThan(0.245);
    const x = tf.tensor2d(values(new Rng(8), 2 * 16), [2, 16]);
    const y = lin.apply(x);
    const expected = tf.matMul(x, tf.tensor2d(w, [16, 300]));
    expect(maxAbsDiff(y.dataSync(), expected.dataSync())).toBeLessThan(1e-6);
    expect(() => lin.apply(tf.zeros([2, 15]) as tf.Tensor2D)).toThrow(ShapeMismatchError);
    tf.dispose([x, y, expected]);
    lin.dispose();
  });

  it('LeakyReLU uses slope 0.1; ReLU clamps at 0', () => {
    const x = tf.tensor1d([-2, 0, 3]);
    expect(Array.from(leakyRelu(x).dataSync())).toEqual([-0.2, 0, 3].map(Math.fround));
    expect(Array.from(relu(x).dataSync())).toEqual([0, 0, 3]);
  });
});

describe('Sequential / BaseModule', () => {
  it('names parameters like torch.nn.Sequential, counts them, and frees them on dispose', () => {
    const before = tf.memory().numTensors;
    const rng = new Rng(0);
    const seq = new Sequential([
      new Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 1, rng }),
      leakyRelu,
      new InstanceNorm2d({ channels: 4, affine: true }),
    ]);
    expect([...seq.parameters().keys()]).toEqual(['0.weight', '2.weight', '2.bias']);
    expect(seq.parameterCount()).toBe(8 + 4 + 4);
    expect(tf.memory().numTensors).toBe(before + 3);
    const x = tf.ones([1, 2, 2, 2]) as tf.Tensor4D;
    const mid = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) seq.apply(x).dispose();
    expect(tf.memory().numTensors).toBe(mid);
    seq.dispose();
    seq.dispose(); // idempotent
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => seq.apply(x)).toThrow(InvalidArgumentError);
  });
});
