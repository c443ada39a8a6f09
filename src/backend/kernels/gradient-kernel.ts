/**
 * The part of Conv2DBackpropFilter / Conv2DBackpropInput common to every backend:
 * reading inputs and attributes, checking shapes, handling empty tensors and the NCHW
 * data format (by transposing to NHWC around the NHWC computation), then calling a
 * backend's NHWC core with the convolution's geometry.
 */

import * as tf from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../../errors.js';
import { convGeometry, expectShape, filterShapeOf, inputShapeOf, outputShapeOf } from './conv-geometry.js';
import type { ConvGeometry, ConvPad } from './conv-geometry.js';
import { runOriginalKernel } from './originals.js';
import { expectFloat32, runKernel, supportsDirectMemory, tensorMemory } from './tensor-memory.js';
import type { FastBackendName, TensorMemory } from './tensor-memory.js';

/** NHWC filter-gradient core: dW [KH, KW, Cin, Cout] from x [N, H, W, Cin] and dy [N, Ho, Wo, Cout]. */
export type FilterGradientCore = (memory: TensorMemory, g: ConvGeometry, x: TensorInfo, dy: TensorInfo) => TensorInfo;

/** NHWC input-gradient core: dx [N, H, W, Cin] from dy [N, Ho, Wo, Cout] and w [KH, KW, Cin, Cout]. */
export type InputGradientCore = (memory: TensorMemory, g: ConvGeometry, dy: TensorInfo, filter: TensorInfo) => TensorInfo;

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

function input(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const info = inputs[name];
  if (info === undefined) throw new InvalidArgumentError(`inputs.${name}`, 'a tensor');
  expectFloat32(`inputs.${name}`, info);
  if (info.shape.length !== 4) {
    throw new InvalidArgumentError(`inputs.${name}`, 'a rank-4 tensor', `shape [${info.shape.join(', ')}]`);
  }
  return info;
}

function nchwToNhwcShape(shape: readonly number[]): number[] {
  return [shape[0], shape[2], shape[3], shape[1]];
}

/** Explicit NCHW padding [[0,0],[0,0],[t,b],[l,r]] in NHWC order; modes and numbers unchanged. */
function padToNhwc(pad: ConvPad): ConvPad {
  if (!Array.isArray(pad)) return pad;
  return [pad[0], pad[2], pad[3], pad[1]];
}

function transpose(memory: TensorMemory, info: TensorInfo, perm: number[]): TensorInfo {
  return runKernel(memory, 'Transpose', { x: info }, { perm });
}

/** Wraps an NHWC core as the kernelFunc of Conv2DBackpropFilter for `backendName`. */
export function filterGradientKernel(backendName: FastBackendName, core: FilterGradientCore): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    if (!supportsDirectMemory(backend, backendName)) {
      return runOriginalKernel('Conv2DBackpropFilter', backendName, args, 'runs on a backend instance without the expected memory API');
    }
    const memory = tensorMemory(backend, backendName);
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = (attrs ?? {}) as unknown as Conv2DBackpropFilterAttrs;
    const x = input(inputs, 'x');
    const dy = input(inputs, 'dy');
    const nchw = dataFormat === 'NCHW';
    const xShape = nchw ? nchwToNhwcShape(x.shape) : x.shape;
    const dyShape = nchw ? nchwToNhwcShape(dy.shape) : dy.shape;
    const g = convGeometry(xShape, filterShape, strides, nchw ? padToNhwc(pad) : pad, dimRoundingMode);
    expectShape('Conv2DBackpropFilter filterShape', filterShapeOf(g), filterShape);
    expectShape('Conv2DBackpropFilter dy (NHWC)', outputShapeOf(g), dyShape);
    if (tf.util.sizeFromShape(xShape) === 0 || tf.util.sizeFromShape(dyShape) === 0) {
      return memory.alloc(filterShapeOf(g), true);
    }
    if (!nchw) return core(memory, g, x, dy);
    const xt = transpose(memory, x, TO_NHWC);
    const dyt = transpose(memory, dy, TO_NHWC);
    try {
      return core(memory, g, xt, dyt);
    } finally {
      memory.release(xt);
      memory.release(dyt);
    }
  };
}

/** Wraps an NHWC core as the kernelFunc of Conv2DBackpropInput for `backendName`. */
export function inputGradientKernel(backendName: FastBackendName, core: InputGradientCore): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    if (!supportsDirectMemory(backend, backendName)) {
      return runOriginalKernel('Conv2DBackpropInput', backendName, args, 'runs on a backend instance without the expected memory API');
    }
    const memory = tensorMemory(backend, backendName);
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = (attrs ?? {}) as unknown as Conv2DBackpropInputAttrs;
    const dy = input(inputs, 'dy');
    const filter = input(inputs, 'filter');
    const nchw = dataFormat === 'NCHW';
    const xShape = nchw ? nchwToNhwcShape(inputShape) : inputShape;
    const dyShape = nchw ? nchwToNhwcShape(dy.shape) : dy.shape;
    const g = convGeometry(xShape, filter.shape, strides, nchw ? padToNhwc(pad) : pad, dimRoundingMode);
    expectShape('Conv2DBackpropInput filter', filterShapeOf(g), filter.shape);
    expectShape('Conv2DBackpropInput dy (NHWC)', outputShapeOf(g), dyShape);
    const dxShape = inputShapeOf(g);
    if (tf.util.sizeFromShape(dxShape) === 0 || tf.util.sizeFromShape(dyShape) === 0 || tf.util.sizeFromShape(filter.shape) === 0) {
      const zeros = memory.alloc(dxShape, true);
      if (!nchw) return zeros;
      return { ...zeros, shape: [dxShape[0], dxShape[3], dxShape[1], dxShape[2]] };
    }
    if (!nchw) return core(memory, g, dy, filter);
    const dyt = transpose(memory, dy, TO_NHWC);
    let dx: TensorInfo | undefined;
    try {
      dx = core(memory, g, dyt, filter);
      return transpose(memory, dx, TO_NCHW);
    } finally {
      memory.release(dyt);
      if (dx !== undefined) memory.release(dx);
    }
  };
}

/** Attribute map of a Conv2D call, for cores that delegate to the backend's Conv2D. */
export function conv2dAttrs(pad: [[number, number], [number, number], [number, number], [number, number]]): NamedAttrMap {
  return { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] };
}
