/**
 * The auto-encoder's "fusion" encoder E (docs/reference-implementation.md §2): each feature map is brought to the
 * deepest map's channels and size by [3×3 conv s2 (c → 2c), InstanceNorm, ReLU] steps,
 * the results are concatenated along channels, and one ResNet stage with stride 2
 * produces the bottleneck z (half the deepest map's size).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { BaseModule, type Layer4D, Sequential } from '../nn/module.js';
import type { Rng } from '../nn/random.js';
import { blockExpansion, type BlockKind, makeEncoderStage, makeReductionStep } from './encoder-blocks.js';

/** Options of {@link FusionEncoder}. */
export interface FusionEncoderOptions {
  block: BlockKind;
  /** Channels of each input map, shallow → deep; each must be the deepest one divided by a power of two. */
  channels: readonly number[];
  /** Blocks of the bottleneck stage: 2 for resnet18, 3 otherwise. */
  blocks: number;
  /** torchvision's `width_per_group`. */
  widthPerGroup: number;
  rng: Rng;
}

/**
 * maps (shallow → deep) → z [N, h/2, w/2, 2·c_last] where h×w, c_last are the deepest
 * map's size and channels. Parameters: `conv_layers.<i>.<j>.{0,1}.*` (reduction steps) and
 * `encode_layer1.*` (the stage).
 */
export class FusionEncoder extends BaseModule {
  private readonly reductions: Sequential[] = [];
  private readonly stage: Sequential;
  /** Channels of z. */
  readonly outChannels: number;

  constructor(o: FusionEncoderOptions) {
    super();
    const last = o.channels[o.channels.length - 1];
    const expansion = blockExpansion(o.block);
    o.channels.forEach((c, i) => {
      const steps: Layer4D[] = [];
      let channels = c;
      while (channels < last) {
        steps.push(makeReductionStep(channels, o.rng));
        channels *= 2;
      }
      if (channels !== last) {
        throw new InvalidArgumentError('channels', `each map's channels to be ${last} divided by a power of two`, `[${o.channels.join(', ')}]`);
      }
      this.reductions.push(this.addModule(`conv_layers.${i}`, new Sequential(steps)));
    });
    // _make_layer(block, inplanes = c_last·n_maps, planes = 2·c_last/expansion, stride 2)
    const planes = (2 * last) / expansion;
    this.stage = this.addModule(
      'encode_layer1',
      makeEncoderStage(o.block, last * o.channels.length, planes, o.blocks, 2, o.widthPerGroup, o.rng),
    );
    this.outChannels = planes * expansion;
  }

  /** maps [N, h·2^k, w·2^k, c_last/2^k] (shallow → deep) → z [N, h/2, w/2, 2·c_last]. */
  encode(maps: readonly tf.Tensor4D[]): tf.Tensor4D {
    this.assertAlive();
    return tf.tidy(() => {
      const reduced = maps.map((x, i) => this.reductions[i].apply(x)); // each [N, h, w, c_last]
      const fused = reduced.length === 1 ? reduced[0] : tf.concat(reduced, 3); // [N, h, w, c_last·n]
      return this.stage.apply(fused);
    });
  }
}
