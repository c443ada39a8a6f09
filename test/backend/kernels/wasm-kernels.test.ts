import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { convGeometry } from '../../../src/backend/kernels/conv-geometry.js';
import {
  fastKernelsFor,
  isFastKernelInstalled,
  originalKernel,
  registerFastKernels,
} from '../../../src/backend/kernels/index.js';
import { tensorMemory } from '../../../src/backend/kernels/tensor-memory.js';
import { filterGradientWasm } from '../../../src/backend/kernels/wasm/conv2d-backprop-filter.js';
import { inputGradientWasm } from '../../../src/backend/kernels/wasm/conv2d-backprop-input.js';
import type { InputGradientMethod } from '../../../src/backend/kernels/wasm/conv2d-backprop-input.js';
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
import type { CaseData, ConvCase } from './helpers.js';

const TOL = 1e-4;

interface Grads {
  dw: Float32Array;
  dx: Float32Array;
}

/** Reference gradients from the original cpu kernels (switches to cpu and back to wasm). */
async function cpuReference(c: ConvCase, d: CaseData, dataFormat: 'NHWC' | 'NCHW' = 'NHWC'): Promise<Grads> {
  await tf.setBackend('cpu');
  const ref = tf.tidy(() => {
    const x = tf.tensor4d(d.x, c.xShape);
    const filter = tf.tensor4d(d.filter, c.filterShape);
    const dy = tf.tensor4d(d.dy, c.dyShape);
    if (dataFormat === 'NHWC') {
      return {
        dw: runOriginal('Conv2DBackpropFilter', 'cpu', { x, dy }, filterAttrs(c)).dataSync() as Float32Array,
        dx: runOriginal('Conv2DBackpropInput', 'cpu', { dy, filter }, inputAttrs(c)).dataSync() as Float32Array,
      };
    }
    const [n, h, w, cin] = c.xShape;
    const xc = tf.transpose(x, [0, 3, 1, 2]);
    const dyc = tf.transpose(dy, [0, 3, 1, 2]);
    const fa = { ...filterAttrs(c), dataFormat: 'NCHW' };
    const ia = { ...inputAttrs(c), dataFormat: 'NCHW', inputShape: [n, cin, h, w] };
    return {
      dw: runOriginal('Conv2DBackpropFilter', 'cpu', { x: xc, dy: dyc }, fa).dataSync() as Float32Array,
      dx: runOriginal('Conv2DBackpropInput', 'cpu', { dy: dyc, filter }, ia).dataSync() as Float32Array,
    };
  });
  await tf.setBackend('wasm');
  return ref;
}

