// leanVariableGrads against tf.variableGrads, and untaped, on the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { ensureGradients } from '../../src/backend/gradients.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { leanVariableGrads, untaped } from '../../src/training/lean-gradients.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await ensureGradients();
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

/**
 * A small network with the ops a training step uses: conv, instance-norm-like moments,
 * broadcasting, a variable used twice, split/concat, leaky relu, a slice.
 */
function model() {
  const w1 = tf.variable(tf.tensor4d(lcg(3 * 3 * 3 * 4, 1), [3, 3, 3, 4]));
  const w2 = tf.variable(tf.tensor4d(lcg(1 * 1 * 4 * 4, 2), [1, 1, 4, 4]));
  const scale = tf.variable(tf.tensor1d(lcg(4, 3)));
  const unused = tf.variable(tf.tensor1d([1, 2]));
  const x = tf.tensor4d(lcg(2 * 6 * 6 * 3, 4), [2, 6, 6, 3]);
  const loss = (): tf.Scalar => {
    const h = tf.conv2d(x, w1, 1, 'same');
    const { mean, variance } = tf.moments(h, [1, 2], true);
    const n = tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), scale) as tf.Tensor4D;
    const [a, b] = tf.split(tf.leakyRelu(n, 0.1), 2, 3) as tf.Tensor4D[];
    const y = tf.conv2d(tf.concat([b, a], 3), w2, 1, 'valid');
    const z = tf.add(y, tf.conv2d(n, w2, 1, 'valid')); // w2 used twice
    return tf.mean(tf.square(tf.slice(z, [0, 1, 1, 0], [2, 4, 4, 4])));
  };
  return { variables: [w1, w2, scale, unused], x, loss };
}

describe('leanVariableGrads', () => {
  it('gives bitwise the value and gradients of tf.variableGrads, and leaks nothing', () => {
    const m = model();
    const reference = tf.variableGrads(m.loss, m.variables);
    const before = tf.memory().numTensors;
    const lean = leanVariableGrads(m.loss, m.variables);
    expect(Object.keys(lean.grads).sort()).toEqual(Object.keys(reference.grads).sort());
    expect(lean.value.dataSync()).toEqual(reference.value.dataSync());
    for (const [name, g] of Object.entries(reference.grads)) {
      expect(lean.grads[name].shape).toEqual(g.shape);
      expect(lean.grads[name].dataSync()).toEqual(g.dataSync());
    }
    // Only the value and three gradients remain (the unused variable gets none).
    expect(tf.memory().numTensors).toBe(before + 1 + 3);
    tf.dispose([lean.value, ...Object.values(lean.grads), reference.value, ...Object.values(reference.grads)]);
    tf.dispose([...m.variables, m.x]);
  });

  it('holds fewer tensors at its peak than tf.variableGrads', () => {
    const m = model();
    // Peak number of live tensors during the call, sampled at every kernel.
    const peakOf = (f: () => void): number => {
      let peak = 0;
      const originals = tf.getKernelsForBackend('cpu');
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, 'cpu');
        tf.registerKernel({
          ...k,
          kernelFunc: (args) => {
            peak = Math.max(peak, tf.memory().numTensors);
            return k.kernelFunc(args);
          },
        });
      }
      try {
        f();
      } finally {
        for (const k of originals) {
          tf.unregisterKernel(k.kernelName, 'cpu');
          tf.registerKernel(k);
        }
      }
      return peak;
    };
    type Grads = (f: () => tf.Scalar, variables: tf.Variable[]) => { value: tf.Scalar; grads: tf.NamedTensorMap };
    const run = (grads: Grads) => () => {
      const r = grads(m.loss, m.variables);
      tf.dispose([r.value, ...Object.values(r.grads)]);
    };
    const reference = peakOf(run((f, v) => tf.variableGrads(f, v)));
    const lean = peakOf(run(leanVariableGrads));
    expect(lean).toBeLessThan(reference);
    tf.dispose([...m.variables, m.x]);
  });

  it('falls back to tf.variableGrads inside another gradient computation', () => {
    const v = tf.variable(tf.scalar(3));
    // d/dx of (x · ∂(x·v²)/∂v) = d/dx (2·x²·v) = 4·x·v
    const outer = tf.grad((x: tf.Tensor) => {
      const { grads } = leanVariableGrads(() => tf.mul(x, tf.square(v)) as tf.Scalar, [v]);
      return tf.mul(x, grads[v.name]);
    });
    const dx = outer(tf.scalar(2));
    expect(dx.dataSync()[0]).toBeCloseTo(4 * 2 * 3, 5);
    tf.dispose([v, dx]);
  });

  it('rejects bad arguments with errors naming them, and cleans the tape up', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const before = tf.memory().numTensors;
    expect(() => leanVariableGrads(() => tf.mul(v, 2) as unknown as tf.Scalar, [v])).toThrow(/a function returning a scalar/);
    expect(() => leanVariableGrads(() => tf.scalar(1), [v])).toThrow(/depends on at least one of the variables/);
    expect(() => leanVariableGrads(() => tf.sum(v), [])).toThrow(InvalidArgumentError);
    expect(() =>
      leanVariableGrads(() => {
        tf.sum(v);
        throw new Error('boom');
      }, [v]),
    ).toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    // The engine is usable afterwards.
    const { value, grads } = leanVariableGrads(() => tf.sum(tf.square(v)), [v]);
    expect(Array.from(grads[v.name].dataSync())).toEqual([2, 4]);
    tf.dispose([value, grads[v.name], v]);
  });
});

describe('untaped', () => {
  it('hides its operations from the active tape: nothing flows back through them', () => {
    const v = tf.variable(tf.scalar(3));
    const side: number[] = [];
    const { value, grads } = leanVariableGrads(() => {
      const y = tf.mul(v, v); // 9, dy/dv = 6
      // Inside: the same computation, plus its own gradient computation, as if top level.
      const inner = untaped(() => {
        const w = tf.variable(tf.scalar(5));
        const g = tf.variableGrads(() => tf.mul(y, tf.square(w)) as tf.Scalar, [w]);
        side.push(g.grads[w.name].dataSync()[0]); // 2·y·w = 90
        tf.dispose([g.value, g.grads[w.name], w]);
        return tf.mul(y, 100); // would add 600 to dv if taped
      });
      return tf.add(y, inner) as tf.Scalar;
    }, [v]);
    expect(side).toEqual([90]);
    expect(value.dataSync()[0]).toBe(909);
    expect(grads[v.name].dataSync()[0]).toBe(6);
    tf.dispose([value, grads[v.name], v]);
  });

  it('is plain execution outside a gradient computation', () => {
    expect(untaped(() => 41 + 1)).toBe(42);
  });
});
