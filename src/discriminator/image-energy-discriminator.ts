/**
 * CKAAD's image-level energy discriminator (CKAImg, paper eqs. 8–9): one energy per image,
 * |head output| ≥ 0, as the authors' `calculate_loss` takes `torch.abs` of the score.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { Discriminator } from './discriminator.js';
import { ImageHead, type ImageDiscriminatorOptions } from './image-head.js';

/**
 * Image-level energy discriminator: `forward(maps)` returns `[energies]` with energies
 * [N] ≥ 0. Architecture in {@link ImageHead}.
 *
 * @example
 * ```ts
 * const d = new ImageEnergyDiscriminator({ channels: [128, 256], sizes: [32, 16] });
 * const [energy] = d.forward([f2, f3]); // [N]
 * ```
 */
export class ImageEnergyDiscriminator extends ImageHead implements Discriminator {
  constructor(options: ImageDiscriminatorOptions) {
    super(options, 'ImageEnergyDiscriminator');
  }

  /** The image energy D(F) of paper eqs. 8–9: maps → [energies [N]], each ≥ 0. */
  forward(maps: tf.Tensor4D[]): tf.Tensor1D[] {
    return [tf.tidy(() => tf.abs(this.score(maps, 'ImageEnergyDiscriminator')))];
  }
}
