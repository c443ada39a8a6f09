/**
 * `nn.Linear` without bias (CKAAD's discriminator heads use `bias=False`). Weight layout
 * is tfjs' [in, out] (PyTorch's is [out, in]).
 */

import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { pytorchDefaultUniform } from './init.js';
import { BaseModule, type Module } from './module.js';
import type { Rng } from './random.js';

/** Options of {@link Linear}. */
export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Source of the initial weights. */
  rng: Rng;
}

/**
 * y = x · weight, initialised as PyTorch's default: U(±1/√in).
 * Parameter: `weight` [in, out].
 */
export class Linear extends BaseModule implements Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [in, out] */
  readonly weight: tf.Variable<tf.Rank.R2>;

  constructor(options: LinearOptions) {
    super();
    const { inFeatures, outFeatures, rng } = options;
    checkInteger(inFeatures, 'inFeatures', 1);
    checkInteger(outFeatures, 'outFeatures', 1);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = this.addParameter(
      'weight',
      pytorchDefaultUniform(rng, [inFeatures, outFeatures], inFeatures),
    ) as tf.Variable<tf.Rank.R2>;
  }

  /** [N, in] → [N, out]. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    this.assertAlive();
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new ShapeMismatchError('Linear input', `[N, ${this.inFeatures}]`, `[${x.shape.join(', ')}]`);
    }
    return tf.matMul(x, this.weight);
  }
}
