/**
 * Making sure tfjs can differentiate: gradient functions for every kernel.
 *
 * @tensorflow/tfjs-core 4.x registers no gradient when imported. Applications built on
 * @tensorflow/tfjs or @tensorflow/tfjs-node get them from those packages; an application
 * that uses only tfjs-core plus a backend (as ckaad does) gets
 * "Cannot compute gradient: gradient function not found for Conv2D" from `tf.grad`.
 * ckaad fills the gap when a backend is set up, and only the gap: a gradient already
 * registered (by tfjs, tfjs-node, the application, or the other build of ckaad loaded in
 * the same process) is never replaced, so nothing is registered twice.
 */

import * as tf from '@tensorflow/tfjs-core';

/**
 * Registers tfjs-core's gradient function for every kernel that has none yet and returns
 * the names of the kernels it registered (empty when all were present). Idempotent;
 * called by {@link useBackend} and {@link ensureBackend}, so ckaad users need not call it.
 *
 * @example
 * ```ts
 * import { ensureGradients } from 'ckaad';
 * await ensureGradients();
 * tf.grad((x) => tf.sum(tf.conv2d(x, w, 1, 'same')))(x); // works with tfjs-core alone
 * ```
 */
export async function ensureGradients(): Promise<string[]> {
  const { GRADIENT_CONFIGS } = await import('./gradient-configs.js');
  const added: string[] = [];
  for (const config of GRADIENT_CONFIGS) {
    if (tf.getGradient(config.kernelName) == null) {
      tf.registerGradient(config);
      added.push(config.kernelName);
    }
  }
  return added;
}
