/**
 * Weight initialisers reproducing PyTorch's, drawn from a seeded {@link Rng}
 * (docs/reference-implementation.md §2: convs kaiming-normal fan_out/relu; everything else keeps PyTorch's default).
 *
 * PyTorch's default for `Conv2d`, `ConvTranspose2d` and `Linear` is
 * `kaiming_uniform_(w, a=√5)`, i.e. U(−b, b) with b = gain·√(3/fan_in) and
 * gain = √(2/(1+a²)) = √(1/3), so b = 1/√fan_in. `fan_in` is `w.size(1) · kh · kw`:
 * for a `Conv2d` weight [out, in, kh, kw] that is in·kh·kw; for a `ConvTranspose2d`
 * weight [in, out, kh, kw] it is out·kh·kw; for a `Linear` weight [out, in] it is in.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './random.js';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Normal(0, std²) tensor of `shape`. */
export function normalTensor(rng: Rng, shape: readonly number[], std: number): tf.Tensor {
  return tf.tensor(rng.fillNormal(new Float32Array(sizeOf(shape)), 0, std), [...shape], 'float32');
}

/** Uniform(−bound, bound) tensor of `shape`. */
export function uniformTensor(rng: Rng, shape: readonly number[], bound: number): tf.Tensor {
  return tf.tensor(rng.fillUniform(new Float32Array(sizeOf(shape)), -bound, bound), [...shape], 'float32');
}

/**
 * `nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')` for a conv weight:
 * std = √2 / √(out · kh · kw). `shape` is HWIO [kh, kw, in, out].
 */
export function kaimingNormalFanOut(rng: Rng, shape: readonly [number, number, number, number]): tf.Tensor4D {
  const [kh, kw, , out] = shape;
  return normalTensor(rng, shape, Math.sqrt(2) / Math.sqrt(out * kh * kw)) as tf.Tensor4D;
}

/**
 * PyTorch's default weight init (`kaiming_uniform_(a=√5)`): U(−1/√fanIn, 1/√fanIn).
 * The caller supplies `fanIn` computed as PyTorch does for its own weight layout.
 */
export function pytorchDefaultUniform(rng: Rng, shape: readonly number[], fanIn: number): tf.Tensor {
  return uniformTensor(rng, shape, 1 / Math.sqrt(fanIn));
}
