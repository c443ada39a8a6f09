/**
 * BatchMatMul for the 'cpu' backend: the packed JavaScript GEMM of packed-gemm.ts, ~4×
 * tfjs-backend-cpu's blocked loop, for any transpose flags (packing reads either layout,
 * so transposes cost nothing extra). Non-float32 inputs and unusual batch broadcasts go to
 * the original kernel.
 */

import * as tf from '@tensorflow/tfjs-core';
import { BatchMatMul } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../../../errors.js';
import { matMulShapes } from '../matmul-shapes.js';
import type { MatMulShapes } from '../matmul-shapes.js';
import { runOriginalKernel } from '../originals.js';
import { gemmPanels, packChannelPanels, packGatheredRowPanels, panelCount, PANEL } from '../packed-gemm.js';
import { supportsDirectMemory, tensorMemory } from '../tensor-memory.js';
import type { TensorMemory } from '../tensor-memory.js';

/**
 * out [batch, M, N] = a · b with the shapes `s` (simple batching). A is packed into row
 * panels straight from either layout, B into column panels, per batch.
 */
export function batchMatMulCpu(
  memory: TensorMemory,
  s: MatMulShapes,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const { m, k, n } = s;
  const batch = Math.max(s.batchA, s.batchB);
  const out = memory.alloc(s.outShape, true);
  const av = memory.view(a);
  const bv = memory.view(b);
  const ov = memory.view(out);
  if (m === 0 || n === 0 || k === 0) return out;

  // Row i of a row-major [rows, depth] matrix read as panel source "pixel" i.
  const identity = Int32Array.from({ length: Math.max(m, n) }, (_, i) => i);
  const aPanels = new Float32Array(panelCount(m) * k * PANEL);
  const bPanels = new Float32Array(panelCount(n) * k * PANEL);
  const rowOffsets = Int32Array.from({ length: m }, (_, r) => r * n);
  for (let i = 0; i < batch; i++) {
    const ai = s.batchA === 1 ? 0 : i;
    const bi = s.batchB === 1 ? 0 : i;
    const aMat = av.subarray(ai * m * k, (ai + 1) * m * k);
    const bMat = bv.subarray(bi * k * n, (bi + 1) * k * n);
    // A[r, kk]: stored [M, K] (rows r) or, transposed, [K, M] (column r of each row kk).
    if (transposeA) packChannelPanels(aMat, m, null, 0, k, aPanels);
    else packGatheredRowPanels(aMat, k, identity, 1, 0, m, aPanels);
    // B[kk, j]: stored [K, N] or, transposed, [N, K].
    if (i === 0 || s.batchB !== 1) {
      if (transposeB) packGatheredRowPanels(bMat, k, identity, 1, 0, n, bPanels);
      else packChannelPanels(bMat, n, null, 0, k, bPanels);
    }
    gemmPanels(aPanels, bPanels, k, m, n, ov.subarray(i * m * n, (i + 1) * m * n), rowOffsets);
  }
  return out;
}

const batchMatMulKernelFunc: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  if (a === undefined || b === undefined) throw new InvalidArgumentError('inputs', 'tensors a and b');
  const { transposeA, transposeB } = (attrs ?? {}) as unknown as BatchMatMulAttrs;
  const s = matMulShapes(a, b, transposeA === true, transposeB === true);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !s.simpleBatching || !supportsDirectMemory(backend, 'cpu')) {
    return runOriginalKernel(BatchMatMul, 'cpu', args, 'has non-float32 inputs, a general batch broadcast or an unexpected backend instance');
  }
  if (tf.util.sizeFromShape(s.outShape) === 0) return tensorMemory(backend, 'cpu').alloc(s.outShape, true);
  return batchMatMulCpu(tensorMemory(backend, 'cpu'), s, a, b, transposeA === true, transposeB === true);
};

/** BatchMatMul for 'cpu'. */
export const batchMatMulCpuConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'cpu',
  kernelFunc: batchMatMulKernelFunc,
};
