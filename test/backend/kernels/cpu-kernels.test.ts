import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import {
  fastKernelNames,
  fastKernelsFor,
  isFastKernelInstalled,
  originalKernel,
  registerFastKernels,
  restoreOriginalKernels,
} from '../../../src/backend/kernels/index.js';
import { convGeometry } from '../../../src/backend/kernels/conv-geometry.js';
import { conv2dCpu } from '../../../src/backend/kernels/cpu/conv2d.js';
import { tensorMemory } from '../../../src/backend/kernels/tensor-memory.js';
import { InvalidArgumentError, ShapeMismatchError } from '../../../src/errors.js';
import {
  bothGradients,
  caseData,
  filterAttrs,
  inputAttrs,
  matMulCaseArb,
  memoryCounts,
  randomValues,
  namedCases,
  relL2,
  runOriginal,
  runRegistered,
  smallCaseArb,
  transposedConvResults,
} from './helpers.js';
import type { ConvCase } from './helpers.js';

const TOL = 1e-4;

/** Our kernels (registered) vs the original cpu kernels on one case: relative L2 errors. */
function compareWithOriginal(c: ConvCase, seed: number): { y: number; dw: number; dx: number } {
  return tf.tidy(() => {
    const d = caseData(c, seed);
    const x = tf.tensor4d(d.x, c.xShape);
    const filter = tf.tensor4d(d.filter, c.filterShape);
    const dy = tf.tensor4d(d.dy, c.dyShape);
    const dwOurs = runRegistered('Conv2DBackpropFilter', { x, dy }, filterAttrs(c));
    const dwRef = runOriginal('Conv2DBackpropFilter', 'cpu', { x, dy }, filterAttrs(c));
    const dxOurs = runRegistered('Conv2DBackpropInput', { dy, filter }, inputAttrs(c));
    const dxRef = runOriginal('Conv2DBackpropInput', 'cpu', { dy, filter }, inputAttrs(c));
    const convAttrs = { strides: c.strides, pad: filterAttrs(c).pad, dataFormat: 'NHWC', dilations: [1, 1] };
    const yOurs = runRegistered('Conv2D', { x, filter }, convAttrs);
    const yRef = runOriginal('Conv2D', 'cpu', { x, filter }, convAttrs);
    expect(dwOurs.shape).toEqual(c.filterShape);
    expect(dxOurs.shape).toEqual(c.xShape);
    expect(yOurs.shape).toEqual(c.dyShape);
    return {
      y: relL2(yOurs.dataSync(), yRef.dataSync()),
      dw: relL2(dwOurs.dataSync(), dwRef.dataSync()),
      dx: relL2(dxOurs.dataSync(), dxRef.dataSync()),
    };
  });
}

