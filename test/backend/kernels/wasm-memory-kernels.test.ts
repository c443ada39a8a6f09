// The memory-bound wasm kernels found by profiling a training step (Identity, Cast, Sum,
// Mean, Slice, GatherV2) against tfjs-backend-wasm's own kernels.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureGradients } from '../../../src/backend/gradients.js';
import { isFastKernelInstalled, registerFastKernels, restoreOriginalKernels } from '../../../src/backend/kernels/index.js';
import { contiguousSliceStart } from '../../../src/backend/kernels/wasm/copy.js';
import { reductionBlock } from '../../../src/backend/kernels/wasm/reduce.js';
import { randomValues, runOriginal, runRegistered } from './helpers.js';

/** The number of distinct buffers the wasm backend holds. */
function buffers(): number {
  return tf.memory().numDataBuffers;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerFastKernels();
  await ensureGradients();
});
afterAll(() => restoreOriginalKernels());

const shapeArb = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });

describe('Identity and Cast share the buffer', () => {
  it('Identity (and the engine clone that saves tensors for gradients) allocates nothing', () => {
    for (const name of ['Identity', 'Cast', 'Sum', 'Mean', 'Slice', 'GatherV2']) expect(isFastKernelInstalled(name, 'wasm')).toBe(true);
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const before = buffers();
    const y = runRegistered('Identity', { x }, {});
    expect(buffers()).toBe(before); // the same buffer, one more reference
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]); // still alive after x is gone
    y.dispose();
    expect(buffers()).toBe(before - 1);
  });

  it('Cast to the same dtype shares; to another dtype converts as tfjs does', () => {
    const x = tf.tensor1d([1.5, -2.5, 3]);
    const before = buffers();
    const same = runRegistered('Cast', { x }, { dtype: 'float32' });
    expect(buffers()).toBe(before);
    const toInt = runRegistered('Cast', { x }, { dtype: 'int32' });
    const reference = runOriginal('Cast', 'wasm', { x }, { dtype: 'int32' });
    expect(toInt.dtype).toBe('int32');
    expect(Array.from(toInt.dataSync())).toEqual(Array.from(reference.dataSync()));
    tf.dispose([x, same, toInt, reference]);
  });

  it('gradients through shared clones are unchanged', () => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.square(v), tf.sin(v))))(x);
    const expected = [1, 2, 3, 4].map((v) => 2 * v * Math.sin(v) + v * v * Math.cos(v));
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
    tf.dispose([x, g]);
  });
});

