/**
 * BatchMatMul for the 'wasm' backend. tfjs-backend-wasm runs XNNPACK only for a plain
 * a [M, K] · b [K, N] (no transpose flag, no batch); everything else, including the
 * transposed products of every matMul gradient, takes a scalar loop ~10× slower. Here:
 *
 * - transposed operands are transposed explicitly (cache-blocked JavaScript copy);
 * - a batched a times an unbatched b is one product with the batch folded into M;
 *
 * after which the original kernel runs on its XNNPACK path. Batched b (and non-float32
 * inputs) go to the original kernel unchanged.
 */

import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../../../errors.js';
import { matMulShapes } from '../matmul-shapes.js';
import { runOriginalKernel } from '../originals.js';
import { supportsDirectMemory, tensorMemory, withShape } from '../tensor-memory.js';
import type { TensorMemory } from '../tensor-memory.js';
import { transposeInto } from './transpose.js';

/** A new [cols, rows] tensor holding the transpose of the row-major [rows, cols] `info`. */
function transposed2d(memory: TensorMemory, info: TensorInfo, rows: number, cols: number): TensorInfo {
  const out = memory.alloc([cols, rows], false);
  transposeInto(memory.view(info), rows, cols, memory.view(out));
  return out;
}

const batchMatMulKernelFunc: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  if (a === undefined || b === undefined) throw new InvalidArgumentError('inputs', 'tensors a and b');
  const { transposeA, transposeB } = (attrs ?? {}) as unknown as BatchMatMulAttrs;
  const tA = transposeA === true;
  const tB = transposeB === true;
  const s = matMulShapes(a, b, tA, tB);
  const plain = !tA && !tB && s.batchA === 1 && s.batchB === 1;
  const foldable = s.batchB === 1 && (s.batchA === 1 || !tA);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || plain || !foldable || s.m * s.n * s.k === 0 || !supportsDirectMemory(backend, 'wasm')) {
    return runOriginalKernel(BatchMatMul, 'wasm', args, 'is a product tfjs-backend-wasm runs itself');
  }
  const memory = tensorMemory(backend, 'wasm');
  // a as [batch·M, K] (batch folded into rows; transposeA only without batch), b as [K, N].
  const a2 = tA ? transposed2d(memory, a, s.k, s.m) : withShape(a, [s.batchA * s.m, s.k]);
  const b2 = tB ? transposed2d(memory, b, s.n, s.k) : withShape(b, [s.k, s.n]);
  try {
    const plainArgs = { inputs: { a: a2, b: b2 }, backend, attrs: { transposeA: false, transposeB: false } };
    const out = runOriginalKernel(BatchMatMul, 'wasm', plainArgs, 'needs its XNNPACK path');
    return withShape(Array.isArray(out) ? out[0] : out, s.outShape);
  } finally {
    if (tA) memory.release(a2);
    if (tB) memory.release(b2);
  }
};

/** BatchMatMul for 'wasm'. */
export const batchMatMulWasmConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMulKernelFunc,
};
