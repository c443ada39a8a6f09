/**
 * Instance normalisation with PyTorch semantics: statistics per sample and per channel,
 * biased variance, eps 1e-5, no running statistics (the same in training and inference).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { BaseModule, type Layer4D } from './module.js';

/** PyTorch's default `eps` for every normalisation layer. */
export const INSTANCE_NORM_EPS = 1e-5;

/** Options of {@link InstanceNorm2d}. */
export interface InstanceNorm2dOptions {
  channels: number;
  /** Learnable per-channel scale (`weight`, init 1) and shift (`bias`, init 0). Default false, as PyTorch. */
  affine?: boolean;
  /** Default {@link INSTANCE_NORM_EPS}. */
  eps?: number;
}

/**
 * `nn.InstanceNorm2d`: y = (x − mean_HW) / √(var_HW + eps) · weight + bias, with mean and
 * biased variance over H×W of each sample and channel. A map with a single spatial
 * element normalises to 0 (PyTorch raises instead); callers reject such sizes up front.
 * Parameters (affine only): `weight` [C], `bias` [C].
 */
export class InstanceNorm2d extends BaseModule implements Layer4D {
  readonly channels: number;
  readonly affine: boolean;
  readonly eps: number;
  /** [C], present when affine. */
  readonly weight: tf.Variable<tf.Rank.R1> | null = null;
  /** [C], present when affine. */
  readonly bias: tf.Variable<tf.Rank.R1> | null = null;

  constructor(options: InstanceNorm2dOptions) {
    super();
    const { channels, affine = false, eps = INSTANCE_NORM_EPS } = options;
    checkInteger(channels, 'channels', 1);
    if (!(eps > 0)) throw new InvalidArgumentError('eps', 'a positive number', String(eps));
    this.channels = channels;
    this.affine = affine;
    this.eps = eps;
    if (affine) {
      this.weight = this.addParameter('weight', tf.ones([channels])) as tf.Variable<tf.Rank.R1>;
      this.bias = this.addParameter('bias', tf.zeros([channels])) as tf.Variable<tf.Rank.R1>;
    }
  }

  /** [N, H, W, C] → [N, H, W, C]; differentiable through {@link instanceNorm2dFused}. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    this.assertAlive();
    if (x.rank !== 4 || x.shape[3] !== this.channels) {
      throw new ShapeMismatchError('InstanceNorm2d input', `[N, H, W, ${this.channels}]`, `[${x.shape.join(', ')}]`);
    }
    const affine = this.weight === null || this.bias === null ? null : { weight: this.weight, bias: this.bias };
    return instanceNorm2dFused(x, affine, this.eps);
  }
}

/** Per-channel scale and shift of an affine instance norm, [C] each. */
export interface InstanceNormAffine {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
}

/**
 * The instance norm's forward pass, ops in the layer's historical order (so the fused and the
 * autodiff paths give bitwise the same output): mean and biased variance over H×W, then
 * x̂ = (x − mean) · rsqrt(var + eps), then x̂ · weight + bias. Returns x̂ and rstd [N, 1, 1, C]
 * too; the caller owns all three (y is x̂ itself without affine).
 */
function normalise(x: tf.Tensor4D, affine: InstanceNormAffine | null, eps: number): { y: tf.Tensor4D; xHat: tf.Tensor4D; rstd: tf.Tensor4D } {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true); // [N, 1, 1, C] each
    const rstd = tf.rsqrt(tf.add(variance, eps)) as tf.Tensor4D;
    const xHat = tf.mul(tf.sub(x, mean), rstd) as tf.Tensor4D;
    const y = affine === null ? xHat : (tf.add(tf.mul(xHat, affine.weight), affine.bias) as tf.Tensor4D);
    return { y, xHat, rstd };
  });
}

/**
 * Instance norm whose gradient tfjs derives op by op (moments, sub, rsqrt, mul, add): the
 * layer's path before {@link instanceNorm2dFused}, kept as the reference its tests compare
 * against. Its tape saves several activation-sized tensors per call.
 *
 * @internal
 */
export function instanceNorm2dAutodiff(x: tf.Tensor4D, affine: InstanceNormAffine | null, eps = INSTANCE_NORM_EPS): tf.Tensor4D {
  return tf.tidy(() => normalise(x, affine, eps).y);
}

