/**
 * Gradients of Sum and Mean, equal bit for bit to tfjs-core's but without a full-size
 * tensor of ones.
 *
 * tfjs-core broadcasts the incoming gradient dy back to x's shape by multiplying it with
 * `ones(x.shape)`, filled element by element in JavaScript: for instance norm's statistics
 * over a [16, 64, 64, 128] map that is 8 M writes on the main thread, ~1 s of a CKAPatch
 * step that no backend thread can share. Here the ones span only the reduced axes (e.g.
 * [1, 64, 64, 1]) and the backend's broadcasting Multiply (XNNPACK, on every thread) does
 * the rest: every element is still dy·1 (then /n for Mean, the same division), so the
 * values are exactly tfjs-core's.
 */

import * as tf from '@tensorflow/tfjs-core';
import { Mean, Sum } from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';

/** dy reshaped to x's rank (1 on the reduced axes) and the shape of the ones to multiply by. */
function broadcastShapes(x: tf.Tensor, attrs: NamedAttrMap): { dyShape: number[]; onesShape: number[]; reduced: number } {
  const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
  const dyShape = x.shape.slice();
  const onesShape = x.shape.map(() => 1);
  let reduced = 1;
  for (const axis of axes) {
    dyShape[axis] = 1;
    onesShape[axis] = x.shape[axis];
    reduced *= x.shape[axis];
  }
  return { dyShape, onesShape, reduced };
}

/** Sum: dx = dy broadcast over the reduced axes. */
export const sumGradConfig: GradConfig = {
  kernelName: Sum,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { dyShape, onesShape } = broadcastShapes(x, attrs);
    const dx = tf.mul(tf.reshape(dy as tf.Tensor, dyShape), tf.ones(onesShape, 'float32'));
    return { x: () => dx };
  },
};

/** Mean: dx = dy broadcast over the reduced axes, divided by their size. */
export const meanGradConfig: GradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { dyShape, onesShape, reduced } = broadcastShapes(x, attrs);
    return { x: () => tf.mul(tf.div(tf.reshape(dy as tf.Tensor, dyShape), reduced), tf.ones(onesShape, 'float32')) };
  },
};
