/**
 * Parameter-free activations used by the auto-encoder and the discriminators, as
 * {@link Step}s for a {@link Sequential}.
 */

import * as tf from '@tensorflow/tfjs-core';

/** Negative slope of every LeakyReLU in CKAAD's discriminators (`nn.LeakyReLU(0.1)`). */
export const LEAKY_RELU_SLOPE = 0.1;

/** `max(x, 0)`. */
export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}

/** LeakyReLU with slope {@link LEAKY_RELU_SLOPE} (0.1) for negative inputs. */
export function leakyRelu<T extends tf.Tensor>(x: T): T {
  return tf.leakyRelu(x, LEAKY_RELU_SLOPE);
}
