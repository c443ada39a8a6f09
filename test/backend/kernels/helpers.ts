/** Shared helpers of the fast-kernel tests: random convolution cases and reference calls. */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';

import { originalKernel } from '../../../src/backend/kernels/index.js';
import { convGeometry } from '../../../src/backend/kernels/conv-geometry.js';
import type { ConvPad } from '../../../src/backend/kernels/conv-geometry.js';

/** One convolution: x [n, h, w, cin], filter [k, k, cin, cout] (or kh×kw), strides, padding. */
export interface ConvCase {
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  strides: [number, number];
  pad: ConvPad;
  /** [N, Ho, Wo, Cout], the shape of dy. */
  dyShape: [number, number, number, number];
}

/** Builds a case, computing dy's shape as tfjs does. */
export function convCase(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: ConvPad,
): ConvCase {
  const s: [number, number] = typeof strides === 'number' ? [strides, strides] : strides;
  const g = convGeometry(xShape, filterShape, s, pad);
  return { xShape, filterShape, strides: s, pad, dyShape: [g.batch, g.outHeight, g.outWidth, g.outChannels] };
}

/** Small random cases: strides {1, 2}, kernels {1, 2, 3}, same / valid / explicit padding. */
export const smallCaseArb: fc.Arbitrary<ConvCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 8 }),
    w: fc.integer({ min: 1, max: 8 }),
    cin: fc.integer({ min: 1, max: 5 }),
    cout: fc.integer({ min: 1, max: 5 }),
    k: fc.constantFrom(1, 2, 3),
    s: fc.constantFrom(1, 2),
    pad: fc.oneof(
      fc.constant<ConvPad>('same'),
      fc.constant<ConvPad>('valid'),
      fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)).map(
        ([t, b, l, r]): ConvPad => [
          [0, 0],
          [t, b],
          [l, r],
          [0, 0],
        ],
      ),
    ),
  })
  .map(({ n, h, w, cin, cout, k, s, pad }) => convCase([n, h, w, cin], [k, k, cin, cout], s, pad))
  .filter((c) => c.dyShape[1] > 0 && c.dyShape[2] > 0);

/** Fixed cases covering what the CKAAD networks use (and the cpu kernels' chunk edges). */
export const namedCases: Record<string, ConvCase> = {
  '3×3 s1 same': convCase([2, 6, 5, 3], [3, 3, 3, 4], 1, 'same'),
  '3×3 s2 same': convCase([2, 7, 8, 4], [3, 3, 4, 3], 2, 'same'),
  '1×1 s1': convCase([2, 5, 5, 6], [1, 1, 6, 5], 1, 'valid'),
  '1×1 s2': convCase([1, 6, 7, 3], [1, 1, 3, 5], 2, 'valid'),
  '2×2 s2 valid (transposed-conv layer)': convCase([2, 8, 6, 3], [2, 2, 3, 5], 2, 'valid'),
  '7×7 s2 pad 3 (ResNet stem)': convCase([1, 16, 14, 3], [7, 7, 3, 4], 2, [
    [0, 0],
    [3, 3],
    [3, 3],
    [0, 0],
  ]),
  '7×7 s2 same': convCase([1, 13, 11, 2], [7, 7, 2, 3], 2, 'same'),
  '3×3 s1, padding beyond the filter': convCase([1, 5, 5, 2], [3, 3, 2, 3], 1, [
    [0, 0],
    [3, 0],
    [0, 4],
    [0, 0],
  ]),
  '2×3 s(2,1) same': convCase([1, 7, 6, 2], [2, 3, 2, 3], [2, 1], 'same'),
  '3×3 s3 valid, stride > kernel gaps': convCase([1, 10, 11, 2], [2, 2, 2, 3], 3, 'valid'),
  '3×3 s1 same, > 256 pixels': convCase([2, 13, 12, 3], [3, 3, 3, 5], 1, 'same'),
  '3×3 s2 same, > 64 rows per phase': convCase([2, 14, 13, 3], [3, 3, 3, 2], 2, 'same'),
};

