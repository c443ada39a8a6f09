// applyInOrder's Adam update against tfjs's AdamOptimizer.applyGradients (cpu backend).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { adamState, applyInOrder, createAdam } from '../../src/training/adam.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function lcg(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Three parameters; gradients per step, the second parameter's missing on step 2. */
function setUp(prefix: string) {
  const parameters = new Map<string, tf.Variable>([
    ['a', tf.variable(tf.tensor2d(lcg(12, 1), [3, 4]), true, `${prefix}a`)],
    ['b', tf.variable(tf.tensor1d(lcg(5, 2)), true, `${prefix}b`)],
    ['c', tf.variable(tf.scalar(0.25), true, `${prefix}c`)],
  ]);
  const grads = (step: number) =>
    [...parameters.values()].map((v, i) => (step === 2 && i === 1 ? null : tf.tensor(lcg(v.size, 10 * step + i), v.shape)));
  return { parameters, grads };
}

describe('Adam update', () => {
  it('gives bitwise the weights, moments and scalars of tfjs, one parameter at a time, leaking nothing', async () => {
    const ours = setUp('ours/');
    const theirs = setUp('theirs/');
    const ourAdam = createAdam(1e-2);
    const theirAdam = createAdam(1e-2);
    for (let step = 1; step <= 3; step++) {
      const g1 = ours.grads(step);
      const before = tf.memory().numTensors;
      applyInOrder(ourAdam, ours.parameters, g1);
      // The first step adds the moment slots (two per parameter); later steps add nothing.
      expect(tf.memory().numTensors).toBe(before + (step === 1 ? 6 : 0));
      const g2 = theirs.grads(step);
      const named = [...theirs.parameters.values()].map((v, i) => ({ name: v.name, tensor: g2[i] as tf.Tensor }));
      theirAdam.applyGradients(named);
      tf.dispose([...g1, ...g2].filter((g): g is tf.Tensor => g !== null));
    }
    for (const name of ['a', 'b', 'c']) {
      expect((ours.parameters.get(name) as tf.Variable).dataSync()).toEqual((theirs.parameters.get(name) as tf.Variable).dataSync());
    }
    const a = await adamState(ourAdam, ours.parameters);
    const b = await adamState(theirAdam, theirs.parameters);
    expect(a.scalars).toEqual(b.scalars);
    expect(a.scalars.iterations).toBe(3);
    for (const [key, t] of a.tensors) expect(t.dataSync()).toEqual((b.tensors.get(key) as tf.Tensor).dataSync());
    // The parameter without a gradient on step 2 kept its moments from step 1 there.
    ourAdam.dispose();
    theirAdam.dispose();
    tf.dispose([...ours.parameters.values(), ...theirs.parameters.values()]);
  });

  it('holds the temporaries of one parameter at a time', () => {
    /** Peak bytes of live tensors while `f` runs, sampled at every kernel call. */
    const peakBytes = (f: () => void): number => {
      let peak = 0;
      const originals = tf.getKernelsForBackend('cpu');
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, 'cpu');
        tf.registerKernel({ ...k, kernelFunc: (args) => ((peak = Math.max(peak, tf.memory().numBytes)), k.kernelFunc(args)) });
      }
      try {
        f();
      } finally {
        for (const k of originals) {
          tf.unregisterKernel(k.kernelName, 'cpu');
          tf.registerKernel(k);
        }
      }
      return peak - tf.memory().numBytes;
    };
    const run = (tfjs: boolean) => {
      const parameters = new Map(Array.from({ length: 8 }, (_, i) => [`p${i}`, tf.variable(tf.tensor1d(lcg(4096, i)))] as const));
      const grads = [...parameters.values()].map((v, i) => tf.tensor1d(lcg(4096, 100 + i)));
      const adam = createAdam(1e-3);
      applyInOrder(adam, parameters, grads); // creates the moment slots
      const peak = peakBytes(() =>
        tfjs ? adam.applyGradients([...parameters.values()].map((v, i) => ({ name: v.name, tensor: grads[i] }))) : applyInOrder(adam, parameters, grads),
      );
      tf.dispose([...grads, ...parameters.values()]);
      adam.dispose();
      return peak;
    };
    const parameterBytes = 4096 * 4;
    // tfjs keeps ~10 temporaries of every one of the 8 parameters until the end; ours of one
    // parameter only (plus the new moments and values replacing the old ones).
    const tfjs = run(true);
    const ours = run(false);
    expect(tfjs).toBeGreaterThan(8 * 8 * parameterBytes);
    expect(ours).toBeLessThan(16 * parameterBytes);
  });

  it('uses other optimizers as they are', () => {
    const { parameters, grads } = setUp('sgd/');
    const sgd = tf.train.sgd(0.5);
    const g = grads(1);
    const expected = [...parameters.values()].map((v, i) => tf.tidy(() => tf.sub(v, tf.mul(g[i] as tf.Tensor, 0.5)).dataSync()));
    applyInOrder(sgd, parameters, g);
    [...parameters.values()].forEach((v, i) => expect(v.dataSync()).toEqual(expected[i]));
    tf.dispose([...(g as tf.Tensor[]), ...parameters.values()]);
    sgd.dispose();
  });
});
