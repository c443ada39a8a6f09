/**
 * Bilinear resizing of 8-bit images, computing exactly what Pillow's
 * `Image.resize(size, Image.BILINEAR)` computes — the resize the CKAAD reference code
 * applies to every image and mask (`PIL.Image.resize((s, s), resample=Image.BILINEAR)`),
 * and what torchvision's `Resize` does to PIL images.
 *
 * Pillow's bilinear filter is a triangle ("tent") filter whose support grows with the
 * downscaling factor, i.e. it antialiases when shrinking (unlike `grid_sample` or
 * OpenCV's `INTER_LINEAR`). It runs two separable passes — horizontal first, rounding to
 * 8 bits in between — with 22-bit fixed-point weights. Every step of that arithmetic is
 * reproduced here, so for the same decoded pixels the output is byte-identical to Pillow.
 */

import { InvalidArgumentError } from '../errors.js';

/** Fixed-point precision of Pillow's 8-bit resampler (32 − 8 − 2 bits). */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS; // 4194304
const HALF = 1 << (PRECISION_BITS - 1);

/** An 8-bit image in row-major HWC layout. */
export interface Uint8Image {
  /** Pixels, `height × width × channels` bytes, row-major, channels interleaved. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Resampling weights of one axis: for each output index, a window of input indices. */
interface AxisCoefficients {
  /** Weights per output index, `ksize` slots each (unused slots are 0), in 2^-22 units. */
  weights: Int32Array;
  /** First input index of each window. */
  start: Int32Array;
  /** Number of input indices in each window. */
  count: Int32Array;
  /** Slots per output index. */
  ksize: number;
}

/** Pillow's bilinear (triangle) filter, support 1. */
function triangle(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

/**
 * Per-axis weights of Pillow's resampler (`precompute_coeffs` + `normalize_coeffs_8bpc`):
 * window centre (i + 0.5)·scale, support scaled by max(scale, 1), weights normalised to sum
 * 1 in double precision, then rounded half away from zero to 22-bit fixed point.
 */
function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the bilinear filter's support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const weights = new Int32Array(outSize * ksize);
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float64Array(ksize);
  const invScale = 1 / filterScale;
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    let sum = 0;
    for (let x = 0; x < n; x++) {
      w[x] = triangle((x + lo - center + 0.5) * invScale);
      sum += w[x];
    }
    for (let x = 0; x < n; x++) {
      const v = sum !== 0 ? w[x] / sum : w[x];
      weights[i * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    start[i] = lo;
    count[i] = n;
  }
  return { weights, start, count, ksize };
}

/** Pillow's `clip8`: drop the fixed-point fraction (floor) and clamp to [0, 255]. */
function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resize an 8-bit image with Pillow's `BILINEAR` filter (antialiased when shrinking).
 * Output is byte-identical to `PIL.Image.resize((width, height), Image.BILINEAR)` applied
 * to the same pixels (modes L and RGB; each channel is filtered independently).
 *
 * @param image source pixels, HWC.
 * @param width output width (≥ 1).
 * @param height output height (≥ 1).
 * @returns a new image with the same channel count.
 *
 * @example
 * ```ts
 * const small = resizeBilinear({ data, width: 1024, height: 1024, channels: 3 }, 256, 256);
 * ```
 */
export function resizeBilinear(image: Uint8Image, width: number, height: number): Uint8Image {
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new InvalidArgumentError(name, 'a positive integer', String(v));
    }
  }
  const { width: inW, height: inH, channels: c } = image;
  if (image.data.length !== inW * inH * c || inW < 1 || inH < 1 || c < 1) {
    throw new InvalidArgumentError(
      'image',
      `width × height × channels = data.length with all ≥ 1`,
      `${inW} × ${inH} × ${c} vs ${image.data.length}`,
    );
  }
  const needH = width !== inW;
  const needV = height !== inH;
  if (!needH && !needV) {
    return { data: image.data.slice(), width, height, channels: c };
  }

  const vert = axisCoefficients(inH, height);
  // Rows of the source that the vertical pass will read.
  const rowFirst = vert.start[0];
  const rowLast = vert.start[height - 1] + vert.count[height - 1];

  // Horizontal pass: [rows, inW, c] → [rows, width, c], rounded to 8 bits as Pillow does.
  let src = image.data;
  let srcW = inW;
  let rowOffset = 0; // index of src's first row in the original image
  if (needH) {
    const hor = axisCoefficients(inW, width);
    const rows = rowLast - rowFirst;
    const tmp = new Uint8Array(rows * width * c);
    const { weights, start, count, ksize } = hor;
    for (let y = 0; y < rows; y++) {
      const inRow = (y + rowFirst) * inW * c;
      const outRow = y * width * c;
      for (let x = 0; x < width; x++) {
        const k0 = x * ksize;
        const x0 = start[x];
        const n = count[x];
        for (let ch = 0; ch < c; ch++) {
          let acc = HALF;
          let p = inRow + x0 * c + ch;
          for (let t = 0; t < n; t++, p += c) acc += image.data[p] * weights[k0 + t];
          tmp[outRow + x * c + ch] = clip8(acc);
        }
      }
    }
    src = tmp;
    srcW = width;
    rowOffset = rowFirst;
  }
  if (!needV) return { data: src, width, height, channels: c };

  // Vertical pass: [rows, width, c] → [height, width, c].
  const out = new Uint8Array(height * srcW * c);
  const { weights, start, count, ksize } = vert;
  const stride = srcW * c;
  for (let y = 0; y < height; y++) {
    const k0 = y * ksize;
    const y0 = start[y] - rowOffset;
    const n = count[y];
    const outRow = y * stride;
    for (let i = 0; i < stride; i++) {
      let acc = HALF;
      let p = y0 * stride + i;
      for (let t = 0; t < n; t++, p += stride) acc += src[p] * weights[k0 + t];
      out[outRow + i] = clip8(acc);
    }
  }
  return { data: out, width, height, channels: c };
}
