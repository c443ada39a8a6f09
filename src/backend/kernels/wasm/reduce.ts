/**
 * Sum and Mean for the 'wasm' backend when the reduced axes are not the innermost ones.
 *
 * tfjs-backend-wasm reduces only over the innermost axes: for any other axes it first
 * transposes the whole input with its Transpose kernel (~0.1 G elements/s). Training hits
 * exactly those cases — instance norm's statistics reduce [N, H, W, C] over H and W, and the
 * gradients of its per-channel weight and bias reduce over N, H and W — costing ~40 ms per
 * [32, 32, 32, 128] tensor, ~5 % of a CKAPatch step. Here a contiguous block of reduced
 * axes [a, b] is read in place as x [outer, reduced, inner] and summed row by row into
 * float64 accumulators (~10× faster): out [outer, inner] = Σ_r x[outer, r, inner].
 *
 * Reductions over the innermost axes (inner = 1), over non-adjacent axes, of non-float32
 * tensors or of empty ones go to the original kernel.
 */

import * as tf from '@tensorflow/tfjs-core';
import { Mean, Sum } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, SumAttrs } from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../../../errors.js';
import { runOriginalKernel } from '../originals.js';
import { supportsDirectMemory, tensorMemory } from '../tensor-memory.js';

/** How a reduction splits its input: x [outer, reduced, inner] → out [outer, inner]. */
export interface ReductionBlock {
  outer: number;
  reduced: number;
  inner: number;
  /** Output shape (with or without the reduced axes as 1). */
  outShape: number[];
}

/**
 * The [outer, reduced, inner] split of reducing `shape` over `axes` (already normalised,
 * i.e. non-negative), or null when the reduced axes are not one contiguous block.
 */
export function reductionBlock(shape: readonly number[], axes: readonly number[], keepDims: boolean): ReductionBlock | null {
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (last - first + 1 !== sorted.length) return null;
  const product = (from: number, to: number) => shape.slice(from, to).reduce((p, d) => p * d, 1);
  const outShape = keepDims ? shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : shape.filter((_, i) => i < first || i > last);
  return { outer: product(0, first), reduced: product(first, last + 1), inner: product(last + 1, shape.length), outShape };
}

/**
 * out[o·inner + i] = scale · Σ_r x[(o·reduced + r)·inner + i]. Accumulates in float64, four
 * rows at a time (pairwise within the four), so the result is at least as accurate as the
 * original kernel's float32 running sum.
 */
export function reduceBlock(x: Float32Array, block: ReductionBlock, scale: number, out: Float32Array): void {
  const { outer, reduced, inner } = block;
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    let p = o * reduced * inner;
    let r = 0;
    for (; r + 4 <= reduced; r += 4) {
      const p1 = p + inner;
      const p2 = p1 + inner;
      const p3 = p2 + inner;
      for (let i = 0; i < inner; i++) acc[i] += x[p + i] + x[p1 + i] + (x[p2 + i] + x[p3 + i]);
      p += 4 * inner;
    }
    for (; r < reduced; r++, p += inner) {
      for (let i = 0; i < inner; i++) acc[i] += x[p + i];
    }
    const base = o * inner;
    for (let i = 0; i < inner; i++) out[base + i] = acc[i] * scale;
  }
}

function reductionKernel(kernelName: typeof Sum | typeof Mean): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs['x'];
    if (x === undefined) throw new InvalidArgumentError('inputs.x', 'a tensor');
    const { axis, keepDims } = (attrs ?? {}) as unknown as SumAttrs;
    const size = tf.util.sizeFromShape(x.shape);
    const block = x.dtype === 'float32' && size > 0 ? reductionBlock(x.shape, tf.util.parseAxisParam(axis, x.shape), keepDims === true) : null;
    if (block === null || block.inner === 1 || !supportsDirectMemory(backend, 'wasm')) {
      return runOriginalKernel(kernelName, 'wasm', args, 'is a reduction tfjs-backend-wasm runs itself');
    }
    const memory = tensorMemory(backend, 'wasm');
    const out = memory.alloc(block.outShape, false);
    const scale = kernelName === Mean ? 1 / block.reduced : 1;
    reduceBlock(memory.view(x), block, scale, memory.view(out));
    return out;
  };
}

/** Sum for 'wasm': in-place blocked reduction over non-innermost axes. */
export const sumWasmConfig: KernelConfig = {
  kernelName: Sum,
  backendName: 'wasm',
  kernelFunc: reductionKernel(Sum),
};

/** Mean for 'wasm': in-place blocked reduction over non-innermost axes. */
export const meanWasmConfig: KernelConfig = {
  kernelName: Mean,
  backendName: 'wasm',
  kernelFunc: reductionKernel(Mean),
};
