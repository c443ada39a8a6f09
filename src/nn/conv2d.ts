/**
 * `nn.Conv2d` without bias on NHWC tensors, with PyTorch's symmetric zero padding
 * (tfjs' `'same'` pads only bottom/right for stride 2 on even sizes, so padding is passed
 * explicitly). Weight layout is tfjs' HWIO [kh, kw, in, out] (PyTorch's is OIHW).
 */

import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { kaimingNormalFanOut, pytorchDefaultUniform } from './init.js';
import { BaseModule, type Layer4D } from './module.js';
import type { Rng } from './random.js';

/** How a conv weight is initialised. */
export type ConvInit =
  /** `kaiming_normal_(mode='fan_out', nonlinearity='relu')` — the auto-encoder's convs. */
  | 'kaiming-normal-fan-out'
  /** PyTorch's default `kaiming_uniform_(a=√5)` — the discriminators' convs. */
  | 'pytorch-default';

/** Options of {@link Conv2d}. */
export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Default 1. */
  stride?: number;
  /** Zeros added on every side, as PyTorch's `padding`. Default 0. */
  padding?: number;
  /** Default `'pytorch-default'`. */
  init?: ConvInit;
  /** Source of the initial weights. */
  rng: Rng;
}

/**
 * 2-D convolution without bias. Output size per spatial dim is
 * ⌊(in + 2·padding − kernel) / stride⌋ + 1, exactly as PyTorch.
 * Parameter: `weight` [kh, kw, in, out].
 */
export class Conv2d extends BaseModule implements Layer4D {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  /** [kh, kw, in, out] */
  readonly weight: tf.Variable<tf.Rank.R4>;

  constructor(options: Conv2dOptions) {
    super();
    const { inChannels, outChannels, kernelSize, stride = 1, padding = 0, init = 'pytorch-default', rng } = options;
    checkInteger(inChannels, 'inChannels', 1);
    checkInteger(outChannels, 'outChannels', 1);
    checkInteger(kernelSize, 'kernelSize', 1);
    checkInteger(stride, 'stride', 1);
    checkInteger(padding, 'padding', 0);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = stride;
    this.padding = padding;
    const shape: [number, number, number, number] = [kernelSize, kernelSize, inChannels, outChannels];
    const initial =
      init === 'kaiming-normal-fan-out'
        ? kaimingNormalFanOut(rng, shape)
        : pytorchDefaultUniform(rng, shape, inChannels * kernelSize * kernelSize);
    this.weight = this.addParameter('weight', initial) as tf.Variable<tf.Rank.R4>;
  }

  /** [N, H, W, in] → [N, H', W', out]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    this.assertAlive();
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new ShapeMismatchError('Conv2d input', `[N, H, W, ${this.inChannels}]`, `[${x.shape.join(', ')}]`);
    }
    const { kernelSize: k, stride: s, padding: p } = this;
    if (k === 1 && s === 1 && p === 0) {
      // A pointwise conv is a matrix product over positions: cheaper than conv2d on cpu.
      return tf.tidy(() => {
        const [n, h, w, c] = x.shape;
        const flat = tf.reshape(x, [n * h * w, c]); // [N·H·W, in]
        const y = tf.matMul(flat, tf.reshape(this.weight, [c, this.outChannels])); // [N·H·W, out]
        return tf.reshape(y, [n, h, w, this.outChannels]);
      });
    }
    if (x.shape[1] + 2 * p < k || x.shape[2] + 2 * p < k) {
      throw new ShapeMismatchError(
        'Conv2d input',
        `spatial size ≥ ${k - 2 * p} for a ${k}×${k} kernel with padding ${p}`,
        `[${x.shape.join(', ')}]`,
      );
    }
    const pad: 'valid' | [[number, number], [number, number], [number, number], [number, number]] =
      p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]];
    return tf.conv2d(x, this.weight, s, pad);
  }
}
