import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerName, ResNetName } from '../../src/backbone/configs.js';
import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import { resnetMapSizes } from '../../src/autoencoder/input-size.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Post-ReLU-like random feature maps of the given shapes. */
function randomMaps(shapes: [number, number, number, number][], seed: number): tf.Tensor4D[] {
  return shapes.map((s, i) => tf.tidy(() => tf.relu(tf.randomNormal(s, 0, 1, 'float32', seed + i))) as tf.Tensor4D);
}

/** The 1 − cos reconstruction loss of paper eq. 2 (enough for a gradient smoke test). */
function cosineLoss(maps: tf.Tensor4D[], recon: tf.Tensor4D[]): tf.Scalar {
  return tf.tidy(() => {
    const terms = maps.map((m, i) => {
      const a = tf.reshape(m, [m.shape[0], -1]);
      const b = tf.reshape(recon[i], [m.shape[0], -1]);
      const cos = tf.div(tf.sum(tf.mul(a, b), 1), tf.mul(tf.norm(a, 2, 1), tf.norm(b, 2, 1)));
      return tf.mean(tf.sub(1, cos));
    });
    return tf.addN(terms) as tf.Scalar;
  });
}

describe('FeatureAutoEncoder architecture', () => {
  it('resnet18 {layer2, layer3}: 13,526,272 parameters with the reference state_dict names', () => {
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'] });
    expect(ae.parameterCount()).toBe(13_526_272);
    const params = ae.parameters();
    expect(params.get('encoder.fusion_layer.conv_layers.0.0.0.weight')?.shape).toEqual([3, 3, 128, 256]);
    expect(params.get('encoder.fusion_layer.conv_layers.0.0.1.bias')?.shape).toEqual([256]);
    expect(params.get('encoder.fusion_layer.encode_layer1.0.downsample.0.weight')?.shape).toEqual([1, 1, 512, 512]);
    expect(params.has('encoder.fusion_layer.encode_layer1.2.conv1.weight')).toBe(false); // 2 blocks for resnet18
    expect(params.get('decoder.backbone.layers.0.0.conv1.weight')?.shape).toEqual([2, 2, 256, 512]);
    expect(params.get('decoder.backbone.layers.1.0.upsample.0.weight')?.shape).toEqual([2, 2, 128, 256]);
    expect(params.get('decoder.backbone.layers.1.1.conv2.weight')?.shape).toEqual([3, 3, 128, 128]);
    expect(ae.channels).toEqual([128, 256]);
    ae.dispose();
  });

  it('wide_resnet50_2 {layer1, layer2, layer3}: 83,802,624 parameters; forward keeps every map shape', () => {
    const ae = new FeatureAutoEncoder({ backbone: 'wide_resnet50_2', layers: ['layer1', 'layer2', 'layer3'] });
    expect(ae.parameterCount()).toBe(83_802_624);
    const params = ae.parameters();
    // width_per_group 128: the bottleneck width is 2·planes.
    expect(params.get('decoder.backbone.layers.2.0.conv2.weight')?.shape).toEqual([2, 2, 128, 128]);
    expect(params.get('encoder.fusion_layer.encode_layer1.2.conv3.weight')?.shape).toEqual([1, 1, 1024, 2048]);
    // Decoder stages take the backbone's block counts in order: 3, 4, 6 (deepest first).
    expect(params.has('decoder.backbone.layers.0.2.conv1.weight')).toBe(true);
    expect(params.has('decoder.backbone.layers.0.3.conv1.weight')).toBe(false);
    expect(params.has('decoder.backbone.layers.2.5.conv1.weight')).toBe(true);
    expect(params.has('decoder.backbone.layers.2.6.conv1.weight')).toBe(false);
    const maps = randomMaps([[1, 16, 16, 256], [1, 8, 8, 512], [1, 4, 4, 1024]], 1);
    const out = ae.reconstruct(maps);
    expect(out.map((o) => o.shape)).toEqual(maps.map((m) => m.shape));
    tf.dispose([...maps, ...out]);
    ae.dispose();
  });

  it('resnet18 {2, 3} at 64×64: outputs in input order, same shapes, finite, non-negative (final ReLU)', () => {
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'] });
    const maps = randomMaps([[2, 8, 8, 128], [2, 4, 4, 256]], 2);
    const out = ae.reconstruct(maps);
    expect(out.map((o) => o.shape)).toEqual([[2, 8, 8, 128], [2, 4, 4, 256]]);
    for (const o of out) {
      const v = o.dataSync();
      expect(v.every(Number.isFinite)).toBe(true);
      expect(v.every((x) => x >= 0)).toBe(true);
      expect(v.some((x) => x > 0)).toBe(true);
    }
    // Each sample is reconstructed independently (instance norm has no batch coupling).
    const single = ae.reconstruct(maps.map((m) => tf.slice(m, [1, 0, 0, 0], [1, -1, -1, -1])));
    const fromBatch = tf.slice(out[1], [1, 0, 0, 0], [1, -1, -1, -1]);
    expect(tf.max(tf.abs(tf.sub(single[1], fromBatch))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([...maps, ...out, ...single, fromBatch]);
    ae.dispose();
  });

  it('initialises deterministically from the seed', () => {
    const a = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer1', 'layer2'], seed: 5 });
    const b = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer1', 'layer2'], seed: 5 });
    const c = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer1', 'layer2'], seed: 6 });
    const pa = a.parameters();
    const pb = b.parameters();
    const pc = c.parameters();
    expect([...pa.keys()]).toEqual([...pb.keys()]);
    let differing = 0;
    for (const [name, v] of pa) {
      expect(Array.from(v.dataSync())).toEqual(Array.from(pb.get(name)?.dataSync() ?? []));
      if (name.endsWith('conv1.weight') || name.endsWith('0.0.0.weight')) {
        const w = v.dataSync();
        const other = pc.get(name)?.dataSync() ?? new Float32Array();
        if (w.some((x, i) => x !== other[i])) differing++;
      }
    }
    expect(differing).toBeGreaterThan(5);
    expect(a.options).toEqual({ backbone: 'resnet18', layers: ['layer1', 'layer2'], seed: 5 });
    expect(new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer4'] }).options.seed).toBe(0);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('initialises convs kaiming-normal (fan_out) and norms to weight 1 / bias 0', () => {
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer1'] });
    const p = ae.parameters();
    const w = Float32Array.from(p.get('decoder.backbone.layers.0.0.conv2.weight')?.dataSync() ?? []);
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    expect(sd).toBeCloseTo(Math.sqrt(2 / (64 * 9)), 2);
    const deconv = Float32Array.from(p.get('decoder.backbone.layers.0.0.conv1.weight')?.dataSync() ?? []);
    const bound = 1 / Math.sqrt(64 * 4); // fan_in = out·k·k for ConvTranspose2d
    const largest = deconv.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    expect(largest).toBeLessThanOrEqual(bound);
    expect(largest).toBeGreaterThan(0.95 * bound);
    expect(Array.from(new Set(p.get('encoder.fusion_layer.encode_layer1.0.ln1.weight')?.dataSync()))).toEqual([1]);
    expect(Array.from(new Set(p.get('decoder.backbone.layers.0.0.bn2.bias')?.dataSync()))).toEqual([0]);
    ae.dispose();
  });
});

describe('FeatureAutoEncoder input sizes (docs/reference-implementation.md §9)', () => {
  it('minimumInputSize: the deepest map must be at least 4×4', () => {
    expect(FeatureAutoEncoder.minimumInputSize(['layer2', 'layer3'])).toBe(64);
    expect(FeatureAutoEncoder.minimumInputSize(['layer1', 'layer2', 'layer3'])).toBe(64);
    expect(FeatureAutoEncoder.minimumInputSize(['layer1', 'layer2'])).toBe(32);
    expect(FeatureAutoEncoder.minimumInputSize(['layer1'])).toBe(16);
    expect(FeatureAutoEncoder.minimumInputSize(['layer4'])).toBe(128);
  });

  it('validateInputSize names the smallest valid size, and rejects sizes whose maps do not halve exactly', () => {
    const layers: LayerName[] = ['layer2', 'layer3'];
    expect(() => FeatureAutoEncoder.validateInputSize(32, layers)).toThrow(InvalidArgumentError);
    expect(() => FeatureAutoEncoder.validateInputSize(32, layers)).toThrow(/64×64/);
    expect(() => FeatureAutoEncoder.validateInputSize(63, layers)).toThrow(/64×64/);
    for (const ok of [64, 96, 224, 256, 255]) expect(() => FeatureAutoEncoder.validateInputSize(ok, layers)).not.toThrow();
    expect(() => FeatureAutoEncoder.validateInputSize(80, layers)).toThrow(/multiple of 32/);
    expect(() => FeatureAutoEncoder.validateInputSize(100.5, layers)).toThrow(InvalidArgumentError);
    expect(resnetMapSizes(256)).toEqual([64, 32, 16, 8]);
    expect(resnetMapSizes(255)).toEqual([64, 32, 16, 8]);
  });

  it('reconstruct rejects the maps of a 32×32 image (1×1 bottleneck) naming 64×64', () => {
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'] });
    const maps = randomMaps([[1, 4, 4, 128], [1, 2, 2, 256]], 3);
    const before = tf.memory().numTensors;
    expect(() => ae.reconstruct(maps)).toThrow(InvalidArgumentError);
    expect(() => ae.reconstruct(maps)).toThrow(/at least 64×64/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(maps);
    ae.dispose();
  });

  it('rejects maps that do not fit the options with ShapeMismatchError', () => {
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'] });
    const good = randomMaps([[1, 8, 8, 128], [1, 4, 4, 256]], 4);
    const cases: tf.Tensor4D[][] = [
      [good[0]], // wrong count
      randomMaps([[1, 8, 8, 64], [1, 4, 4, 256]], 5), // wrong channels
      randomMaps([[1, 8, 8, 128], [2, 4, 4, 256]], 6), // batch mismatch
      randomMaps([[1, 16, 16, 128], [1, 4, 4, 256]], 7), // not 2× the deepest map
      randomMaps([[1, 10, 10, 128], [1, 5, 5, 256]], 8), // odd deepest map
    ];
    for (const maps of cases) expect(() => ae.reconstruct(maps)).toThrow(ShapeMismatchError);
    expect(() => ae.reconstruct(cases[1])).toThrow(/maps\[0\] \(layer2\)/);
    tf.dispose([...good, ...cases.slice(1).flat()]);
    ae.dispose();
  });

  it('rejects bad options', () => {
    const make = (backbone: string, layers: string[]) => () =>
      new FeatureAutoEncoder({ backbone: backbone as ResNetName, layers: layers as LayerName[] });
    expect(make('resnet19', ['layer2'])).toThrow(/options.backbone/);
    expect(make('resnet18', [])).toThrow(InvalidArgumentError);
    expect(make('resnet18', ['layer1', 'layer3'])).toThrow(/consecutive/);
    expect(make('resnet18', ['layer3', 'layer2'])).toThrow(/consecutive/);
    expect(make('resnet18', ['layer5'])).toThrow(/options.layers/);
    expect(() => new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2'], seed: 0.5 })).toThrow(/seed/);
  });
});

describe('FeatureAutoEncoder memory and gradients', () => {
  it('does not leak tensors across forwards and frees its variables on dispose', () => {
    const before = tf.memory().numTensors;
    const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer1', 'layer2'] });
    expect(tf.memory().numTensors).toBe(before + ae.parameters().size);
    const maps = randomMaps([[1, 8, 8, 64], [1, 4, 4, 128]], 9);
    const ready = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        ae.reconstruct(maps);
      });
      expect(tf.memory().numTensors).toBe(ready);
    }
    tf.dispose(maps);
    ae.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => ae.parameters()).toThrow(InvalidArgumentError);
  });

  const smoke = (backbone: ResNetName, layers: LayerName[], shapes: [number, number, number, number][]) => () => {
    const ae = new FeatureAutoEncoder({ backbone, layers });
    const maps = randomMaps(shapes, 10);
    const params = ae.parameters();
    const names = [...params.keys()];
    const { value, grads } = tf.variableGrads(() => cosineLoss(maps, ae.reconstruct(maps)), [...params.values()]);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    for (const name of names) {
      const g = grads[params.get(name)?.name ?? ''];
      expect(g, name).toBeDefined();
      expect(g.shape, name).toEqual(params.get(name)?.shape);
      const v = g.dataSync();
      expect(v.every(Number.isFinite), name).toBe(true);
      expect(v.some((x) => x !== 0), name).toBe(true);
    }
    tf.dispose([value, ...Object.values(grads), ...maps]);
    ae.dispose();
  };

  it('tf.variableGrads gives a finite, non-zero gradient for every parameter (basic blocks, 2 maps, smallest size)',
    smoke('resnet18', ['layer1', 'layer2'], [[1, 8, 8, 64], [1, 4, 4, 128]]));

  it('… and with bottleneck blocks (resnet50, layer1 at 16×16)', smoke('resnet50', ['layer1'], [[1, 4, 4, 256]]));
});