/**
 * Instance norm [N, H, W, C] → [N, H, W, C] as one `tf.customGrad` node. The forward pass
 * computes exactly what {@link instanceNorm2dAutodiff} computes (bitwise); for the backward
 * pass the tape keeps only x̂ (one activation-sized tensor; none extra without affine, where
 * x̂ is the output), rstd [N, 1, 1, C] and the weight, and the gradient is the closed form,
 * with M = H·W and sums over H×W of each sample and channel:
 *
 *   dβ = Σ_N Σ_HW g,   dγ = Σ_N Σ_HW g·x̂,
 *   dx = rstd·γ · (g − Σ_HW g / M − x̂ · Σ_HW g·x̂ / M)
 *
 * (γ factored out of the textbook rstd·(gγ − mean(gγ) − x̂·mean(gγ·x̂)): it is constant over
 * H×W). The three gradients are always computed together, whichever inputs are on the path.
 *
 * @param x Input [N, H, W, C].
 * @param affine Per-channel weight γ and bias β [C], or null for none.
 * @param eps Added to the variance. Default {@link INSTANCE_NORM_EPS}.
 */
export function instanceNorm2dFused(x: tf.Tensor4D, affine: InstanceNormAffine | null, eps = INSTANCE_NORM_EPS): tf.Tensor4D {
  const [, h, w] = x.shape;
  const inverseCount = 1 / (h * w);
  const gradient = (dy: tf.Tensor4D, saved: tf.Tensor[]): tf.Tensor[] =>
    tf.tidy(() => {
      const [xHat, rstd, weight] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D | undefined];
      const sumDy = tf.sum(dy, [1, 2], true); // [N, 1, 1, C]
      const sumDyXHat = tf.sum(tf.mul(dy, xHat), [1, 2], true);
      const centred = tf.sub(tf.sub(dy, tf.mul(sumDy, inverseCount)), tf.mul(xHat, tf.mul(sumDyXHat, inverseCount)));
      const dx = tf.mul(centred, weight === undefined ? rstd : tf.mul(rstd, weight)) as tf.Tensor4D;
      if (weight === undefined) return [dx];
      return [dx, tf.sum(sumDyXHat, [0, 1, 2]), tf.sum(sumDy, [0, 1, 2])];
    });
  if (affine === null) {
    const forward = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
      const { xHat, rstd } = normalise(input as tf.Tensor4D, null, eps);
      (save as tf.GradSaveFunc)([xHat, rstd]);
      return { value: xHat, gradFunc: gradient };
    });
    return forward(x);
  }
  const forward = tf.customGrad(
    (input: tf.Tensor | tf.GradSaveFunc, weight: tf.Tensor | tf.GradSaveFunc, bias: tf.Tensor | tf.GradSaveFunc, save: tf.Tensor | tf.GradSaveFunc) => {
      const { y, xHat, rstd } = normalise(input as tf.Tensor4D, { weight: weight as tf.Tensor1D, bias: bias as tf.Tensor1D }, eps);
      (save as tf.GradSaveFunc)([xHat, rstd, weight as tf.Tensor1D]);
      return { value: y, gradFunc: gradient };
    },
  );
  return forward(x, affine.weight, affine.bias);
}

/**
 * What `nn.InstanceNorm1d(k)` (affine=False) does to a 2-D input [N, F] in PyTorch ≥ 1.11
 * (the authors pin 1.13): a 2-D input is taken as an *unbatched* [C, L] signal, so each
 * row — one sample — is normalised over its F features (mean and biased variance of the
 * row, eps 1e-5). It is a per-sample LayerNorm without affine parameters, and `k` is
 * ignored (PyTorch only warns when N ≠ k). The image-level discriminator head relies on it.
 */
export function instanceNorm1dRows(x: tf.Tensor2D, eps = INSTANCE_NORM_EPS): tf.Tensor2D {
  if (x.rank !== 2) throw new ShapeMismatchError('instanceNorm1dRows input', '[N, F]', `[${x.shape.join(', ')}]`);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 1, true); // [N, 1] each
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))) as tf.Tensor2D;
  });
}
