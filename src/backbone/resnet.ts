/**
 * The torchvision ResNet forward pass in NHWC, eval mode, on BatchNorm-folded weights:
 *
 *   conv1 7×7/2 → bn1 → relu → maxpool 3×3/2 → layer1 → layer2 → layer3 → layer4
 *
 * Padding follows PyTorch exactly: convs are zero-padded symmetrically (explicit pads, never
 * tfjs's 'same', which pads asymmetrically for even inputs with stride 2), and the max-pool
 * pads with −∞.
 */

import * as tf from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../errors.js';
import { LAYER_NAMES, type LayerName } from './configs.js';
import type { FoldedBlock, FoldedConv, ResNetWeights } from './resnet-weights.js';

/** conv(x, W') + b' (BatchNorm folded in), optionally followed by ReLU. [N, H, W, Cin] → [N, H', W', Cout]. */
export function convBn(x: tf.Tensor4D, conv: FoldedConv, relu: boolean): tf.Tensor4D {
  const p = conv.pad;
  return tf.fused.conv2d({
    x,
    filter: conv.filter,
    strides: conv.stride,
    pad: p === 0 ? 'valid' : [[0, 0], [p, p], [p, p], [0, 0]],
    bias: conv.bias,
    activation: relu ? 'relu' : 'linear',
  });
}

/** PyTorch `MaxPool2d(3, stride=2, padding=1)`: pads with −∞, so padding never wins the max. */
export function maxPool3x3s2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], -Infinity); // [N, H+2, W+2, C]
    return tf.maxPool(padded, 3, 2, 'valid'); // [N, ⌊(H−1)/2⌋+1, ⌊(W−1)/2⌋+1, C]
  });
}

/**
 * One residual block: relu(main(x) + shortcut(x)), where main is conv-bn-relu for every conv
 * but the last (no relu before the sum) and shortcut is the 1×1 projection or the identity.
 */
export function residualBlock(x: tf.Tensor4D, block: FoldedBlock): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    block.convs.forEach((conv, i) => {
      y = convBn(y, conv, i < block.convs.length - 1);
    });
    const shortcut = block.downsample ? convBn(x, block.downsample, false) : x;
    return tf.relu(tf.add<tf.Tensor4D>(y, shortcut));
  });
}

/**
 * Runs the stem and as many stages as the deepest requested layer needs, and returns the
 * requested layers' outputs shallow → deep. Each block's intermediates are freed as soon as
 * the block is done; the caller disposes the returned maps.
 *
 * @param images [N, H, W, 3] float32, already normalised.
 * @param weights folded weights holding at least the stages needed.
 * @param layers requested layers, in any order, without duplicates.
 */
export function resnetForward(images: tf.Tensor4D, weights: ResNetWeights, layers: readonly LayerName[]): tf.Tensor4D[] {
  const wanted = new Set(layers.map((l) => LAYER_NAMES.indexOf(l)));
  const depth = Math.max(...wanted) + 1;
  if (depth > weights.stages.length) {
    throw new InvalidArgumentError('layers', `layers among the ${weights.stages.length} loaded stages`, LAYER_NAMES[depth - 1]);
  }
  return tf.tidy(() => {
    const outputs: tf.Tensor4D[] = [];
    let x = tf.tidy(() => maxPool3x3s2(convBn(images, weights.stem, true))); // [N, H/4, W/4, 64]
    for (let s = 0; s < depth; s++) {
      for (const block of weights.stages[s]) {
        const y = residualBlock(x, block);
        if (!outputs.includes(x)) x.dispose();
        x = y;
      }
      if (wanted.has(s)) outputs.push(x); // layer(s+1): [N, H/2^(s+2), W/2^(s+2), C_s]
    }
    return outputs;
  });
}
