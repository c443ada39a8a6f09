/**
 * Conv2DBackpropFilter for the 'wasm' backend, which has none of its own. All FLOPs run
 * in XNNPACK's matrix product (the backend's BatchMatMul with no transpose flags, its
 * fast path):
 *
 *   dW [(kh, kw, Cin), Cout] = im2colᵀ(x) [(kh, kw, Cin), pixels] · dy [pixels, Cout].
 *
 * im2colᵀ is built in JavaScript from a channel-major copy of x (row copies, no
 * transposing kernel), in groups of taps to bound its memory. dy is the matrix XNNPACK
 * packs, once per call, shared by all groups. (tfjs-backend-wasm caches that packed copy
 * under dy's tensor id until dy is disposed: one extra dy-sized buffer meanwhile.)
 */

import { Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import type { ConvGeometry } from '../conv-geometry.js';
import { filterGradientKernel } from '../gradient-kernel.js';
import { matMul, withShape } from '../tensor-memory.js';
import type { TensorMemory } from '../tensor-memory.js';
import { transposeInto } from './transpose.js';

/** Default largest im2colᵀ block built at once, in floats (64 MiB). */
export const MAX_BLOCK_FLOATS = 16 * 1024 * 1024;

/**
 * NHWC core: dW [KH, KW, Cin, Cout] from x [N, H, W, Cin] and dy [N, Ho, Wo, Cout].
 * `blockFloats` bounds the im2colᵀ block (whole taps; at least one tap per block).
 */
export function filterGradientWasm(
  memory: TensorMemory,
  g: ConvGeometry,
  x: TensorInfo,
  dy: TensorInfo,
  blockFloats = MAX_BLOCK_FLOATS,
): TensorInfo {
  const { inChannels: cin, outChannels: cout, filterHeight, filterWidth } = g;
  const pixels = g.batch * g.outHeight * g.outWidth;
  const inPixels = g.batch * g.inHeight * g.inWidth;
  const taps = filterHeight * filterWidth;
  const dy2d = withShape(dy, [pixels, cout]); // [M, Cout], shares dy's data (not released here)

  // x channel-major [Cin, N·H·W] in JS memory: each im2colᵀ row is then a strided copy of one plane.
  const xT = new Float32Array(cin * inPixels);
  transposeInto(memory.view(x), inPixels, cin, xT);

  const tapsPerBlock = Math.max(1, Math.min(taps, Math.floor(blockFloats / (cin * pixels))));
  const out = tapsPerBlock < taps ? memory.alloc([filterHeight, filterWidth, cin, cout], false) : null;
  for (let t0 = 0; t0 < taps; t0 += tapsPerBlock) {
    const blockTaps = Math.min(tapsPerBlock, taps - t0);
    const cols = memory.alloc([blockTaps * cin, pixels], false); // im2colᵀ block
    const colsView = memory.view(cols);
    for (let t = 0; t < blockTaps; t++) fillTapRows(g, xT, t0 + t, colsView, t * cin * pixels);
    const block = matMul(memory, cols, dy2d); // [blockTaps·Cin, Cout]
    memory.release(cols);
    if (out === null) return withShape(block, [filterHeight, filterWidth, cin, cout]);
    memory.view(out).set(memory.view(block), t0 * cin * cout);
    memory.release(block);
  }
  return out as TensorInfo;
}

/**
 * Writes the Cin rows of im2colᵀ for tap t = kh·KW + kw at `dst[offset…]`: row ci holds,
 * for every dy pixel (n, oy, ox), x[n, oy·sh + kh − padTop, ox·sw + kw − padLeft, ci]
 * (zero in the padding), read from the channel-major copy `xT` [Cin, N·H·W].
 */
function fillTapRows(g: ConvGeometry, xT: Float32Array, t: number, dst: Float32Array, offset: number): void {
  const kh = Math.floor(t / g.filterWidth);
  const kw = t % g.filterWidth;
  if (g.strideHeight === 1 && g.strideWidth === 1 && g.outHeight === g.inHeight && g.outWidth === g.inWidth) {
    fillShiftedPlanes(g, xT, kh - g.padTop, kw - g.padLeft, dst, offset);
    return;
  }
  const { batch, inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = g;
  const plane = batch * h * w;
  const pixels = batch * ho * wo;
  // Output columns whose input column ox·sw + kw − padLeft lies inside x.
  const oxLo = Math.min(wo, Math.max(0, Math.ceil((g.padLeft - kw) / sw)));
  const oxHi = Math.max(oxLo, Math.min(wo, Math.floor((w - 1 + g.padLeft - kw) / sw) + 1));
  for (let ci = 0; ci < g.inChannels; ci++) {
    const rowStart = offset + ci * pixels;
    for (let n = 0; n < batch; n++) {
      for (let oy = 0; oy < ho; oy++) {
        const d = rowStart + (n * ho + oy) * wo;
        const iy = oy * sh + kh - g.padTop;
        if (iy < 0 || iy >= h) {
          dst.fill(0, d, d + wo);
          continue;
        }
        for (let ox = 0; ox < oxLo; ox++) dst[d + ox] = 0;
        let s = ci * plane + (n * h + iy) * w + oxLo * sw + kw - g.padLeft;
        for (let ox = oxHi; ox < wo; ox++) dst[d + ox] = 0;
        for (let ox = oxLo; ox < oxHi; ox++, s += sw) dst[d + ox] = xT[s];
      }
    }
  }
}

/**
 * Stride 1 with output size = input size ('same'): each im2colᵀ row is its channel plane
 * shifted by (dyShift, dxShift) pixels, i.e. one block copy, after which the positions
 * that fell into the padding (or into a neighbouring row or image) are zeroed.
 */
function fillShiftedPlanes(
  g: ConvGeometry,
  xT: Float32Array,
  dyShift: number,
  dxShift: number,
  dst: Float32Array,
  offset: number,
): void {
  const { batch, inHeight: h, inWidth: w } = g;
  const plane = batch * h * w;
  const shift = dyShift * w + dxShift;
  const from = Math.max(0, -shift); // first dst index whose source lies inside the plane
  const to = Math.min(plane, plane - shift);
  for (let ci = 0; ci < g.inChannels; ci++) {
    const row = offset + ci * plane;
    if (from >= to) {
      dst.fill(0, row, row + plane);
      continue;
    }
    dst.fill(0, row, row + from);
    dst.set(xT.subarray(ci * plane + from + shift, ci * plane + to + shift), row + from);
    dst.fill(0, row + to, row + plane);
    // Columns read from the neighbouring row: the last dxShift (or first −dxShift) of each row.
    const zeroFrom = dxShift > 0 ? Math.max(0, w - dxShift) : 0;
    const zeroTo = dxShift > 0 ? w : Math.min(w, -dxShift);
    for (let n = 0; n < batch; n++) {
      for (let oy = 0; oy < h; oy++) {
        const d = row + (n * h + oy) * w;
        const iy = oy + dyShift;
        if (iy < 0 || iy >= h) dst.fill(0, d, d + w);
        else for (let ox = zeroFrom; ox < zeroTo; ox++) dst[d + ox] = 0;
      }
    }
  }
}

/** Conv2DBackpropFilter for 'wasm' (NHWC natively, NCHW through transposes). */
export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: filterGradientKernel('wasm', (memory, g, x, dy) => filterGradientWasm(memory, g, x, dy)),
};
