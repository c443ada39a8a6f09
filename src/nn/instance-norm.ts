/**
 * Instance normalisation with PyTorch semantics: statistics per sample and per channel,
 * biased variance, eps 1e-5, no running statistics (the same in training and inference).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { checkCount } from './conv2d.js';
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
    checkCount('channels', channels);
    if (!(eps > 0)) throw new InvalidArgumentError('eps', 'a positive number', String(eps));
    this.channels = channels;
    this.affine = affine;
    this.eps = eps;
    if (affine) {
      this.weight = this.addParameter('weight', tf.ones([channels])) as tf.Variable<tf.Rank.R1>;
      this.bias = this.addParameter('bias', tf.zeros([channels])) as tf.Variable<tf.Rank.R1>;
    }
  }

  /** [N, H, W, C] → [N, H, W, C]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    this.assertAlive();
    if (x.rank !== 4 || x.shape[3] !== this.channels) {
      throw new ShapeMismatchError('InstanceNorm2d input', `[N, H, W, ${this.channels}]`, `[${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, [1, 2], true); // [N, 1, 1, C] each
      const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps))) as tf.Tensor4D;
      if (this.weight === null || this.bias === null) return normalised;
      return tf.add(tf.mul(normalised, this.weight), this.bias) as tf.Tensor4D;
    });
  }
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
