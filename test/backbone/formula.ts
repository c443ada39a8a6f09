/**
 * The closed-form weights and input of scripts/make_resnet_fixtures.py, recomputed bit for
 * bit (see the formula in that script's docstring). Shared by the backbone tests.
 */

import { encodeSafetensors, type SafetensorsTensorInput } from '../../src/io/safetensors.js';
import type { ResNetConfig } from '../../src/backbone/configs.js';
import { resnetWeightSpecs, type WeightSpec } from '../../src/backbone/resnet-weights.js';

/** Tensor number the script uses for the input image batch. */
export const INPUT_TENSOR_INDEX = 1000;

/** u in [0, 1) for element i of tensor number t (exact in float64). */
export function hashUniform(t: number, i: number): number {
  let x = (i + Math.imul(t + 1, 0x9e3779b9)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return (x >>> 0) / 4294967296; // XOR yields a signed int32: reinterpret as unsigned
}

/** The formula value of one weight tensor (PyTorch layout), as float32. */
export function formulaTensor(spec: WeightSpec, t: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let value: (u: number) => number;
  if (spec.role === 'conv') {
    const [, cin, kh, kw] = spec.shape;
    const s = Math.sqrt(6 / (cin * kh * kw));
    value = (u) => s * (2 * u - 1);
  } else if (spec.role === 'bn_var') value = (u) => 0.5 + u;
  else if (spec.role === 'bn_bias' || spec.role === 'bn_mean') value = (u) => 0.1 * (2 * u - 1);
  else value = (u) => 1 + 0.25 * (2 * u - 1);
  for (let i = 0; i < n; i++) out[i] = value(hashUniform(t, i));
  return out;
}

/** The fixtures' closed-form input batch, NHWC. */
export function formulaInput(shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = 1.5 * (2 * hashUniform(INPUT_TENSOR_INDEX, i) - 1);
  return out;
}

/**
 * A complete torchvision-style `model.safetensors` with the formula weights, plus the
 * tensors a real checkpoint also carries and the loader must skip: every BatchNorm's I64
 * `num_batches_tracked` and the classifier `fc.weight` / `fc.bias`.
 */
export function formulaSafetensors(config: ResNetConfig): Uint8Array {
  const tensors: Record<string, SafetensorsTensorInput> = {};
  resnetWeightSpecs(config).forEach((spec, t) => {
    tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: formulaTensor(spec, t) };
    if (spec.role === 'bn_var') {
      const counter = spec.name.replace(/running_var$/, 'num_batches_tracked');
      tensors[counter] = { dtype: 'I64', shape: [], data: new BigInt64Array([1000n]) };
    }
  });
  const features = 512 * config.expansion;
  tensors['fc.weight'] = { dtype: 'F32', shape: [1000, features], data: new Float32Array(1000 * features).fill(0.01) };
  tensors['fc.bias'] = { dtype: 'F32', shape: [1000], data: new Float32Array(1000) };
  return encodeSafetensors(tensors, { format: 'pt' });
}
