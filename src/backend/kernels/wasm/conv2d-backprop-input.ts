/**
 * Conv2DBackpropInput for the 'wasm' backend (also the forward pass of
 * tf.conv2dTranspose). The backend's own kernel is a scalar loop (~2–3 GFLOP/s); here
 * every FLOP runs in XNNPACK through one of three exact rewrites:
 *
 * 1. Non-overlapping filter (KH = sh, KW = sw, no padding; the 2×2 stride-2 transposed
 *    conv): one matrix product dy [pixels, Cout] · w' [Cout, KH·KW·Cin], whose rows are
 *    then scattered depth-to-space into dx.
 * 2. Stride 1: a forward Conv2D of dy with the filter flipped in space and with in/out
 *    channels swapped, padded by (K − 1 − pad).
 * 3. Otherwise: per stride phase (pixels with equal iy mod sh, ix mod sw), a gather of
 *    the dy rows each tap reads, one matrix product with those taps' weights, and a
 *    scatter of the rows into dx (see gather-plans.ts): no multiply by inserted zeros.
 */

import { Conv2DBackpropInput } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import { isNonOverlapping } from '../conv-geometry.js';
import type { ConvGeometry } from '../conv-geometry.js';
import { inputPhases } from '../gather-plans.js';
import { conv2dAttrs, inputGradientKernel } from '../gradient-kernel.js';
import { matMul, runKernel, withShape } from '../tensor-memory.js';
import type { TensorMemory } from '../tensor-memory.js';

/** Default largest gathered dy block built at once, in floats (64 MiB). */
export const MAX_BLOCK_FLOATS = 16 * 1024 * 1024;

/** Which rewrite {@link inputGradientWasm} uses; 'auto' picks the fastest applicable. */
export type InputGradientMethod = 'auto' | 'non-overlapping' | 'flipped-conv' | 'phases';

/**
 * NHWC core: dx [N, H, W, Cin] from dy [N, Ho, Wo, Cout] and w [KH, KW, Cin, Cout].
 * `method` forces a rewrite (falling back to 'phases' where it does not apply);
 * `blockFloats` bounds the gathered block of the phase rewrite (at least one row).
 */
export function inputGradientWasm(
  memory: TensorMemory,
  g: ConvGeometry,
  dy: TensorInfo,
  filter: TensorInfo,
  method: InputGradientMethod = 'auto',
  blockFloats = MAX_BLOCK_FLOATS,
): TensorInfo {
  const auto = method === 'auto';
  if ((auto || method === 'non-overlapping') && isNonOverlapping(g)) return nonOverlapping(memory, g, dy, filter);
  if ((auto || method === 'flipped-conv') && g.strideHeight === 1 && g.strideWidth === 1) {
    const viaConv = flippedConv(memory, g, dy, filter);
    if (viaConv !== null) return viaConv;
  }
  return byPhases(memory, g, dy, filter, blockFloats);
}

/** Rewrite 1: dx = depthToSpace(dy · w'), w'[co, (t, ci)] = w[t, ci, co]. */
function nonOverlapping(memory: TensorMemory, g: ConvGeometry, dy: TensorInfo, filter: TensorInfo): TensorInfo {
  const { inChannels: cin, outChannels: cout, filterHeight: kh, filterWidth: kw } = g;
  const taps = kh * kw;
  const pixels = g.batch * g.outHeight * g.outWidth;
  const wt = memory.alloc([cout, taps * cin], false); // [Cout, (t, Cin)]
  {
    const w = memory.view(filter);
    const wtv = memory.view(wt);
    const rows = taps * cin;
    for (let r = 0; r < rows; r++) {
      for (let co = 0; co < cout; co++) wtv[co * rows + r] = w[r * cout + co];
    }
  }
  const y = matMul(memory, withShape(dy, [pixels, cout]), wt); // [pixels, (t, Cin)]
  memory.release(wt);
  const out = memory.alloc([g.batch, g.inHeight, g.inWidth, cin], false);
  const yv = memory.view(y);
  const dx = memory.view(out);
  let p = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++, p++) {
        for (let a = 0; a < kh; a++) {
          const rowBase = (n * g.inHeight + oy * kh + a) * g.inWidth + ox * kw;
          for (let b = 0; b < kw; b++) {
            const from = (p * taps + a * kw + b) * cin;
            dx.set(yv.subarray(from, from + cin), (rowBase + b) * cin);
          }
        }
      }
    }
  }
  memory.release(y);
  return out;
}

