/**
 * Elastic anomalies (docs/reference-implementation.md §5): for datasets without anomalous training images (MVTec AD,
 * VisA) the reference makes its labelled anomalies by applying torchvision's
 * `ElasticTransform(alpha=200)` (sigma = 5, bilinear, fill 0) to each normal training
 * image, with a fresh random field every time an image is drawn.
 *
 * torchvision's semantics, reproduced here per image:
 * 1. two fields dx, dy of shape [H, W] drawn i.i.d. from U(−1, 1);
 * 2. each blurred by a Gaussian of std sigma with kernel size int(8·sigma + 1), made odd
 *    by adding 1 when even (41 for sigma = 5), reflect padding (edge not repeated);
 * 3. scaled by alpha / size into normalised grid units and added to the identity grid of
 *    `grid_sample(align_corners=False)` — a displacement of (blur·alpha/2) pixels;
 * 4. bilinear `grid_sample` with zero padding; with a fill value the result is
 *    `sample(img)·sample(1) + (1 − sample(1))·fill`, so near the border (where part of
 *    the bilinear footprint falls outside) pixels are attenuated towards the fill value;
 * 5. PIL inputs come back as uint8 after rounding (half to even) — `round: true`.
 *
 * Difference: torchvision scaled the horizontal field by alpha / height and the vertical
 * by alpha / width (pytorch/vision#9299, fixed by #9300); we scale each by its own axis.
 * The two agree on square images, the only ones CKAAD uses. torch's reflect padding fails
 * for images smaller than the kernel radius; we keep reflecting (periodic mirror). Random numbers come from ckaad's
 * seeded {@link Rng}, not torch's generator, so fields are equal in distribution only.
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';

/** Options of the elastic transform. */
export interface ElasticOptions {
  /** Displacement magnitude; default 200 (the reference's value). */
  alpha?: number;
  /** Smoothness: std of the Gaussian blur of the fields, in pixels; default 5. */
  sigma?: number;
  /** Value of pixels sampled from outside the image; default 0. */
  fill?: number;
  /** Round results half-to-even, as torchvision does for uint8 (PIL) images; default false. */
  round?: boolean;
}

/** A displacement field in pixels: sample pixel (y + dy, x + dx) for output pixel (y, x). */
export interface Displacement {
  /** Horizontal displacement `[H, W]`, row-major, in pixels. */
  dx: Float32Array;
  /** Vertical displacement `[H, W]`, row-major, in pixels. */
  dy: Float32Array;
  height: number;
  width: number;
}

/** Kernel size torchvision uses for a Gaussian of std `sigma`: int(8σ + 1), made odd. */
export function elasticKernelSize(sigma: number): number {
  const k = Math.trunc(8 * sigma + 1);
  return k % 2 === 0 ? k + 1 : k;
}

/** Normalised 1-D Gaussian kernel on the integer offsets −(k−1)/2 … (k−1)/2. */
function gaussianKernel(size: number, sigma: number): Float64Array {
  const half = (size - 1) / 2;
  const k = new Float64Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = (i - half) / sigma;
    k[i] = Math.exp(-0.5 * x * x);
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

/** Reflect an index into [0, n) without repeating the edge (torch's 'reflect' padding). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/** Separable Gaussian blur of an [H, W] field with reflect padding, in place. */
function blurField(field: Float64Array, h: number, w: number, kernel: Float64Array): void {
  const r = (kernel.length - 1) / 2;
  const tmp = new Float64Array(field.length);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let t = -r; t <= r; t++) acc += kernel[t + r] * field[row + reflect(x + t, w)];
      tmp[row + x] = acc;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let t = -r; t <= r; t++) acc += kernel[t + r] * tmp[reflect(y + t, h) * w + x];
      field[y * w + x] = acc;
    }
  }
}

function checkOptions(o: ElasticOptions): Required<ElasticOptions> {
  const { alpha = 200, sigma = 5, fill = 0, round = false } = o;
  if (!(Number.isFinite(alpha) && alpha >= 0)) throw new InvalidArgumentError('options.alpha', 'a finite number ≥ 0', String(alpha));
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new InvalidArgumentError('options.sigma', 'a finite number ≥ 0', String(sigma));
  if (!Number.isFinite(fill)) throw new InvalidArgumentError('options.fill', 'a finite number', String(fill));
  return { alpha, sigma, fill, round };
}

/**
 * Draw one random displacement field (steps 1–3 of the module notes), in pixels.
 *
 * @param rng advanced by 2·H·W uniforms.
 */
export function elasticDisplacement(height: number, width: number, rng: Rng, options: ElasticOptions = {}): Displacement {
  const { alpha, sigma } = checkOptions(options);
  if (!Number.isInteger(height) || height < 1 || !Number.isInteger(width) || width < 1) {
    throw new InvalidArgumentError('height/width', 'positive integers', `${height}×${width}`);
  }
  const n = height * width;
  const kernel = sigma > 0 ? gaussianKernel(elasticKernelSize(sigma), sigma) : null;
  const field = (): Float64Array => {
    const f = new Float64Array(n);
    for (let i = 0; i < n; i++) f[i] = rng.next() * 2 - 1;
    if (kernel) blurField(f, height, width, kernel);
    return f;
  };
  // Normalised displacement d·alpha/size moves by d·alpha/size · size/2 = d·alpha/2 pixels.
  const fx = field();
  const fy = field();
  const dx = new Float32Array(n);
  const dy = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    dx[i] = (fx[i] * alpha) / 2;
    dy[i] = (fy[i] * alpha) / 2;
  }
  return { dx, dy, height, width };
}

