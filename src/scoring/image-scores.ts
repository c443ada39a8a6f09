/**
 * Image-level anomaly score S_img (paper §Testing): the mean of the k largest values of the
 * smoothed anomaly map (k = 100 in the paper and the code's default `--topk`), or the mean of
 * all pixels (the code's choice for ISIC2018).
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { checkTopK } from '../validate.js';
import { describe } from '../losses/checks.js';

/**
 * Mean of the top-k pixels of each map, or of all pixels with `'mean'`.
 *
 * @param maps - [N, H, W] smoothed anomaly maps.
 * @param topK - integer k in [1, H·W], or `'mean'`. Default 100.
 * @returns [N] image scores; the caller disposes.
 * @throws InvalidArgumentError if `maps` is not rank 3 or k is not an integer in [1, H·W].
 *
 * @example
 * ```ts
 * const scores = imageScores(gaussianBlur(maps), 100);   // [N]
 * ```
 */
export function imageScores(maps: tf.Tensor3D, topK: number | 'mean' = 100): tf.Tensor1D {
  if (typeof maps !== 'object' || maps === null || (maps as tf.Tensor).rank !== 3) {
    throw new InvalidArgumentError('maps', 'a rank-3 tensor [N, H, W]', describe(maps));
  }
  const [n, height, width] = maps.shape;
  const pixels = height * width;
  if (pixels === 0) {
    throw new InvalidArgumentError('maps', 'maps with at least one pixel', `shape [${maps.shape.join(', ')}]`);
  }
  checkTopK(topK, 'topK', [height, width]);
  return tf.tidy(() => {
    const flat = tf.reshape(maps, [n, pixels]); // [N, H·W]
    if (topK === 'mean') return tf.mean(flat, 1) as tf.Tensor1D; // [N]
    const { values } = tf.topk(flat, topK, false); // [N, k]
    return tf.mean(values, 1) as tf.Tensor1D; // [N]
  });
}
