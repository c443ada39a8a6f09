/**
 * Gradient clipping by global norm, with the semantics of PyTorch's
 * `torch.nn.utils.clip_grad_norm_(parameters, max_norm)` (L2 norm): all gradients are
 * scaled together by `min(1, maxNorm / (‖g‖ + 1e-6))`, where ‖g‖ is the L2 norm of all of
 * them concatenated. The authors clip the discriminator's gradients to 1.0 (docs/reference-implementation.md §4).
 */

import * as tf from '@tensorflow/tfjs-core';

/**
 * Returns the gradients scaled so that their global L2 norm is at most `maxNorm`, and the
 * norm before clipping. Everything stays on the device (no data download). The inputs are not
 * disposed; the outputs are new tensors the caller disposes.
 *
 * @example
 * ```ts
 * const { grads } = tf.variableGrads(loss, vars);
 * const { clipped, norm } = clipByGlobalNorm(vars.map((v) => grads[v.name]), 1.0);
 * ```
 */
export function clipByGlobalNorm(
  grads: readonly tf.Tensor[],
  maxNorm: number,
): { clipped: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    // ‖g‖ = sqrt(Σ_tensors Σ_elements g²)
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1.
    const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { clipped: grads.map((g) => tf.mul(g, coef)), norm };
  });
}
