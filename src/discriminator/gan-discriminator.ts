/**
 * Discriminator of the plain-GAN ablation (paper eq. 7): the image-level head with its raw
 * output used as a logit (real = normal features, fake = reconstructions).
 */

import type * as tf from '@tensorflow/tfjs-core';
import type { Discriminator } from './discriminator.js';
import { ImageHead, type ImageDiscriminatorOptions } from './image-head.js';

/**
 * GAN discriminator: `forward(maps)` returns `[logits]` with logits [N] (unbounded; feed
 * them to a log-loss such as `ganDiscriminatorLoss`). Architecture in {@link ImageHead}.
 *
 * @example
 * ```ts
 * const d = new GanDiscriminator({ channels: [128, 256], sizes: [32, 16] });
 * const [logits] = d.forward([f2, f3]); // [N]
 * ```
 */
export class GanDiscriminator extends ImageHead implements Discriminator {
  constructor(options: ImageDiscriminatorOptions) {
    super(options, 'GanDiscriminator');
  }

  /** maps → [logits [N]]. */
  forward(maps: tf.Tensor4D[]): tf.Tensor1D[] {
    return [this.score(maps, 'GanDiscriminator')];
  }
}