/** Our registered kernels on the active (wasm) backend. */
function registeredGrads(c: ConvCase, d: CaseData): Grads {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, c.xShape);
    const filter = tf.tensor4d(d.filter, c.filterShape);
    const dy = tf.tensor4d(d.dy, c.dyShape);
    const dw = runRegistered('Conv2DBackpropFilter', { x, dy }, filterAttrs(c));
    const dx = runRegistered('Conv2DBackpropInput', { dy, filter }, inputAttrs(c));
    expect(dw.shape).toEqual(c.filterShape);
    expect(dx.shape).toEqual(c.xShape);
    return { dw: dw.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

/** The wasm cores called directly, forcing a rewrite and a small block size. */
function coreGrads(c: ConvCase, d: CaseData, method: InputGradientMethod, blockFloats: number): Grads {
  return tf.tidy(() => {
    const memory = tensorMemory(tf.backend(), 'wasm');
    const g = convGeometry(c.xShape, c.filterShape, c.strides, c.pad);
    const x = tf.tensor4d(d.x, c.xShape);
    const filter = tf.tensor4d(d.filter, c.filterShape);
    const dy = tf.tensor4d(d.dy, c.dyShape);
    const dw = tf.engine().makeTensorFromTensorInfo(filterGradientWasm(memory, g, x, dy, blockFloats));
    const dx = tf.engine().makeTensorFromTensorInfo(inputGradientWasm(memory, g, dy, filter, method, blockFloats));
    return { dw: dw.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

describe('fast kernels on wasm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    registerFastKernels(); // only cpu is registered so far
    expect(isFastKernelInstalled('Conv2DBackpropFilter', 'wasm')).toBe(false);
    await import('@tensorflow/tfjs-backend-wasm');
    registerFastKernels(); // now covers wasm too
    expect(await tf.setBackend('wasm')).toBe(true);
  });

  it('installs on wasm when called again after wasm is registered; wasm had no filter gradient', () => {
    for (const name of fastKernelsFor('wasm')) expect(isFastKernelInstalled(name, 'wasm')).toBe(true);
    for (const name of fastKernelsFor('cpu')) expect(isFastKernelInstalled(name, 'cpu')).toBe(true);
    expect(isFastKernelInstalled('Conv2D', 'wasm')).toBe(false); // XNNPACK's forward convolution stays
    expect(originalKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(originalKernel('Conv2DBackpropInput', 'wasm')?.backendName).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('matches the original cpu kernels on random small shapes', async () => {
    let seed = 100;
    await fc.assert(
      fc.asyncProperty(smallCaseArb, async (c) => {
        const d = caseData(c, seed++);
        const ref = await cpuReference(c, d);
        const ours = registeredGrads(c, d);
        expect(relL2(ours.dw, ref.dw)).toBeLessThan(TOL);
        expect(relL2(ours.dx, ref.dx)).toBeLessThan(TOL);
      }),
      { numRuns: 60 },
    );
  });

  it.each(Object.entries(namedCases))('matches the original cpu kernels: %s', async (_name, c) => {
    const d = caseData(c, 9);
    const ref = await cpuReference(c, d);
    const ours = registeredGrads(c, d);
    expect(relL2(ours.dw, ref.dw)).toBeLessThan(TOL);
    expect(relL2(ours.dx, ref.dx)).toBeLessThan(TOL);
  });

  it.each([
    ['3×3 s1 same', 'flipped-conv'],
    ['3×3 s1 same', 'phases'],
    ['3×3 s2 same, > 64 rows per phase', 'phases'],
    ['2×2 s2 valid (transposed-conv layer)', 'non-overlapping'],
    ['2×2 s2 valid (transposed-conv layer)', 'phases'],
    ['7×7 s2 pad 3 (ResNet stem)', 'phases'],
  ] as const)('each rewrite is exact, also in small blocks: %s via %s', async (name, method) => {
    const c = namedCases[name];
    const d = caseData(c, 11);
    const ref = await cpuReference(c, d);
    const [, , , cin] = c.xShape;
    const [, ho, wo] = c.dyShape;
    // One tap of im2colᵀ per block for dW; ~3 gathered rows per block for dX.
    const small = coreGrads(c, d, method, Math.max(1, cin * c.dyShape[0] * ho * wo));
    const tiny = coreGrads(c, d, method, 3 * c.filterShape[0] * c.filterShape[1] * c.filterShape[3]);
    for (const ours of [small, tiny]) {
      expect(relL2(ours.dw, ref.dw)).toBeLessThan(TOL);
      expect(relL2(ours.dx, ref.dx)).toBeLessThan(TOL);
    }
  });

  it('agrees with wasm’s own Conv2DBackpropInput', () => {
    const c = namedCases['3×3 s2 same'];
    const d = caseData(c, 13);
    tf.tidy(() => {
      const dy = tf.tensor4d(d.dy, c.dyShape);
      const filter = tf.tensor4d(d.filter, c.filterShape);
      const ours = runRegistered('Conv2DBackpropInput', { dy, filter }, inputAttrs(c));
      const theirs = runOriginal('Conv2DBackpropInput', 'wasm', { dy, filter }, inputAttrs(c));
      expect(relL2(ours.dataSync(), theirs.dataSync())).toBeLessThan(TOL);
    });
  });

  it('matches the cpu reference in NCHW layout', async () => {
    const c = namedCases['3×3 s2 same'];
    const d = caseData(c, 15);
    const ref = await cpuReference(c, d, 'NCHW');
    const ours = tf.tidy(() => {
      const [n, h, w, cin] = c.xShape;
      const x = tf.transpose(tf.tensor4d(d.x, c.xShape), [0, 3, 1, 2]);
      const dy = tf.transpose(tf.tensor4d(d.dy, c.dyShape), [0, 3, 1, 2]);
      const filter = tf.tensor4d(d.filter, c.filterShape);
      const dw = runRegistered('Conv2DBackpropFilter', { x, dy }, { ...filterAttrs(c), dataFormat: 'NCHW' });
      const dx = runRegistered('Conv2DBackpropInput', { dy, filter }, { ...inputAttrs(c), dataFormat: 'NCHW', inputShape: [n, cin, h, w] });
      expect(dx.shape).toEqual([n, cin, h, w]);
      return { dw: dw.dataSync(), dx: dx.dataSync() };
    });
    expect(relL2(ours.dw, ref.dw)).toBeLessThan(TOL);
    expect(relL2(ours.dx, ref.dx)).toBeLessThan(TOL);
  });

  it('tf.grads through tf.conv2d equals the cpu reference', async () => {
    const cases = [namedCases['3×3 s1 same'], namedCases['3×3 s2 same'], namedCases['1×1 s1'], namedCases['7×7 s2 same']];
    const data = cases.map((c, i) => caseData(c, 50 + i));
    const ours = cases.map((c, i) => bothGradients(c, data[i]));
    const refs: Grads[] = [];
    for (const [i, c] of cases.entries()) refs.push(await cpuReference(c, data[i]));
    cases.forEach((_c, i) => {
      expect(relL2(ours[i].dx, refs[i].dx)).toBeLessThan(TOL);
      expect(relL2(ours[i].dw, refs[i].dw)).toBeLessThan(TOL);
    });
  });

  it('tf.conv2dTranspose (2×2 stride 2) output and gradients equal the cpu ones', async () => {
    const ours = transposedConvResults([2, 4, 3, 6], 5, 77);
    await tf.setBackend('cpu');
    const ref = transposedConvResults([2, 4, 3, 6], 5, 77); // cpu: also ckaad's kernels, checked against the originals in cpu-kernels.test.ts
    await tf.setBackend('wasm');
    expect(relL2(ours.y, ref.y)).toBeLessThan(TOL);
    expect(relL2(ours.dx, ref.dx)).toBeLessThan(TOL);
    expect(relL2(ours.dw, ref.dw)).toBeLessThan(TOL);
  });

  it('BatchMatMul matches the original cpu kernel on random shapes, transposes and batchings', async () => {
    let seed = 900;
    await fc.assert(
      fc.asyncProperty(matMulCaseArb, async (c) => {
        const a = randomValues(tf.util.sizeFromShape(c.aShape), seed++);
        const b = randomValues(tf.util.sizeFromShape(c.bShape), seed++);
        const attrs = { transposeA: c.transposeA, transposeB: c.transposeB };
        await tf.setBackend('cpu');
        const ref = tf.tidy(() => runOriginal('BatchMatMul', 'cpu', { a: tf.tensor(a, c.aShape), b: tf.tensor(b, c.bShape) }, attrs).dataSync());
        await tf.setBackend('wasm');
        const ours = tf.tidy(() => {
          const y = runRegistered('BatchMatMul', { a: tf.tensor(a, c.aShape), b: tf.tensor(b, c.bShape) }, attrs);
          return { shape: y.shape, values: y.dataSync() };
        });
        expect(relL2(ours.values, ref)).toBeLessThan(TOL);
        expect(tf.util.sizeFromShape(ours.shape)).toBe(ref.length);
      }),
      { numRuns: 80 },
    );
  });

  it('matMul gradients (transposed products) equal the cpu ones', async () => {
    const a = randomValues(37 * 6, 1);
    const b = randomValues(6 * 5, 2);
    const grads = () =>
      tf.tidy(() => {
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D)));
        return tf.grads(f)([tf.tensor2d(a, [37, 6]), tf.tensor2d(b, [6, 5])]).map((t) => t.dataSync());
      });
    const ours = grads();
    await tf.setBackend('cpu');
    const ref = grads();
    await tf.setBackend('wasm');
    expect(relL2(ours[0], ref[0])).toBeLessThan(TOL);
    expect(relL2(ours[1], ref[1])).toBeLessThan(TOL);
  });

  it('leaks no tensors, bytes or wasm heap tensors', () => {
    const before = memoryCounts();
    for (const name of ['3×3 s1 same', '3×3 s2 same', '2×2 s2 valid (transposed-conv layer)', '3×3 s1, padding beyond the filter'] as const) {
      const c = namedCases[name];
      const d = caseData(c, 3);
      registeredGrads(c, d);
      coreGrads(c, d, 'phases', 64);
      bothGradients(c, d);
    }
    tf.tidy(() => {
      const flat = tf.reshape(tf.range(0, 60, 1, 'float32'), [12, 5]);
      tf.matMul(flat, flat, true, false);
      tf.matMul(flat, flat, false, true);
      tf.matMul(tf.reshape(flat, [3, 4, 5]), tf.ones([5, 2]));
      const x = tf.transpose(tf.zeros([2, 7, 8, 4]), [0, 3, 1, 2]);
      const dy = tf.zeros([2, 3, 4, 4]);
      const [n, h, w, cin] = [2, 7, 8, 4];
      runRegistered('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 4, 3] });
      runRegistered('Conv2DBackpropInput', { dy: tf.zeros([2, 3, 4, 4]), filter: tf.zeros([3, 3, 4, 3]) }, { strides: 2, pad: 'same', dataFormat: 'NCHW', inputShape: [n, cin, h, w] });
    });
    expect(memoryCounts()).toEqual(before);
  });
});