/**
 * Rewrite 2 (stride 1): dx = conv2d(dy, flip(w)ᵀ) with padding (K − 1 − pad) before and
 * the remainder after; null when the forward padding exceeds the filter extent.
 */
function flippedConv(memory: TensorMemory, g: ConvGeometry, dy: TensorInfo, filter: TensorInfo): TensorInfo | null {
  const { inChannels: cin, outChannels: cout, filterHeight: kh, filterWidth: kw } = g;
  const top = kh - 1 - g.padTop;
  const left = kw - 1 - g.padLeft;
  const bottom = g.inHeight - g.outHeight + kh - 1 - top;
  const right = g.inWidth - g.outWidth + kw - 1 - left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  const flipped = memory.alloc([kh, kw, cout, cin], false);
  {
    const w = memory.view(filter);
    const f = memory.view(flipped);
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const src = (a * kw + b) * cin * cout;
        const dst = ((kh - 1 - a) * kw + (kw - 1 - b)) * cout * cin;
        for (let ci = 0; ci < cin; ci++) {
          for (let co = 0; co < cout; co++) f[dst + co * cin + ci] = w[src + ci * cout + co];
        }
      }
    }
  }
  const dx = runKernel(
    memory,
    'Conv2D',
    { x: dy, filter: flipped },
    conv2dAttrs([
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]),
  );
  memory.release(flipped);
  return dx;
}

/** Rewrite 3: per phase, dx[rows] = gather(dy) [rows, taps·Cout] · w_phase [taps·Cout, Cin]. */
function byPhases(
  memory: TensorMemory,
  g: ConvGeometry,
  dy: TensorInfo,
  filter: TensorInfo,
  blockFloats: number,
): TensorInfo {
  const { inChannels: cin, outChannels: cout } = g;
  const out = memory.alloc([g.batch, g.inHeight, g.inWidth, cin], false); // every row is written below
  for (const phase of inputPhases(g)) {
    const nTaps = phase.taps.length;
    const rowCount = phase.rows.length;
    if (nTaps === 0) {
      const dx = memory.view(out);
      for (let r = 0; r < rowCount; r++) dx.fill(0, phase.rows[r] * cin, (phase.rows[r] + 1) * cin);
      continue;
    }
    const depth = nTaps * cout;
    const wp = memory.alloc([depth, cin], false); // [(tap, Cout), Cin]
    {
      const w = memory.view(filter);
      const wpv = memory.view(wp);
      for (let j = 0; j < nTaps; j++) {
        const tapBase = phase.taps[j] * cin * cout;
        for (let co = 0; co < cout; co++) {
          const dst = (j * cout + co) * cin;
          for (let ci = 0; ci < cin; ci++) wpv[dst + ci] = w[tapBase + ci * cout + co];
        }
      }
    }
    const rowsPerBlock = Math.max(1, Math.floor(blockFloats / depth));
    for (let r0 = 0; r0 < rowCount; r0 += rowsPerBlock) {
      const count = Math.min(rowsPerBlock, rowCount - r0);
      const gathered = memory.alloc([count, depth], false);
      {
        const dyv = memory.view(dy);
        const gv = memory.view(gathered);
        for (let r = 0; r < count; r++) {
          for (let j = 0; j < nTaps; j++) {
            const s = phase.sources[(r0 + r) * nTaps + j];
            const d = (r * nTaps + j) * cout;
            if (s < 0) gv.fill(0, d, d + cout);
            else gv.set(dyv.subarray(s * cout, (s + 1) * cout), d);
          }
        }
      }
      const y = matMul(memory, gathered, wp); // [count, Cin]
      memory.release(gathered);
      const yv = memory.view(y);
      const dx = memory.view(out);
      for (let r = 0; r < count; r++) dx.set(yv.subarray(r * cin, (r + 1) * cin), phase.rows[r0 + r] * cin);
      memory.release(y);
    }
    memory.release(wp);
  }
  return out;
}

/** Conv2DBackpropInput for 'wasm' (NHWC natively, NCHW through transposes). */
export const conv2DBackpropInputWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: inputGradientKernel('wasm', (memory, g, dy, filter) => inputGradientWasm(memory, g, dy, filter)),
};
