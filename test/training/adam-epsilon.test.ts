// Adam's ε does not depend on the backend: tfjs takes `backend.epsilon()` when none is given,
// which is 1e-4 on webgl (tfjs-backend-webgl reports float16 precision whenever float32
// rendering is on) against 1e-7 on cpu and wasm; ckaad gives ADAM_EPSILON (1e-8) explicitly.
// The cpu backend, made to report webgl's precision, stands in for webgl here; the browser
// test (test/browser/webgl.slow.ts) trains on real webgl.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { useBackend } from '../../src/index.js';
import { ADAM_EPSILON, applyInOrder, createAdam } from '../../src/training/adam.js';

describe('createAdam', () => {
  it('uses ε = ADAM_EPSILON (1e-8) on a backend whose own epsilon() is 1e-4, and steps as on cpu', async () => {
    await useBackend('cpu');
    const backend = tf.backend();
    const own = Object.getOwnPropertyDescriptor(backend, 'floatPrecision');
    Object.defineProperty(backend, 'floatPrecision', { configurable: true, value: () => 16 });
    let adam: tf.AdamOptimizer;
    try {
      expect(tf.backend().epsilon()).toBe(1e-4);
      adam = createAdam(1e-3);
    } finally {
      if (own === undefined) delete (backend as { floatPrecision?: unknown }).floatPrecision;
      else Object.defineProperty(backend, 'floatPrecision', own);
    }
    expect(tf.backend().epsilon()).toBe(1e-7);
    expect(adam.getConfig().epsilon).toBe(ADAM_EPSILON);
    expect(ADAM_EPSILON).toBe(1e-8);

    // One step on a gradient of a discriminator weight's size: with ε = 1e-4 w would move by
    // lr·g/(g + 1e-4) = 0.5e-3; with ε = 1e-8 by about lr = 1e-3.
    const w = tf.variable(tf.scalar(1), true, 'adam-epsilon/w');
    const g = tf.scalar(1e-4);
    const before = tf.memory().numTensors;
    applyInOrder(adam, new Map([['w', w]]), [g]);
    expect(tf.memory().numTensors).toBe(before + 2); // the two moments, nothing else
    expect(1 - w.dataSync()[0]).toBeCloseTo(1e-3 * (1e-4 / (1e-4 + ADAM_EPSILON)), 6);
    tf.dispose([w, g]);
    adam.dispose();
  });
});
