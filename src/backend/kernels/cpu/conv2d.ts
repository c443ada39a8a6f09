/**
 * Conv2D (forward) for the 'cpu' backend: one packed JavaScript gather-GEMM,
 *
 *   y [pixels, Cout] = [x at each tap's source] [pixels, KH·KW·Cin] · w [KH·KW·Cin, Cout],
 *
 * about 4× tfjs-backend-cpu's loop. Dilated convolutions are left to the original kernel.
 */

import * as tf from '@tensorflow/tfjs-core';
import { Conv2D } from '@tensorflow/tfjs-core';
import type { Conv2DAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../../../errors.js';
import { convGeometry, expectShape, filterShapeOf, outputShapeOf } from '../conv-geometry.js';
import type { ConvGeometry, ConvPad } from '../conv-geometry.js';
import { tapSources } from '../gather-plans.js';
import { runOriginalKernel } from '../originals.js';
import { packFilterPanels, panelCount, PANEL } from '../packed-gemm.js';
import { expectFloat32, runKernel, supportsDirectMemory, tensorMemory } from '../tensor-memory.js';
import type { TensorMemory } from '../tensor-memory.js';
import { gatherGemm } from './gather-gemm.js';

/** Default number of gather-plan entries built at once (1 MiB of indices). */
export const PLAN_INTS = 256 * 1024;

/**
 * NHWC core: y [N, Ho, Wo, Cout] from x [N, H, W, Cin] and w [KH, KW, Cin, Cout].
 * `planInts` bounds the gather plan of one block of output pixels (at least one pixel).
 */
export function conv2dCpu(
  memory: TensorMemory,
  g: ConvGeometry,
  x: TensorInfo,
  filter: TensorInfo,
  planInts = PLAN_INTS,
): TensorInfo {
  const { inChannels: cin, outChannels: cout, filterHeight, filterWidth } = g;
  const taps = filterHeight * filterWidth;
  const pixels = g.batch * g.outHeight * g.outWidth;
  const out = memory.alloc(outputShapeOf(g), true);
  const xv = memory.view(x);
  const wv = memory.view(filter);
  const y = memory.view(out);

  const allTaps = [...Array(taps).keys()];
  const b = new Float32Array(panelCount(cout) * taps * cin * PANEL); // w panels [Cout/4][taps·Cin][4]
  packFilterPanels(wv, allTaps, cin, cout, 'in', b);
  // Blocks of output pixels, so the gather plan stays small: sources[p·taps + t] is the
  // x pixel block pixel p reads through tap t (-1: padding).
  const blockPixels = Math.min(pixels, Math.max(1, Math.floor(planInts / taps)));
  const sources = new Int32Array(blockPixels * taps);
  const tapSrc = new Int32Array(blockPixels);
  for (let p0 = 0; p0 < pixels; p0 += blockPixels) {
    const count = Math.min(blockPixels, pixels - p0);
    for (let t = 0; t < taps; t++) {
      tapSources(g, Math.floor(t / filterWidth), t % filterWidth, tapSrc, p0, count);
      for (let p = 0; p < count; p++) sources[p * taps + t] = tapSrc[p];
    }
    gatherGemm(xv, cin, sources, taps, count, null, b, cout, y.subarray(p0 * cout));
  }
  return out;
}

function isUnitDilation(dilations: number | readonly number[] | undefined): boolean {
  if (dilations === undefined) return true;
  return typeof dilations === 'number' ? dilations === 1 : dilations.every((d) => d === 1);
}

const conv2dKernelFunc: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = (attrs ?? {}) as unknown as Conv2DAttrs;
  if (!isUnitDilation(dilations)) return runOriginalKernel(Conv2D, 'cpu', args, 'is dilated');
  if (!supportsDirectMemory(backend, 'cpu')) {
    return runOriginalKernel(Conv2D, 'cpu', args, 'runs on a backend instance without the expected memory API');
  }
  const memory = tensorMemory(backend, 'cpu');
  const x = inputs.x;
  const filter = inputs.filter;
  if (x === undefined || filter === undefined) throw new InvalidArgumentError('inputs', 'tensors x and filter');
  expectFloat32('inputs.x', x);
  expectFloat32('inputs.filter', filter);
  const nchw = dataFormat === 'NCHW';
  const xShape = nchw ? [x.shape[0], x.shape[2], x.shape[3], x.shape[1]] : x.shape;
  const nhwcPad: ConvPad = nchw && Array.isArray(pad) ? [pad[0], pad[2], pad[3], pad[1]] : pad;
  const g = convGeometry(xShape, filter.shape, strides, nhwcPad, dimRoundingMode);
  expectShape('Conv2D filter', filterShapeOf(g), filter.shape);
  const yShape = outputShapeOf(g);
  if (tf.util.sizeFromShape(xShape) === 0 || tf.util.sizeFromShape(yShape) === 0) {
    const zeros = memory.alloc(yShape, true);
    return nchw ? { ...zeros, shape: [yShape[0], yShape[3], yShape[1], yShape[2]] } : zeros;
  }
  if (!nchw) return conv2dCpu(memory, g, x, filter);
  const xt = runKernel(memory, 'Transpose', { x }, { perm: [0, 2, 3, 1] });
  let y: TensorInfo | undefined;
  try {
    y = conv2dCpu(memory, g, xt, filter);
    return runKernel(memory, 'Transpose', { x: y }, { perm: [0, 3, 1, 2] });
  } finally {
    memory.release(xt);
    if (y !== undefined) memory.release(y);
  }
};

/** Conv2D for 'cpu' (NHWC natively, NCHW through transposes, dilated: tfjs's kernel). */
export const conv2DCpuConfig: KernelConfig = {
  kernelName: Conv2D,
  backendName: 'cpu',
  kernelFunc: conv2dKernelFunc,
};
