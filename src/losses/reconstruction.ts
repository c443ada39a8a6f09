/**
 * Reconstruction loss of the feature auto-encoder (paper eq. 2):
 *
 *   L⁺_rec = 1/|X⁺| Σ_{x∈X⁺} Σ_{s∈S} (1 − cos(flatten(F̃ˢ), flatten(Fˢ)))
 *
 * i.e. per image and per layer one cosine between the whole flattened maps, summed over
 * layers and averaged over images (the authors' `loss_function` does the same: mean over the
 * batch per layer, summed over layers).
 */

import * as tf from '@tensorflow/tfjs-core';
import { checkMapPairs } from './checks.js';
import { cosineSimilarity } from './cosine.js';

/**
 * Per-image reconstruction error Σ_layers (1 − cos(flatten F̃, flatten F)), the summand of
 * paper eq. 2. Each value lies in [0, 2·layers].
 *
 * @param features - frozen backbone maps per layer, each [N, h, w, C].
 * @param reconstructions - the auto-encoder's outputs, same shapes and order.
 * @returns [N] errors; the caller disposes.
 * @throws ShapeMismatchError if the layer counts, shapes or batch sizes disagree.
 * @throws InvalidArgumentError if a list is empty, a tensor is not rank 4 or a map is empty.
 */
export function reconstructionLossPerImage(
  features: readonly tf.Tensor4D[],
  reconstructions: readonly tf.Tensor4D[],
): tf.Tensor1D {
  return reconstructionErrors('', features, reconstructions);
}

/**
 * Reconstruction loss L⁺_rec of paper eq. 2: mean over images of
 * {@link reconstructionLossPerImage}. Lies in [0, 2·layers]; 0 iff every reconstruction is a
 * positive multiple of its feature map.
 *
 * @example
 * ```ts
 * const maps = extractor.extract(images);          // [N,h,w,C] per layer
 * const recon = autoencoder.reconstruct(maps);
 * const loss = reconstructionLoss(maps, recon);    // tf.Scalar
 * ```
 */
export function reconstructionLoss(features: readonly tf.Tensor4D[], reconstructions: readonly tf.Tensor4D[]): tf.Scalar {
  return meanReconstructionError('', features, reconstructions);
}

/** {@link reconstructionLossPerImage} with `prefix` (e.g. `'normal'`) in error messages. */
export function reconstructionErrors(
  prefix: string,
  features: readonly tf.Tensor4D[],
  reconstructions: readonly tf.Tensor4D[],
): tf.Tensor1D {
  checkMapPairs(prefix, features, reconstructions);
  return tf.tidy(() => {
    const n = features[0].shape[0];
    const perLayer = features.map((f, i) => {
      const a = tf.reshape(f, [n, -1]); // [N, h·w·C]
      const b = tf.reshape(reconstructions[i], [n, -1]); // [N, h·w·C]
      return tf.sub(1, cosineSimilarity(a, b, 1)); // [N]
    });
    return tf.addN(perLayer) as tf.Tensor1D; // [N]
  });
}

/** {@link reconstructionLoss} with `prefix` (e.g. `'anomalous'`) in error messages. */
export function meanReconstructionError(
  prefix: string,
  features: readonly tf.Tensor4D[],
  reconstructions: readonly tf.Tensor4D[],
): tf.Scalar {
  return tf.tidy(() => tf.mean(reconstructionErrors(prefix, features, reconstructions)) as tf.Scalar);
}