/** Round half to even (torch.round). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Warp one image `[H, W, C]` by a displacement (step 4–5 of the module notes), writing
 * into `out` at `offset`.
 */
export function applyDisplacement(
  image: ArrayLike<number>,
  channels: number,
  d: Displacement,
  out: Float32Array,
  offset = 0,
  options: Pick<ElasticOptions, 'fill' | 'round'> = {},
): void {
  const { height: h, width: w, dx, dy } = d;
  const fill = options.fill ?? 0;
  const round = options.round ?? false;
  const c = channels;
  const acc = new Float64Array(c);
  let coverage = 0;
  // Add neighbour (xx, yy) with weight wt; neighbours outside the image read zero.
  const add = (xx: number, yy: number, wt: number): void => {
    if (wt === 0 || xx < 0 || xx >= w || yy < 0 || yy >= h) return;
    coverage += wt;
    const q = (yy * w + xx) * c;
    for (let ch = 0; ch < c; ch++) acc[ch] += wt * image[q + ch];
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const sx = x + dx[p];
      const sy = y + dy[p];
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      acc.fill(0);
      coverage = 0;
      add(x0, y0, (1 - fx) * (1 - fy));
      add(x0 + 1, y0, fx * (1 - fy));
      add(x0, y0 + 1, (1 - fx) * fy);
      add(x0 + 1, y0 + 1, fx * fy);
      for (let ch = 0; ch < c; ch++) {
        const v = acc[ch] * coverage + (1 - coverage) * fill;
        out[offset + p * c + ch] = round ? roundEven(v) : v;
      }
    }
  }
}

/**
 * Elastic transformation of a stack of images held as numbers `[N, H, W, C]`, with a
 * fresh field per image drawn from `rng`.
 *
 * @returns a new Float32Array of the same length.
 */
export function elasticTransformPixels(
  images: Float32Array | Uint8Array,
  shape: readonly [number, number, number, number],
  rng: Rng,
  options: ElasticOptions = {},
): Float32Array {
  const o = checkOptions(options);
  const [n, h, w, c] = shape;
  if (![n, h, w, c].every((v) => Number.isInteger(v) && v >= 1) || images.length !== n * h * w * c) {
    throw new InvalidArgumentError('shape', `[N, H, W, C] of positive integers with product ${images.length}`, `[${shape.join(', ')}]`);
  }
  const out = new Float32Array(images.length);
  const per = h * w * c;
  for (let i = 0; i < n; i++) {
    const d = elasticDisplacement(h, w, rng, o);
    applyDisplacement(images.subarray(i * per, (i + 1) * per), c, d, out, i * per, o);
  }
  return out;
}

/**
 * Elastic transformation of `[N, H, W, C]` images (apply it to raw 0…255 pixels, before
 * ImageNet normalisation, as the reference does — then `fill: 0` is black). Each image
 * gets its own field from `rng`, so successive calls give fresh anomalies.
 *
 * @returns a new float32 tensor of the same shape (caller disposes); `images` is not disposed.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const anomalies = elasticTransform(pixelsToTensor(batch.images, batch.count, 256), rng, { round: true });
 * ```
 */
export function elasticTransform(images: tf.Tensor4D, rng: Rng, options: ElasticOptions = {}): tf.Tensor4D {
  if (!(images instanceof tf.Tensor) || images.rank !== 4) {
    throw new InvalidArgumentError('images', 'a rank-4 tensor [N, H, W, C]', images instanceof tf.Tensor ? `rank ${images.rank}` : typeof images);
  }
  if (!(rng instanceof Rng)) throw new InvalidArgumentError('rng', 'an Rng', typeof rng);
  const shape = images.shape as [number, number, number, number];
  const data = images.dtype === 'float32' ? (images.dataSync() as Float32Array) : Float32Array.from(images.dataSync());
  return tf.tensor4d(elasticTransformPixels(data, shape, rng, options), shape, 'float32');
}

/**
 * A seeded source of elastic anomalies: every {@link ElasticAnomalies.apply} call draws
 * new fields, and the sequence is reproducible from the seed.
 *
 * @example
 * ```ts
 * const elastic = new ElasticAnomalies({ seed: 3 });   // alpha 200, sigma 5, fill 0
 * const a1 = elastic.apply(normalPixels);  // [N, H, W, 3]
 * const a2 = elastic.apply(normalPixels);  // different fields
 * ```
 */
export class ElasticAnomalies {
  /** The options in effect (defaults filled in). */
  readonly options: Required<ElasticOptions>;
  private readonly rng: Rng;

  constructor(options: ElasticOptions & { seed?: number } = {}) {
    const { seed = 0, ...rest } = options;
    this.options = checkOptions(rest);
    this.rng = new Rng(seed);
  }

  /** Transform a batch `[N, H, W, C]` with fresh fields; returns a new tensor (caller disposes). */
  apply(images: tf.Tensor4D): tf.Tensor4D {
    return elasticTransform(images, this.rng, this.options);
  }
}
