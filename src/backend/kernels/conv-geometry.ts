/**
 * Geometry of a 2-D convolution in NHWC layout, the one fact every fast kernel starts from.
 *
 * Forward relation (dilation 1, which is all tf.conv2d's gradient supports):
 *
 *   y[n, oy, ox, co] = Σ_{kh, kw, ci} x[n, oy·sh + kh − padTop, ox·sw + kw − padLeft, ci] · w[kh, kw, ci, co]
 *
 * with x [N, H, W, Cin], w [KH, KW, Cin, Cout] (HWIO), y [N, Ho, Wo, Cout] and x read as
 * zero outside its bounds. Both gradients are sums over the same index pairs:
 *
 *   dW[kh, kw, ci, co] = Σ_{n, oy, ox} x[n, oy·sh + kh − padTop, ox·sw + kw − padLeft, ci] · dy[n, oy, ox, co]
 *   dX[n, iy, ix, ci]  = Σ_{kh, kw, co : iy = oy·sh + kh − padTop, ix = ox·sw + kw − padLeft} dy[n, oy, ox, co] · w[kh, kw, ci, co]
 */

import { backend_util } from '@tensorflow/tfjs-core';

import { InvalidArgumentError, ShapeMismatchError } from '../../errors.js';

/** Padding as tf.conv2d accepts it: a mode, a single number, or explicit NHWC pairs. */
export type ConvPad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

/** Sizes and offsets of one NHWC convolution with dilation 1. */
export interface ConvGeometry {
  /** N. */
  batch: number;
  /** H, W of the convolution's input x. */
  inHeight: number;
  inWidth: number;
  /** Cin. */
  inChannels: number;
  /** Ho, Wo of the convolution's output y (= dy). */
  outHeight: number;
  outWidth: number;
  /** Cout. */
  outChannels: number;
  /** KH, KW. */
  filterHeight: number;
  filterWidth: number;
  /** sh, sw. */
  strideHeight: number;
  strideWidth: number;
  /** Zero rows added above / columns added left of x (the forward pass's padding). */
  padTop: number;
  padLeft: number;
}

/**
 * Computes the geometry of a convolution of an NHWC input of `inShape` with an HWIO
 * filter of `filterShape`, exactly as tfjs does (`backend_util.computeConv2DInfo`).
 *
 * @throws InvalidArgumentError on non-positive strides or negative explicit padding.
 */
export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | readonly number[],
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): ConvGeometry {
  if (inShape.length !== 4) {
    throw new InvalidArgumentError('x', 'a rank-4 NHWC shape', `[${inShape.join(', ')}]`);
  }
  if (filterShape.length !== 4) {
    throw new InvalidArgumentError('filterShape', 'a rank-4 HWIO shape', `[${filterShape.join(', ')}]`);
  }
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  if (!(Number.isInteger(sh) && Number.isInteger(sw) && sh >= 1 && sw >= 1)) {
    throw new InvalidArgumentError('strides', 'positive integers', String(strides));
  }
  if (Array.isArray(pad) && pad.some((pair) => pair.some((p) => !(Number.isInteger(p) && p >= 0)))) {
    throw new InvalidArgumentError('pad', 'non-negative integer explicit padding', JSON.stringify(pad));
  }
  const info = backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    [sh, sw],
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** [N, H, W, Cin] of the convolution's input. */
export function inputShapeOf(g: ConvGeometry): [number, number, number, number] {
  return [g.batch, g.inHeight, g.inWidth, g.inChannels];
}

/** [N, Ho, Wo, Cout] of the convolution's output, i.e. of dy. */
export function outputShapeOf(g: ConvGeometry): [number, number, number, number] {
  return [g.batch, g.outHeight, g.outWidth, g.outChannels];
}

/** [KH, KW, Cin, Cout] of the filter. */
export function filterShapeOf(g: ConvGeometry): [number, number, number, number] {
  return [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
}

/** Multiply-adds × 2 of the forward convolution, which each gradient repeats exactly. */
export function convFlops(g: ConvGeometry): number {
  return 2 * g.batch * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * g.inChannels * g.outChannels;
}

/**
 * True when the filter tiles the input without overlap or padding (KH = sh, KW = sw,
 * no padding, H = Ho·sh, W = Wo·sw): every x pixel then meets exactly one (tap, y pixel)
 * pair, the case of a 2×2 stride-2 transposed convolution.
 */
export function isNonOverlapping(g: ConvGeometry): boolean {
  return (
    g.filterHeight === g.strideHeight &&
    g.filterWidth === g.strideWidth &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.inHeight === g.outHeight * g.strideHeight &&
    g.inWidth === g.outWidth * g.strideWidth
  );
}

/** Throws ShapeMismatchError unless `found` equals `expected`. */
export function expectShape(what: string, expected: readonly number[], found: readonly number[]): void {
  if (expected.length !== found.length || expected.some((d, i) => d !== found[i])) {
    throw new ShapeMismatchError(what, `[${expected.join(', ')}]`, `[${found.join(', ')}]`);
  }
}
