/**
 * `nn.ConvTranspose2d` without bias and without padding on NHWC tensors: each input pixel
 * scatters a kernel-sized patch, so the output size is (in − 1)·stride + kernel
 * (2×2, stride 2 ⇒ exactly twice the input). Weight layout is tfjs' [kh, kw, out, in]
 * (PyTorch's is [in, out, kh, kw]; the two are a pure transpose, no kernel flip).
 */

import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { pytorchDefaultUniform } from './init.js';
import { BaseModule, type Layer4D } from './module.js';
import type { Rng } from './random.js';

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dOptions {
  inChannels: number;
  outChannels: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Default 1. */
  stride?: number;
  /** Source of the initial weights. */
  rng: Rng;
}

/**
 * Transposed 2-D convolution, no bias, no padding:
 * `y[n, s·i + a, s·j + b, o] += Σ_c x[n, i, j, c] · weight[a, b, o, c]`.
 * Initialised as PyTorch's default: U(±1/√fan_in) with fan_in = out·kh·kw (PyTorch reads
 * fan_in from dim 1 of its [in, out, kh, kw] weight). Parameter: `weight` [kh, kw, out, in].
 */
export class ConvTranspose2d extends BaseModule implements Layer4D {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  /** [kh, kw, out, in] */
  readonly weight: tf.Variable<tf.Rank.R4>;

  constructor(options: ConvTranspose2dOptions) {
    super();
    const { inChannels, outChannels, kernelSize, stride = 1, rng } = options;
    checkInteger(inChannels, 'inChannels', 1);
    checkInteger(outChannels, 'outChannels', 1);
    checkInteger(kernelSize, 'kernelSize', 1);
    checkInteger(stride, 'stride', 1);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = stride;
    const shape = [kernelSize, kernelSize, outChannels, inChannels];
    this.weight = this.addParameter(
      'weight',
      pytorchDefaultUniform(rng, shape, outChannels * kernelSize * kernelSize),
    ) as tf.Variable<tf.Rank.R4>;
  }

  /** [N, H, W, in] → [N, (H−1)·s + k, (W−1)·s + k, out]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    this.assertAlive();
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ShapeMismatchError('ConvTranspose2d input', `[N, H, W, ${this.inChannels}]`, `[${x.shape.join(', ')}]`);
    }
    const [n, h, w] = x.shape;
    const { kernelSize: k, stride: s } = this;
    const outShape: [number, number, number, number] = [n, (h - 1) * s + k, (w - 1) * s + k, this.outChannels];
    return tf.conv2dTranspose(x, this.weight, outShape, s, 'valid');
  }
}
