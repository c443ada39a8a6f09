/**
 * The anomaly map of paper eq. 14:
 *
 *   S_map = G_σ ∗ Σ_s upsample(1 − cos(Fˢ(h, w), F̃ˢ(h, w)))     (cosine over channels)
 *
 * each layer's map upsampled bilinearly to the image size with align_corners = true (the
 * authors' `F.interpolate(..., mode='bilinear', align_corners=True)`), summed over layers, then
 * smoothed with a Gaussian of σ = 4 (`gaussianBlur`). {@link anomalyMap} is the whole equation;
 * {@link anomalyMaps} the sum before smoothing.
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { checkMapPairs } from '../losses/checks.js';
import { cosineSimilarity } from '../losses/cosine.js';
import { gaussianBlur } from './gaussian-blur.js';

/**
 * Σ_layers upsample(1 − cos over channels) → [N, H, W] (paper eq. 14 before the Gaussian
 * smoothing of {@link gaussianBlur}). Values lie in [0, 2·layers].
 *
 * tfjs' `resizeBilinear(alignCorners = true)` samples source row r·(h − 1)/(H − 1) for output
 * row r, which is exactly PyTorch's `align_corners=True` (checked against PyTorch in the tests).
 *
 * @param features - backbone maps per layer, each [N, h, w, C].
 * @param reconstructions - the auto-encoder's reconstructions, same shapes and order.
 * @param size - [H, W] of the output, normally the preprocessed image size.
 * @returns [N, H, W] summed maps; the caller disposes.
 * @throws ShapeMismatchError / InvalidArgumentError on malformed inputs or size.
 *
 * @example
 * ```ts
 * const maps = anomalyMaps(features, recon, [256, 256]);   // [N, 256, 256]
 * const smooth = gaussianBlur(maps, 4);                     // eq. 14, S_map
 * ```
 */
export function anomalyMaps(
  features: readonly tf.Tensor4D[],
  reconstructions: readonly tf.Tensor4D[],
  size: readonly [number, number],
): tf.Tensor3D {
  checkMapPairs('', features, reconstructions);
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new InvalidArgumentError('size', '[height, width] with two integers ≥ 1', JSON.stringify(size));
  }
  const [height, width] = size;
  return tf.tidy(() => {
    const perLayer = features.map((f, i) => {
      const error = tf.sub(1, cosineSimilarity(f, reconstructions[i], 3)); // [N, h, w]
      const up = tf.image.resizeBilinear(tf.expandDims(error, 3) as tf.Tensor4D, [height, width], true); // [N, H, W, 1]
      return up;
    });
    return tf.squeeze(tf.addN(perLayer), [3]) as tf.Tensor3D; // [N, H, W]
  });
}

/**
 * Paper eq. 14: the smoothed anomaly map S_map [N, H, W] of H×W images from their backbone
 * features and the auto-encoder's reconstructions of them.
 *
 * @param sigma σ of the Gaussian smoothing (4 in the paper; 0: none).
 * @example
 * ```ts
 * const maps = anomalyMap(features, autoencoder.reconstruct(features), [256, 256], 4);
 * ```
 */
export function anomalyMap(
  features: readonly tf.Tensor4D[],
  reconstructions: readonly tf.Tensor4D[],
  size: readonly [number, number],
  sigma: number,
): tf.Tensor3D {
  return tf.tidy(() => gaussianBlur(anomalyMaps(features, reconstructions, size), sigma));
}
