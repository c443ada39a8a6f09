/**
 * The auto-encoder's "de-ResNet" decoder D (docs/reference-implementation.md §2): one upsampling ResNet stage per
 * reconstructed map, from the deepest to the shallowest. The stage for a map with base
 * channels o (channels / expansion) takes 2·o·expansion channels, returns o·expansion at
 * twice the size, and has as many blocks as the backbone's stage at the same position
 * counted from the start (blocks[0] for the deepest map, blocks[1] for the next, …).
 */

import * as tf from '@tensorflow/tfjs-core';
import { BaseModule, type Sequential } from '../nn/module.js';
import type { Rng } from '../nn/random.js';
import { blockExpansion, type BlockKind } from './encoder-blocks.js';
import { makeDecoderStage } from './decoder-blocks.js';

/** Options of {@link DeResNetDecoder}. */
export interface DeResNetDecoderOptions {
  block: BlockKind;
  /** Channels of each map to reconstruct, shallow → deep (consecutive ResNet stages). */
  channels: readonly number[];
  /** The backbone's blocks per stage (e.g. [2, 2, 2, 2] for resnet18). */
  blocks: readonly number[];
  /** torchvision's `width_per_group`. */
  widthPerGroup: number;
  rng: Rng;
}

/**
 * z [N, h/2, w/2, 2·c_last] → reconstructions in the order of `channels` (shallow → deep).
 * Parameters: `layers.<k>.*`, k = 0 for the deepest map's stage.
 */
export class DeResNetDecoder extends BaseModule {
  private readonly stages: Sequential[] = [];

  constructor(o: DeResNetDecoderOptions) {
    super();
    const expansion = blockExpansion(o.block);
    const deepFirst = [...o.channels].reverse();
    deepFirst.forEach((channels, k) => {
      const base = channels / expansion;
      this.stages.push(
        this.addModule(
          `layers.${k}`,
          makeDecoderStage(o.block, 2 * base * expansion, base, o.blocks[k], 2, o.widthPerGroup, o.rng),
        ),
      );
    });
  }

  /** z → one reconstruction per map, shallow → deep (each stage doubles H and W). */
  decode(z: tf.Tensor4D): tf.Tensor4D[] {
    this.assertAlive();
    return tf.tidy(() => {
      const deepFirst: tf.Tensor4D[] = [];
      let x = z;
      for (const stage of this.stages) {
        x = stage.apply(x);
        deepFirst.push(x);
      }
      return deepFirst.reverse();
    });
  }
}
