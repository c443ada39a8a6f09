/**
 * Residual blocks of the de-ResNet decoder: BasicBlock and Bottleneck in which the strided
 * 3×3 conv becomes a 2×2 transposed conv with stride 2 (doubling H and W), and whose
 * shortcut is [2×2 transposed conv stride 2, InstanceNorm] (docs/reference-implementation.md §2). Parameter names follow
 * the authors' decoder (`conv1`, `bn1`, …, `upsample.0/1` — the norms are InstanceNorm
 * despite the `bn` names).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { relu } from '../nn/activations.js';
import { Conv2d } from '../nn/conv2d.js';
import { ConvTranspose2d } from '../nn/conv-transpose2d.js';
import { InstanceNorm2d } from '../nn/instance-norm.js';
import { BaseModule, type Layer4D, Sequential } from '../nn/module.js';
import type { Rng } from '../nn/random.js';
import { blockExpansion, type BlockKind } from './encoder-blocks.js';

/** Options shared by the decoder blocks. */
export interface DecoderBlockOptions {
  inplanes: number;
  planes: number;
  /** 2: upsampling block (transposed conv); 1: plain block. */
  stride: 1 | 2;
  /** Projection on the identity path ([2×2 transposed conv, InstanceNorm] when stride 2). */
  upsample: boolean;
  /** torchvision's `width_per_group` (64, or 128 for wide variants). */
  widthPerGroup: number;
  rng: Rng;
}

function conv3x3(inChannels: number, outChannels: number, rng: Rng): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 3, stride: 1, padding: 1, init: 'kaiming-normal-fan-out', rng });
}

function conv1x1(inChannels: number, outChannels: number, rng: Rng): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 1, stride: 1, padding: 0, init: 'kaiming-normal-fan-out', rng });
}

/** 2×2 transposed conv, stride 2 (PyTorch's default init: it is not a `Conv2d`, so the authors' kaiming loop skips it). */
function deconv2x2(inChannels: number, outChannels: number, rng: Rng): ConvTranspose2d {
  return new ConvTranspose2d({ inChannels, outChannels, kernelSize: 2, stride: 2, rng });
}

/** The block's spatial layer: 2×2 transposed conv when upsampling, else a 3×3 conv. */
function spatial(inChannels: number, outChannels: number, stride: 1 | 2, rng: Rng): Layer4D {
  return stride === 2 ? deconv2x2(inChannels, outChannels, rng) : conv3x3(inChannels, outChannels, rng);
}

function norm(channels: number): InstanceNorm2d {
  return new InstanceNorm2d({ channels, affine: true });
}

/** Identity-path projection: [2×2 transposed conv stride 2 or 1×1 conv, InstanceNorm]. */
function projection(inChannels: number, outChannels: number, stride: 1 | 2, rng: Rng): Sequential {
  const first = stride === 2 ? deconv2x2(inChannels, outChannels, rng) : conv1x1(inChannels, outChannels, rng);
  return new Sequential([first, norm(outChannels)]);
}

/** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut), conv1 upsampling when stride 2. */
export class DecoderBasicBlock extends BaseModule implements Layer4D {
  private readonly conv1: Layer4D;
  private readonly bn1: InstanceNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: InstanceNorm2d;
  private readonly upsample: Sequential | null;

  constructor(o: DecoderBlockOptions) {
    super();
    if (o.widthPerGroup !== 64) {
      throw new InvalidArgumentError('widthPerGroup', '64 for basic blocks', String(o.widthPerGroup));
    }
    this.conv1 = this.addModule('conv1', spatial(o.inplanes, o.planes, o.stride, o.rng));
    this.bn1 = this.addModule('bn1', norm(o.planes));
    this.conv2 = this.addModule('conv2', conv3x3(o.planes, o.planes, o.rng));
    this.bn2 = this.addModule('bn2', norm(o.planes));
    this.upsample = o.upsample ? this.addModule('upsample', projection(o.inplanes, o.planes, o.stride, o.rng)) : null;
  }

  /** [N, H, W, inplanes] → [N, H·stride, W·stride, planes]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = relu(this.bn1.apply(this.conv1.apply(x)));
      out = this.bn2.apply(this.conv2.apply(out));
      const identity = this.upsample === null ? x : this.upsample.apply(x);
      return relu(tf.add(out, identity));
    });
  }
}

/** 1×1 reduce → (2×2 transposed conv stride 2 | 3×3) → 1×1 expand (×4), plus shortcut. */
export class DecoderBottleneck extends BaseModule implements Layer4D {
  private readonly conv1: Conv2d;
  private readonly bn1: InstanceNorm2d;
  private readonly conv2: Layer4D;
  private readonly bn2: InstanceNorm2d;
  private readonly conv3: Conv2d;
  private readonly bn3: InstanceNorm2d;
  private readonly upsample: Sequential | null;

  constructor(o: DecoderBlockOptions) {
    super();
    const width = Math.floor(o.planes * (o.widthPerGroup / 64));
    const outChannels = o.planes * 4;
    this.conv1 = this.addModule('conv1', conv1x1(o.inplanes, width, o.rng));
    this.bn1 = this.addModule('bn1', norm(width));
    this.conv2 = this.addModule('conv2', spatial(width, width, o.stride, o.rng));
    this.bn2 = this.addModule('bn2', norm(width));
    this.conv3 = this.addModule('conv3', conv1x1(width, outChannels, o.rng));
    this.bn3 = this.addModule('bn3', norm(outChannels));
    this.upsample = o.upsample ? this.addModule('upsample', projection(o.inplanes, outChannels, o.stride, o.rng)) : null;
  }

  /** [N, H, W, inplanes] → [N, H·stride, W·stride, 4·planes]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = relu(this.bn1.apply(this.conv1.apply(x)));
      out = relu(this.bn2.apply(this.conv2.apply(out)));
      out = this.bn3.apply(this.conv3.apply(out));
      const identity = this.upsample === null ? x : this.upsample.apply(x);
      return relu(tf.add(out, identity));
    });
  }
}

/**
 * The decoder's `_make_layer`: `blocks` blocks, the first upsampling by `stride` with a
 * projection shortcut when stride ≠ 1 or channels change. Children named `0`, `1`, ….
 */
export function makeDecoderStage(
  kind: BlockKind,
  inplanes: number,
  planes: number,
  blocks: number,
  stride: 1 | 2,
  widthPerGroup: number,
  rng: Rng,
): Sequential {
  const Block = kind === 'basic' ? DecoderBasicBlock : DecoderBottleneck;
  const outChannels = planes * blockExpansion(kind);
  const upsample = stride !== 1 || inplanes !== outChannels;
  const layers: Layer4D[] = [new Block({ inplanes, planes, stride, upsample, widthPerGroup, rng })];
  for (let i = 1; i < blocks; i++) {
    layers.push(new Block({ inplanes: outChannels, planes, stride: 1, upsample: false, widthPerGroup, rng }));
  }
  return new Sequential(layers);
}