describe('fast kernels on cpu', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    registerFastKernels();
  });
  afterAll(() => restoreOriginalKernels());

  it('installs its kernels for cpu only (wasm is not registered here), keeping the originals', () => {
    expect([...fastKernelsFor('cpu')].sort()).toEqual(['BatchMatMul', 'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput']);
    expect([...fastKernelsFor('wasm')].sort()).toEqual([
      'BatchMatMul',
      'Cast',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'GatherV2',
      'Identity',
      'Mean',
      'Slice',
      'Sum',
    ]);
    expect([...fastKernelNames].sort()).toEqual([
      'BatchMatMul',
      'Cast',
      'Conv2D',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'GatherV2',
      'Identity',
      'Mean',
      'Slice',
      'Sum',
    ]);
    expect(fastKernelsFor('webgl')).toEqual([]);
    for (const name of fastKernelsFor('cpu')) {
      expect(isFastKernelInstalled(name, 'cpu')).toBe(true);
      expect(isFastKernelInstalled(name, 'wasm')).toBe(false);
      expect(originalKernel(name, 'cpu')?.backendName).toBe('cpu');
      expect(originalKernel(name, 'cpu')?.kernelName).toBe(name);
    }
  });

  it('is idempotent: a second call changes nothing and warns nothing', () => {
    const names = fastKernelsFor('cpu');
    const before = names.map((name) => tf.getKernel(name, 'cpu'));
    const warn = vi.spyOn(console, 'warn');
    registerFastKernels();
    registerFastKernels();
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    expect(names.map((name) => tf.getKernel(name, 'cpu'))).toEqual(before);
    expect(names.map((name) => originalKernel(name, 'cpu'))).toEqual(
      before.map((config) => originalKernel(config.kernelName, 'cpu')),
    );
  });

  it('matches the original cpu kernels on random small shapes (strides 1/2, kernels 1/2/3, all paddings)', () => {
    let seed = 1;
    fc.assert(
      fc.property(smallCaseArb, (c) => {
        const err = compareWithOriginal(c, seed++);
        expect(err.y).toBeLessThan(TOL);
        expect(err.dw).toBeLessThan(TOL);
        expect(err.dx).toBeLessThan(TOL);
      }),
      { numRuns: 120 },
    );
  });

  it.each(Object.entries(namedCases))('matches the original cpu kernels: %s', (_name, c) => {
    const err = compareWithOriginal(c, 7);
    expect(err.y).toBeLessThan(TOL);
    expect(err.dw).toBeLessThan(TOL);
    expect(err.dx).toBeLessThan(TOL);
  });

  it('matches the originals in NCHW layout', () => {
    tf.tidy(() => {
      const x = tf.transpose(tf.tensor4d(caseData(namedCases['3×3 s2 same'], 3).x, [2, 7, 8, 4]), [0, 3, 1, 2]);
      const filter = tf.randomNormal([3, 3, 4, 3], 0, 1, 'float32', 5);
      const dy = tf.randomNormal([2, 3, 4, 4], 0, 1, 'float32', 6); // [N, Cout, Ho, Wo]
      const fa = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 4, 3] };
      const ia = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', inputShape: [2, 4, 7, 8] };
      const dwOurs = runRegistered('Conv2DBackpropFilter', { x, dy }, fa);
      const dwRef = runOriginal('Conv2DBackpropFilter', 'cpu', { x, dy }, fa);
      const dxOurs = runRegistered('Conv2DBackpropInput', { dy, filter }, ia);
      const dxRef = runOriginal('Conv2DBackpropInput', 'cpu', { dy, filter }, ia);
      const ca = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', dilations: [1, 1] };
      const yOurs = runRegistered('Conv2D', { x, filter }, ca);
      const yRef = runOriginal('Conv2D', 'cpu', { x, filter }, ca);
      expect(dxOurs.shape).toEqual([2, 4, 7, 8]);
      expect(yOurs.shape).toEqual([2, 3, 4, 4]);
      expect(relL2(dwOurs.dataSync(), dwRef.dataSync())).toBeLessThan(TOL);
      expect(relL2(dxOurs.dataSync(), dxRef.dataSync())).toBeLessThan(TOL);
      expect(relL2(yOurs.dataSync(), yRef.dataSync())).toBeLessThan(TOL);
    });
  });

  it('Conv2D is exact across gather-plan blocks (one and seven output pixels per block)', () => {
    const c = namedCases['3×3 s2 same'];
    const d = caseData(c, 17);
    tf.tidy(() => {
      const x = tf.tensor4d(d.x, c.xShape);
      const filter = tf.tensor4d(d.filter, c.filterShape);
      const ref = runOriginal('Conv2D', 'cpu', { x, filter }, { strides: c.strides, pad: c.pad as 'same', dataFormat: 'NHWC', dilations: 1 });
      const g = convGeometry(c.xShape, c.filterShape, c.strides, c.pad);
      for (const pixelsPerBlock of [1, 7]) {
        const info = conv2dCpu(tensorMemory(tf.backend(), 'cpu'), g, x, filter, pixelsPerBlock * 9);
        const y = tf.engine().makeTensorFromTensorInfo(info);
        expect(relL2(y.dataSync(), ref.dataSync())).toBeLessThan(TOL);
      }
    });
  });

  it('leaves dilated Conv2D to the original kernel', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 9, 8, 2], 0, 1, 'float32', 8);
      const filter = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 9);
      const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [2, 2] };
      const ours = runRegistered('Conv2D', { x, filter }, attrs);
      const ref = runOriginal('Conv2D', 'cpu', { x, filter }, attrs);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
      // and dilation really changes the result (so the comparison above is meaningful)
      const undilated = runRegistered('Conv2D', { x, filter }, { ...attrs, dilations: [1, 1] });
      expect(relL2(undilated.dataSync(), ref.dataSync())).toBeGreaterThan(0.1);
    });
  });

  it('tf.grads through tf.conv2d equals the gradient computed with the original kernels', () => {
    const cases = [namedCases['3×3 s1 same'], namedCases['3×3 s2 same'], namedCases['1×1 s2'], namedCases['7×7 s2 pad 3 (ResNet stem)']];
    const ours = cases.map((c, i) => bothGradients(c, caseData(c, 20 + i)));
    restoreOriginalKernels();
    expect(isFastKernelInstalled('Conv2DBackpropFilter', 'cpu')).toBe(false);
    const ref = cases.map((c, i) => bothGradients(c, caseData(c, 20 + i)));
    registerFastKernels();
    cases.forEach((_c, i) => {
      expect(relL2(ours[i].dx, ref[i].dx)).toBeLessThan(TOL);
      expect(relL2(ours[i].dw, ref[i].dw)).toBeLessThan(TOL);
    });
  });

  it('tf.conv2dTranspose (2×2 stride 2) output and gradients equal those of the original kernels', () => {
    const ours = transposedConvResults([2, 3, 4, 5], 3, 31);
    restoreOriginalKernels();
    const ref = transposedConvResults([2, 3, 4, 5], 3, 31);
    registerFastKernels();
    expect(relL2(ours.y, ref.y)).toBeLessThan(TOL);
    expect(relL2(ours.dx, ref.dx)).toBeLessThan(TOL);
    expect(relL2(ours.dw, ref.dw)).toBeLessThan(TOL);
    expect(ours.dw.some((v) => v !== 0)).toBe(true);
  });

  it('BatchMatMul matches the original on random shapes, transposes and batchings', () => {
    let seed = 500;
    fc.assert(
      fc.property(matMulCaseArb, (c) => {
        tf.tidy(() => {
          const a = tf.tensor(randomValues(tf.util.sizeFromShape(c.aShape), seed++), c.aShape);
          const b = tf.tensor(randomValues(tf.util.sizeFromShape(c.bShape), seed++), c.bShape);
          const attrs = { transposeA: c.transposeA, transposeB: c.transposeB };
          const ours = runRegistered('BatchMatMul', { a, b }, attrs);
          const ref = runOriginal('BatchMatMul', 'cpu', { a, b }, attrs);
          expect(ours.shape).toEqual(ref.shape);
          expect(relL2(ours.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('BatchMatMul leaves int32 products to the original kernel', () => {
    tf.tidy(() => {
      const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
      const b = tf.tensor2d([1, 0, 2, 1, 0, 3], [3, 2], 'int32');
      const y = tf.matMul(a, b);
      expect(y.dtype).toBe('int32');
      expect(Array.from(y.dataSync())).toEqual([5, 11, 14, 23]);
    });
  });

  it('leaks no tensors, bytes or backend data across kernel calls and gradients', () => {
    const c = namedCases['3×3 s2 same, > 64 rows per phase'];
    const d = caseData(c, 40);
    const x = tf.tensor4d(d.x, c.xShape);
    const filter = tf.tensor4d(d.filter, c.filterShape);
    const dy = tf.tensor4d(d.dy, c.dyShape);
    const nchwX = tf.transpose(x, [0, 3, 1, 2]);
    const nchwDy = tf.transpose(dy, [0, 3, 1, 2]);
    const before = memoryCounts();
    for (let i = 0; i < 2; i++) {
      runRegistered('Conv2DBackpropFilter', { x, dy }, filterAttrs(c)).dispose();
      runRegistered('Conv2DBackpropInput', { dy, filter }, inputAttrs(c)).dispose();
      runRegistered('Conv2DBackpropFilter', { x: nchwX, dy: nchwDy }, { ...filterAttrs(c), dataFormat: 'NCHW' }).dispose();
      const [n, h, w, cin] = c.xShape;
      runRegistered('Conv2DBackpropInput', { dy: nchwDy, filter }, { ...inputAttrs(c), dataFormat: 'NCHW', inputShape: [n, cin, h, w] }).dispose();
      runRegistered('Conv2D', { x, filter }, { strides: c.strides, pad: 'same', dataFormat: 'NHWC', dilations: 1 }).dispose();
      runRegistered('Conv2D', { x: nchwX, filter }, { strides: c.strides, pad: 'same', dataFormat: 'NCHW', dilations: 1 }).dispose();
      tf.tidy(() => {
        const flat = tf.reshape(x, [-1, c.xShape[3]]);
        tf.matMul(flat, flat, true, false);
        tf.matMul(flat, flat, false, true);
        tf.matMul(tf.reshape(x, [2, -1, 3]), tf.ones([3, 4]));
      });
      bothGradients(c, d);
    }
    expect(memoryCounts()).toEqual(before);
    tf.dispose([x, filter, dy, nchwX, nchwDy]);
  });

  it('rejects mismatched shapes and non-float32 inputs with typed errors', () => {
    tf.tidy(() => {
      const c = namedCases['3×3 s1 same'];
      const x = tf.zeros(c.xShape);
      const dy = tf.zeros(c.dyShape);
      const filter = tf.zeros(c.filterShape);
      const badDy = tf.zeros([2, 6, 4, 4]);
      expect(() => runRegistered('Conv2DBackpropFilter', { x, dy: badDy }, filterAttrs(c))).toThrow(ShapeMismatchError);
      expect(() => runRegistered('Conv2DBackpropInput', { dy: badDy, filter }, inputAttrs(c))).toThrow(/dy/);
      expect(() => runRegistered('Conv2DBackpropInput', { dy, filter: tf.zeros([3, 3, 2, 4]) }, inputAttrs(c))).toThrow(ShapeMismatchError);
      expect(() => runRegistered('Conv2D', { x, filter: tf.zeros([3, 3, 2, 4]) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 })).toThrow(
        ShapeMismatchError,
      );
      expect(() =>
        runRegistered('Conv2DBackpropFilter', { x, dy }, { ...filterAttrs(c), filterShape: [3, 3, 2, 4] }),
      ).toThrow(ShapeMismatchError);
      const intX = tf.zeros(c.xShape, 'int32');
      expect(() => runRegistered('Conv2DBackpropFilter', { x: intX, dy }, filterAttrs(c))).toThrow(InvalidArgumentError);
      expect(() => runRegistered('Conv2DBackpropFilter', { x, dy }, filterAttrs(c))).not.toThrow();
    });
  });

  it('returns zeros of the right shape for an empty batch', () => {
    tf.tidy(() => {
      const x = tf.zeros([0, 4, 4, 2]);
      const dy = tf.zeros([0, 4, 4, 3]);
      const dw = runRegistered('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] });
      expect(dw.shape).toEqual([3, 3, 2, 3]);
      expect(Array.from(dw.dataSync()).every((v) => v === 0)).toBe(true);
      const dx = runRegistered('Conv2DBackpropInput', { dy, filter: tf.ones([3, 3, 2, 3]) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [0, 4, 4, 2] });
      expect(dx.shape).toEqual([0, 4, 4, 2]);
    });
  });

  it('restoreOriginalKernels puts the original configs back, registerFastKernels reinstalls', () => {
    const names = fastKernelsFor('cpu');
    const originals = names.map((name) => originalKernel(name, 'cpu'));
    restoreOriginalKernels();
    names.forEach((name, i) => {
      expect(tf.getKernel(name, 'cpu')).toBe(originals[i]);
      expect(originalKernel(name, 'cpu')).toBeUndefined();
    });
    registerFastKernels();
    names.forEach((name, i) => expect(originalKernel(name, 'cpu')).toBe(originals[i]));
  });
});
