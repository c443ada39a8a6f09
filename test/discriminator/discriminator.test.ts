import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnergyDiscriminator, l2NormalizeChannels } from '../../src/discriminator/energy-discriminator.js';
import { GanDiscriminator } from '../../src/discriminator/gan-discriminator.js';
import { ImageEnergyDiscriminator } from '../../src/discriminator/image-energy-discriminator.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { Rng } from '../../src/nn/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomMaps(shapes: [number, number, number, number][], seed: number): tf.Tensor4D[] {
  return shapes.map((s, i) => tf.tidy(() => tf.relu(tf.randomNormal(s, 0, 1, 'float32', seed + i))) as tf.Tensor4D);
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('EnergyDiscriminator (patch level)', () => {
  it('has exactly the reference head parameter counts (no positional embeddings)', () => {
    const r18 = new EnergyDiscriminator({ channels: [128, 256] });
    expect(r18.parameterCount()).toBe(164_224);
    expect([...r18.parameters().keys()]).toEqual([
      'layers.0.0.weight', 'layers.0.2.weight', 'layers.0.4.weight',
      'layers.1.0.weight', 'layers.1.2.weight', 'layers.1.4.weight',
    ]);
    expect(r18.parameters().get('layers.1.4.weight')?.shape).toEqual([1, 1, 256, 1]);
    const wrn = new EnergyDiscriminator({ channels: [256, 512, 1024] });
    expect(wrn.parameterCount()).toBe(2_754_304);
    // PyTorch's default conv init: U(±1/√c).
    const w = Float32Array.from(wrn.parameters().get('layers.2.0.weight')?.dataSync() ?? []);
    const m = w.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    expect(m).toBeLessThanOrEqual(1 / 32);
    expect(m).toBeGreaterThan(0.99 / 32);
    r18.dispose();
    wrn.dispose();
  });

  it('returns one energy map [N, h, w, 1] ≥ 0 per layer', () => {
    const d = new EnergyDiscriminator({ channels: [128, 256], seed: 1 });
    const maps = randomMaps([[3, 8, 8, 128], [3, 4, 4, 256]], 1);
    const energies = d.forward(maps);
    expect(energies.map((e) => e.shape)).toEqual([[3, 8, 8, 1], [3, 4, 4, 1]]);
    for (const e of energies) {
      expect(tf.min(e).dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(tf.max(e).dataSync()[0]).toBeGreaterThan(0);
    }
    tf.dispose([...maps, ...energies]);
    d.dispose();
  });

  it('matches a hand computation: |W3ᵀ lrelu(W2ᵀ lrelu(W1ᵀ x/‖x‖))|', () => {
    const d = new EnergyDiscriminator({ channels: [2] });
    const p = d.parameters();
    p.get('layers.0.0.weight')?.assign(tf.tensor4d([1, -2, 0.5, 1], [1, 1, 2, 2])); // [in, out] = [[1, -2], [0.5, 1]]
    p.get('layers.0.2.weight')?.assign(tf.tensor4d([2, 0, 1, -1], [1, 1, 2, 2]));
    p.get('layers.0.4.weight')?.assign(tf.tensor4d([-1, 3], [1, 1, 2, 1]));
    const x = tf.tensor4d([3, 4, 0, -2], [1, 1, 2, 2]); // positions (3, 4) and (0, -2)
    const lrelu = (v: number) => (v > 0 ? v : 0.1 * v);
    const energy = ([a, b]: number[]) => {
      const n = Math.hypot(a, b);
      const [u, v] = [a / n, b / n];
      const h1 = [lrelu(u * 1 + v * 0.5), lrelu(u * -2 + v * 1)];
      const h2 = [lrelu(h1[0] * 2 + h1[1] * 1), lrelu(h1[0] * 0 + h1[1] * -1)];
      return Math.abs(h2[0] * -1 + h2[1] * 3);
    };
    const [e] = d.forward([x]);
    const got = Array.from(e.dataSync());
    const want = [energy([3, 4]), energy([0, -2])];
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    tf.dispose([x, e]);
    d.dispose();
  });

  it('is invariant to positive per-position scaling of its input (L2 normalisation; property)', () => {
    const d = new EnergyDiscriminator({ channels: [8, 16], seed: 2 });
    const maps = randomMaps([[2, 4, 4, 8], [2, 2, 2, 16]], 2);
    const base = d.forward(maps);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
        const rng = new Rng(seed);
        const scaled = maps.map((m) => {
          const [n, h, w] = m.shape;
          const s = Float32Array.from({ length: n * h * w }, () => Math.exp(rng.uniform(-4, 4)));
          return tf.tidy(() => tf.mul(m, tf.tensor4d(s, [n, h, w, 1]))) as tf.Tensor4D;
        });
        const out = d.forward(scaled);
        out.forEach((o, i) => expect(maxDiff(o, base[i])).toBeLessThan(1e-4 * (1 + tf.max(base[i]).dataSync()[0])));
        tf.dispose([...scaled, ...out]);
      }),
      { numRuns: 20 },
    );
    // Not invariant to per-channel scaling: the check above is not vacuous.
    const channelScaled = tf.mul(maps[0], tf.linspace(0.1, 3, 8)) as tf.Tensor4D;
    const [o] = d.forward([channelScaled, maps[1]]);
    expect(maxDiff(o, base[0])).toBeGreaterThan(1e-3);
    tf.dispose([...maps, ...base, channelScaled, o]);
    d.dispose();
  });

  it('l2NormalizeChannels gives unit vectors, maps all-zero positions to 0 with a finite gradient', () => {
    const x = tf.tensor4d([3, 4, 0, 0], [1, 1, 2, 2]);
    expect(Array.from(l2NormalizeChannels(x).dataSync())).toEqual([0.6, 0.8, 0, 0].map(Math.fround));
    const g = tf.grad((t: tf.Tensor) => tf.sum(l2NormalizeChannels(t as tf.Tensor4D)))(x);
    expect(g.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([x, g]);
  });

  it('validates options and inputs', () => {
    expect(() => new EnergyDiscriminator({ channels: [] })).toThrow(InvalidArgumentError);
    expect(() => new EnergyDiscriminator({ channels: [8, 0] })).toThrow(/options.channels/);
    const d = new EnergyDiscriminator({ channels: [8, 16] });
    const maps = randomMaps([[1, 4, 4, 8], [1, 2, 2, 8]], 3);
    expect(() => d.forward(maps)).toThrow(ShapeMismatchError);
    expect(() => d.forward([maps[0]])).toThrow(ShapeMismatchError);
    tf.dispose(maps);
    d.dispose();
  });
});