/** Deterministic pseudo-random values in [-1, 1). */
export function randomValues(size: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Random inputs of a case, as plain arrays (movable between backends). */
export interface CaseData {
  x: Float32Array;
  filter: Float32Array;
  dy: Float32Array;
}

export function caseData(c: ConvCase, seed: number): CaseData {
  return {
    x: randomValues(tf.util.sizeFromShape(c.xShape), seed),
    filter: randomValues(tf.util.sizeFromShape(c.filterShape), seed + 1),
    dy: randomValues(tf.util.sizeFromShape(c.dyShape), seed + 2),
  };
}

export function filterAttrs(c: ConvCase): tf.NamedAttrMap {
  return { strides: c.strides, pad: c.pad as tf.NamedAttrMap[string], dataFormat: 'NHWC', filterShape: c.filterShape };
}

export function inputAttrs(c: ConvCase): tf.NamedAttrMap {
  return { strides: c.strides, pad: c.pad as tf.NamedAttrMap[string], dataFormat: 'NHWC', inputShape: c.xShape };
}

/** Runs the currently registered kernel (ckaad's once installed) on the active backend. */
export function runRegistered(kernelName: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): tf.Tensor {
  return tf.engine().runKernel(kernelName, inputs, attrs) as tf.Tensor;
}

/** Runs the kernel ckaad replaced on backend `backendName` (must be the active one). */
export function runOriginal(
  kernelName: string,
  backendName: string,
  inputs: tf.NamedTensorMap,
  attrs: tf.NamedAttrMap,
): tf.Tensor {
  const config = originalKernel(kernelName, backendName);
  if (config === undefined) throw new Error(`no original ${kernelName} for ${backendName}`);
  const out = config.kernelFunc({ inputs, backend: tf.backend(), attrs });
  return tf.engine().makeTensorFromTensorInfo(Array.isArray(out) ? out[0] : out);
}

/** Both gradients of a case through the public API on the active backend (dy as given). */
export function bothGradients(c: ConvCase, d: CaseData): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, c.xShape);
    const w = tf.tensor4d(d.filter, c.filterShape);
    const dy = tf.tensor4d(d.dy, c.dyShape);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same'), dy));
    const [dx, dw] = tf.grads(f)([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/**
 * A 2×2 stride-2 transposed convolution used as a layer: x [N, H, W, Cin] →
 * [N, 2H, 2W, Cout] with filter [2, 2, Cout, Cin]; returns its output and both gradients.
 */
export function transposedConvResults(
  xShape: [number, number, number, number],
  cout: number,
  seed: number,
): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const [n, h, w, cin] = xShape;
    const outShape: [number, number, number, number] = [n, 2 * h, 2 * w, cout];
    const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(xShape), seed), xShape);
    const filter = tf.tensor4d(randomValues(4 * cin * cout, seed + 1), [2, 2, cout, cin]);
    const r = tf.tensor4d(randomValues(tf.util.sizeFromShape(outShape), seed + 2), outShape);
    const layer = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape, 2, 'valid');
    const y = layer(x, filter);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layer(a, b), r)))([x, filter]);
    return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

/** ‖a − b‖₂ / ‖b‖₂ (0 when both are zero). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let err = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    err += (a[i] - b[i]) ** 2;
    ref += b[i] ** 2;
  }
  if (ref === 0) return Math.sqrt(err);
  return Math.sqrt(err / ref);
}

/** Engine and backend bookkeeping that must not grow across kernel calls. */
export function memoryCounts(): { numTensors: number; numBytes: number; numDataIds: number } {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes, numDataIds: tf.backend().numDataIds() };
}

/** One BatchMatMul: shapes of a and b as stored, and the transpose flags. */
export interface MatMulCase {
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Random products: any transpose flags; no batch, batched a, batched b, equal batches.
 * (Broadcasts like [2, 1] × [1, 3] are left out: tfjs-backend-cpu itself gets them wrong.)
 */
export const matMulCaseArb: fc.Arbitrary<MatMulCase> = fc
  .record({
    m: fc.integer({ min: 1, max: 9 }),
    k: fc.integer({ min: 1, max: 9 }),
    n: fc.integer({ min: 1, max: 9 }),
    transposeA: fc.boolean(),
    transposeB: fc.boolean(),
    batches: fc.constantFrom<[number[], number[]]>([[], []], [[3], []], [[2, 2], []], [[], [2]], [[3], [3]], [[1], [4]], [[2, 3], [1]]),
  })
  .map(({ m, k, n, transposeA, transposeB, batches: [ba, bb] }) => ({
    aShape: [...ba, ...(transposeA ? [k, m] : [m, k])],
    bShape: [...bb, ...(transposeB ? [n, k] : [k, n])],
    transposeA,
    transposeB,
  }));
