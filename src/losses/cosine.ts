/**
 * Cosine similarity along one axis, the building block of the reconstruction loss (paper
 * eq. 2) and of the anomaly maps (eq. 14).
 */

import * as tf from '@tensorflow/tfjs-core';

/** PyTorch's default `eps` of `F.cosine_similarity` / `nn.CosineSimilarity`. */
export const COSINE_EPS = 1e-8;

/**
 * cos(a, b) = Σ a·b / (max(‖a‖, eps) · max(‖b‖, eps)) along `axis` (the axis is removed).
 *
 * Each norm is clamped separately, as in PyTorch ≥ 1.12, so a zero vector has similarity 0
 * with anything. The clamp is applied to the squared norm (max(Σa², eps²)), which gives the
 * same value and a zero (not NaN) gradient at a zero vector.
 *
 * @example
 * ```ts
 * const a = tf.tensor2d([[1, 0], [1, 1]]);
 * const b = tf.tensor2d([[2, 0], [-1, -1]]);
 * cosineSimilarity(a, b, 1).print(); // [1, -1]
 * ```
 */
export function cosineSimilarity<T extends tf.Tensor>(a: T, b: T, axis: number, eps = COSINE_EPS): tf.Tensor {
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(a, b), axis);
    const floor = eps * eps;
    const normA = tf.sqrt(tf.maximum(tf.sum(tf.square(a), axis), floor));
    const normB = tf.sqrt(tf.maximum(tf.sum(tf.square(b), axis), floor));
    return tf.div(dot, tf.mul(normA, normB));
  });
}