describe('ImageEnergyDiscriminator / GanDiscriminator (image level)', () => {
  const options = { channels: [128, 256], sizes: [8, 4] }; // resnet18 layers 2–3 at 64×64

  it('has the reference architecture: parameter names and count', () => {
    const d = new ImageEnergyDiscriminator(options);
    const shapes = Object.fromEntries([...d.parameters()].map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      'layers.0.0.0.weight': [3, 3, 128, 256], // branch of the 8×8 map: one step to 4×4
      'layer1.0.0.weight': [3, 3, 512, 256], // trunk 4×4 → 2×2 (non-affine InstanceNorm: no parameters)
      'layer1.1.weight': [2, 2, 256, 256], // 2×2 conv stride 2 → 1×1
      'cls_layer.0.weight': [256, 64],
      'cls_layer.3.weight': [64, 1],
    });
    expect(d.parameterCount()).toBe(294_912 + 1_179_648 + 262_144 + 16_384 + 64);
    // smallest map already 2×2: no trunk downsampling step
    const small = new GanDiscriminator({ channels: [64, 128], sizes: [4, 2] });
    expect([...small.parameters().keys()]).toEqual(['layers.0.0.0.weight', 'layer1.0.weight', 'cls_layer.0.weight', 'cls_layer.3.weight']);
    d.dispose();
    small.dispose();
  });

  it('image energies are [N] ≥ 0 and equal |GAN logits| for the same seed; logits keep their sign', () => {
    const energy = new ImageEnergyDiscriminator({ ...options, seed: 3 });
    const gan = new GanDiscriminator({ ...options, seed: 3 });
    const maps = randomMaps([[6, 8, 8, 128], [6, 4, 4, 256]], 4);
    const [e] = energy.forward(maps);
    const [logits] = gan.forward(maps);
    expect(e.shape).toEqual([6]);
    expect(logits.shape).toEqual([6]);
    expect(tf.min(e).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(maxDiff(e, tf.abs(logits))).toBeLessThan(1e-6);
    // Negating the last layer negates the GAN logits (raw output) but leaves the energies (|output|) unchanged.
    for (const d of [energy, gan]) {
      const last = d.parameters().get('cls_layer.3.weight') as tf.Variable;
      const negated = tf.neg(last);
      last.assign(negated);
      negated.dispose();
    }
    const [e2] = energy.forward(maps);
    const [logits2] = gan.forward(maps);
    expect(maxDiff(e2, e)).toBeLessThan(1e-6);
    expect(maxDiff(logits2, tf.neg(logits))).toBeLessThan(1e-6);
    expect(tf.max(tf.abs(logits)).dataSync()[0]).toBeGreaterThan(1e-3);
    tf.dispose([...maps, e, logits, e2, logits2]);
    energy.dispose();
    gan.dispose();
  });

  it('scores each image independently of the rest of the batch (InstanceNorm1d on [N, F] normalises rows)', () => {
    const d = new ImageEnergyDiscriminator({ ...options, seed: 4 });
    const maps = randomMaps([[3, 8, 8, 128], [3, 4, 4, 256]], 5);
    const [all] = d.forward(maps);
    const [one] = d.forward(maps.map((m) => tf.slice(m, [2, 0, 0, 0], [1, -1, -1, -1])));
    expect(one.dataSync()[0]).toBeCloseTo(all.dataSync()[2], 4);
    tf.dispose([...maps, all, one]);
    d.dispose();
  });

  it('validates options and map shapes', () => {
    expect(() => new ImageEnergyDiscriminator({ channels: [128, 256], sizes: [8] })).toThrow(/options.sizes/);
    expect(() => new ImageEnergyDiscriminator({ channels: [128, 256], sizes: [8, 1] })).toThrow(/at least 2×2/);
    expect(() => new GanDiscriminator({ channels: [128, 256], sizes: [6, 4] })).toThrow(InvalidArgumentError);
    expect(() => new GanDiscriminator({ channels: [2], sizes: [4] })).toThrow(/at least 4 channels/);
    const d = new ImageEnergyDiscriminator(options);
    const wrongSize = randomMaps([[1, 16, 16, 128], [1, 8, 8, 256]], 6);
    expect(() => d.forward(wrongSize)).toThrow(ShapeMismatchError);
    expect(() => d.forward(wrongSize)).toThrow(/\[N, 8, 8, 128\]/);
    tf.dispose(wrongSize);
    d.dispose();
  });
});