describe('Sum and Mean over non-innermost axes', () => {
  it('splits contiguous reduced axes into [outer, reduced, inner]', () => {
    expect(reductionBlock([2, 3, 4, 5], [1, 2], false)).toEqual({ outer: 2, reduced: 12, inner: 5, outShape: [2, 5] });
    expect(reductionBlock([2, 3, 4, 5], [0, 1, 2], true)).toEqual({ outer: 1, reduced: 24, inner: 5, outShape: [1, 1, 1, 5] });
    expect(reductionBlock([2, 3, 4, 5], [2, 1], false)?.reduced).toBe(12);
    expect(reductionBlock([2, 3, 4, 5], [0, 2], false)).toBeNull();
  });

  it('matches the original kernels on random shapes, axes and keepDims', () => {
    let seed = 1;
    fc.assert(
      fc.property(shapeArb, fc.boolean(), fc.nat(), fc.nat(), (shape, keepDims, a, b) => {
        const rank = shape.length;
        const first = a % rank;
        const last = first + (b % (rank - first));
        const axis = Array.from({ length: last - first + 1 }, (_, i) => first + i);
        const x = tf.tensor(randomValues(shape.reduce((p, q) => p * q, 1), seed++), shape);
        for (const kernel of ['Sum', 'Mean']) {
          const ours = runRegistered(kernel, { x }, { axis, keepDims });
          const theirs = runOriginal(kernel, 'wasm', { x }, { axis, keepDims });
          expect(ours.shape).toEqual(theirs.shape);
          const o = ours.dataSync();
          const t = theirs.dataSync();
          for (let i = 0; i < o.length; i++) expect(Math.abs(o[i] - t[i])).toBeLessThan(1e-4 * (1 + Math.abs(t[i])));
          tf.dispose([ours, theirs]);
        }
        x.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it('reduces the way instance norm and its weight gradient do, with negative axes, and leaks nothing', () => {
    const x = tf.tensor4d(randomValues(3 * 5 * 6 * 7, 9), [3, 5, 6, 7]);
    const before = tf.memory().numTensors;
    const [sum, reference] = tf.tidy(() => [tf.sum(x, [0, 1, 2]).dataSync(), tf.sum(tf.reshape(x, [90, 7]), 0).dataSync()]);
    sum.forEach((v, i) => expect(v).toBeCloseTo(reference[i], 4));
    const mean = tf.mean(x, [-3, -2], true);
    expect(mean.shape).toEqual([3, 1, 1, 7]);
    const expected = tf.tidy(() => tf.div(tf.sum(tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [3, 7, 30]), 2), 30).dataSync());
    mean.dataSync().forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
    mean.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // int32 and innermost-axis reductions are left to tfjs.
    const ints = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    const s = tf.sum(ints, 0);
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.dataSync())).toEqual([4, 6]);
    tf.dispose([x, ints, s]);
  });
});

describe('Slice and GatherV2 as block copies', () => {
  it('finds the contiguous slices', () => {
    expect(contiguousSliceStart([4, 3, 2], [1, 0, 0], [2, 3, 2])).toBe(6);
    expect(contiguousSliceStart([4, 3, 2], [2, 1, 0], [1, 2, 2])).toBe(14);
    expect(contiguousSliceStart([4, 3, 2], [2, 1, 1], [1, 1, 1])).toBe(15);
    expect(contiguousSliceStart([4, 3, 2], [0, 1, 0], [2, 2, 2])).toBe(-1);
    expect(contiguousSliceStart([4, 3, 2], [0, 0, 1], [1, 3, 1])).toBe(-1);
  });

  it('Slice matches the original kernel on random slices', () => {
    let seed = 50;
    fc.assert(
      fc.property(shapeArb, fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), (shape, picks) => {
        const begin = shape.map((d, i) => picks[i] % d);
        const size = shape.map((d, i) => (picks[i + 4] % (d - begin[i])) + 1);
        const x = tf.tensor(randomValues(shape.reduce((p, q) => p * q, 1), seed++), shape);
        const ours = runRegistered('Slice', { x }, { begin, size });
        const theirs = runOriginal('Slice', 'wasm', { x }, { begin, size });
        expect(ours.shape).toEqual(theirs.shape);
        expect(ours.dataSync()).toEqual(theirs.dataSync());
        tf.dispose([x, ours, theirs]);
      }),
      { numRuns: 80 },
    );
  });

  it('GatherV2 along axis 0 matches the original, with repeated indices and index tensors of any rank', () => {
    const x = tf.tensor3d(randomValues(5 * 3 * 2, 3), [5, 3, 2]);
    for (const [values, shape] of [
      [[4, 0, 4, 2], [4]],
      [[1, 3, 0, 2, 4, 4], [2, 3]],
    ] as Array<[number[], number[]]>) {
      const indices = tf.tensor(values, shape, 'int32');
      const ours = runRegistered('GatherV2', { x, indices }, { axis: 0, batchDims: 0 });
      const theirs = runOriginal('GatherV2', 'wasm', { x, indices }, { axis: 0, batchDims: 0 });
      expect(ours.shape).toEqual([...shape, 3, 2]);
      expect(ours.dataSync()).toEqual(theirs.dataSync());
      tf.dispose([indices, ours, theirs]);
    }
    // Other axes go to tfjs; out-of-range indices are an error naming them.
    const onAxis1 = tf.gather(x, tf.tensor1d([2, 0], 'int32'), 1);
    expect(onAxis1.shape).toEqual([5, 2, 2]);
    expect(() => tf.gather(x, tf.tensor1d([5], 'int32'))).toThrow(/indices.*\[0, 4\]/);
    tf.dispose([x, onAxis1]);
  });
});
