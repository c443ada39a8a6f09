/**
 * Residual blocks of the fusion encoder: torchvision's BasicBlock and Bottleneck (stride on
 * the 3×3 conv, "ResNet v1.5"), with affine InstanceNorm in place of BatchNorm (docs/reference-implementation.md §2).
 * Parameter names follow the authors' encoder (`conv1`, `ln1`, …, `downsample.0/1`).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { relu } from '../nn/activations.js';
import { Conv2d } from '../nn/conv2d.js';
import { InstanceNorm2d } from '../nn/instance-norm.js';
import { BaseModule, type Layer4D, Sequential } from '../nn/module.js';
import type { Rng } from '../nn/random.js';

/** Block family of a ResNet: `basic` (expansion 1) or `bottleneck` (expansion 4). */
export type BlockKind = 'basic' | 'bottleneck';

/** Output channels of a block relative to its `planes`. */
export function blockExpansion(kind: BlockKind): 1 | 4 {
  return kind === 'basic' ? 1 : 4;
}

/** Options shared by the encoder blocks. */
export interface EncoderBlockOptions {
  inplanes: number;
  planes: number;
  /** Stride of the block's spatial conv; 2 halves H and W. */
  stride: number;
  /** 1×1 conv (with `stride`) + InstanceNorm on the identity path; needed when shape changes. */
  downsample: boolean;
  /** torchvision's `width_per_group` (64, or 128 for wide variants). */
  widthPerGroup: number;
  rng: Rng;
}

/** A 3×3 conv, zero padding 1, kaiming-normal init (the auto-encoder's convs). */
function conv3x3(inChannels: number, outChannels: number, stride: number, rng: Rng): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 3, stride, padding: 1, init: 'kaiming-normal-fan-out', rng });
}

/** A 1×1 conv, no padding, kaiming-normal init. */
function conv1x1(inChannels: number, outChannels: number, stride: number, rng: Rng): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 1, stride, padding: 0, init: 'kaiming-normal-fan-out', rng });
}

/** Affine InstanceNorm (weight 1, bias 0). */
function norm(channels: number): InstanceNorm2d {
  return new InstanceNorm2d({ channels, affine: true });
}

/** Identity-path projection: 1×1 conv with stride, then InstanceNorm (`downsample.0`, `downsample.1`). */
function projection(inChannels: number, outChannels: number, stride: number, rng: Rng): Sequential {
  return new Sequential([conv1x1(inChannels, outChannels, stride, rng), norm(outChannels)]);
}

/** relu(conv2(relu(conv1(x)))) + shortcut, each conv followed by InstanceNorm. */
export class EncoderBasicBlock extends BaseModule implements Layer4D {
  private readonly conv1: Conv2d;
  private readonly ln1: InstanceNorm2d;
  private readonly conv2: Conv2d;
  private readonly ln2: InstanceNorm2d;
  private readonly downsample: Sequential | null;

  constructor(o: EncoderBlockOptions) {
    super();
    if (o.widthPerGroup !== 64) {
      throw new InvalidArgumentError('widthPerGroup', '64 for basic blocks', String(o.widthPerGroup));
    }
    this.conv1 = this.addModule('conv1', conv3x3(o.inplanes, o.planes, o.stride, o.rng));
    this.ln1 = this.addModule('ln1', norm(o.planes));
    this.conv2 = this.addModule('conv2', conv3x3(o.planes, o.planes, 1, o.rng));
    this.ln2 = this.addModule('ln2', norm(o.planes));
    this.downsample = o.downsample ? this.addModule('downsample', projection(o.inplanes, o.planes, o.stride, o.rng)) : null;
  }

  /** [N, H, W, inplanes] → [N, H/stride, W/stride, planes]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = relu(this.ln1.apply(this.conv1.apply(x)));
      out = this.ln2.apply(this.conv2.apply(out));
      const identity = this.downsample === null ? x : this.downsample.apply(x);
      return relu(tf.add(out, identity));
    });
  }
}

/** 1×1 reduce → 3×3 (stride) → 1×1 expand (×4), each with InstanceNorm, plus shortcut. */
export class EncoderBottleneck extends BaseModule implements Layer4D {
  private readonly conv1: Conv2d;
  private readonly ln1: InstanceNorm2d;
  private readonly conv2: Conv2d;
  private readonly ln2: InstanceNorm2d;
  private readonly conv3: Conv2d;
  private readonly ln3: InstanceNorm2d;
  private readonly downsample: Sequential | null;

  constructor(o: EncoderBlockOptions) {
    super();
    const width = Math.floor(o.planes * (o.widthPerGroup / 64));
    const outChannels = o.planes * 4;
    this.conv1 = this.addModule('conv1', conv1x1(o.inplanes, width, 1, o.rng));
    this.ln1 = this.addModule('ln1', norm(width));
    this.conv2 = this.addModule('conv2', conv3x3(width, width, o.stride, o.rng));
    this.ln2 = this.addModule('ln2', norm(width));
    this.conv3 = this.addModule('conv3', conv1x1(width, outChannels, 1, o.rng));
    this.ln3 = this.addModule('ln3', norm(outChannels));
    this.downsample = o.downsample ? this.addModule('downsample', projection(o.inplanes, outChannels, o.stride, o.rng)) : null;
  }

  /** [N, H, W, inplanes] → [N, H/stride, W/stride, 4·planes]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = relu(this.ln1.apply(this.conv1.apply(x)));
      out = relu(this.ln2.apply(this.conv2.apply(out)));
      out = this.ln3.apply(this.conv3.apply(out));
      const identity = this.downsample === null ? x : this.downsample.apply(x);
      return relu(tf.add(out, identity));
    });
  }
}

/**
 * torchvision's `_make_layer` for the encoder: `blocks` blocks, the first with `stride` and
 * a projection shortcut when stride ≠ 1 or channels change. Returns a {@link Sequential}
 * whose children are named `0`, `1`, ….
 */
export function makeEncoderStage(
  kind: BlockKind,
  inplanes: number,
  planes: number,
  blocks: number,
  stride: number,
  widthPerGroup: number,
  rng: Rng,
): Sequential {
  const Block = kind === 'basic' ? EncoderBasicBlock : EncoderBottleneck;
  const outChannels = planes * blockExpansion(kind);
  const layers: Layer4D[] = [];
  const downsample = stride !== 1 || inplanes !== outChannels;
  layers.push(new Block({ inplanes, planes, stride, downsample, widthPerGroup, rng }));
  for (let i = 1; i < blocks; i++) {
    layers.push(new Block({ inplanes: outChannels, planes, stride: 1, downsample: false, widthPerGroup, rng }));
  }
  return new Sequential(layers);
}

/** One step of the encoder's per-map reduction: 3×3 conv stride 2 (c → 2c), InstanceNorm, ReLU. */
export function makeReductionStep(channels: number, rng: Rng): Sequential {
  return new Sequential([conv3x3(channels, channels * 2, 2, rng), norm(channels * 2), relu]);
}