describe('discriminators: memory and gradients', () => {
  it('do not leak across forwards and free their variables on dispose', () => {
    const before = tf.memory().numTensors;
    const patch = new EnergyDiscriminator({ channels: [16, 32] });
    const image = new ImageEnergyDiscriminator({ channels: [16, 32], sizes: [8, 4] });
    const maps = randomMaps([[2, 8, 8, 16], [2, 4, 4, 32]], 7);
    const ready = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        patch.forward(maps);
        image.forward(maps);
      });
      expect(tf.memory().numTensors).toBe(ready);
    }
    tf.dispose(maps);
    patch.dispose();
    image.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('give finite, non-zero gradients for every parameter', () => {
    const maps = randomMaps([[2, 8, 8, 16], [2, 4, 4, 32]], 8);
    for (const d of [
      new EnergyDiscriminator({ channels: [16, 32] }),
      new ImageEnergyDiscriminator({ channels: [16, 32], sizes: [8, 4] }),
      new GanDiscriminator({ channels: [16, 32], sizes: [8, 4] }),
    ]) {
      const params = d.parameters();
      const { value, grads } = tf.variableGrads(
        () => tf.tidy(() => tf.addN(d.forward(maps).map((o) => tf.mean(o))) as tf.Scalar),
        [...params.values()],
      );
      for (const [name, v] of params) {
        const g = grads[v.name].dataSync();
        expect(g.every(Number.isFinite), name).toBe(true);
        expect(g.some((x) => x !== 0), name).toBe(true);
      }
      tf.dispose([value, ...Object.values(grads)]);
      d.dispose();
    }
    tf.dispose(maps);
  });
});
