/**
 * Gaussian smoothing of anomaly maps with the semantics of
 * `scipy.ndimage.gaussian_filter(map, sigma)`, which the authors apply to every summed map
 * (paper eq. 14, σ = 4):
 *
 * - kernel exp(−x² / 2σ²) on x = −r…r, normalised to sum 1, radius r = int(truncate·σ + 0.5)
 *   (σ = 4, truncate = 4 → r = 16, 33 taps);
 * - mode 'reflect': the map is extended by mirroring about its edge, repeating the edge
 *   sample (d c b a | a b c d | d c b a), periodically as far as needed, so maps smaller
 *   than the radius are handled exactly like scipy does;
 * - separable: one 1-D pass along rows (axis 0 of a map), then one along columns.
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { checkSigma } from '../validate.js';
import { describe } from '../losses/checks.js';

/** scipy skips axes whose sigma is at most this (the filter is then the identity). */
const SIGMA_NEGLIGIBLE = 1e-15;

/** Kernel radius scipy uses: int(truncate·σ + 0.5). */
export function gaussianRadius(sigma: number, truncate = 4): number {
  return Math.floor(truncate * sigma + 0.5);
}

/**
 * Normalised 1-D Gaussian kernel of length 2r + 1 (float64), as scipy's `_gaussian_kernel1d`
 * for order 0.
 */
export function gaussianKernel1d(sigma: number, radius: number): Float64Array {
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    kernel[i + radius] = v;
    total += v;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  return kernel;
}

/**
 * Source index of padded position `i` (may be < 0 or ≥ n) under scipy's 'reflect' mode
 * (= tf.mirrorPad 'symmetric', extended periodically with period 2n).
 */
export function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/** Indices [−r … n − 1 + r] of an axis of length n, reflected into [0, n). */
function paddedIndices(n: number, radius: number): tf.Tensor1D {
  const idx = new Int32Array(n + 2 * radius);
  for (let k = 0; k < idx.length; k++) idx[k] = reflectIndex(k - radius, n);
  return tf.tensor1d(idx, 'int32');
}

/**
 * Smooths each map of a batch like `scipy.ndimage.gaussian_filter(map, sigma, truncate=truncate)`
 * with scipy's default mode 'reflect' (paper eq. 14 uses σ = 4).
 *
 * @param maps - [N, H, W] anomaly maps (any H, W ≥ 1, also smaller than the kernel radius).
 * @param sigma - standard deviation in pixels, ≥ 0 (0 returns a copy, as scipy). Default 4.
 * @param truncate - kernel half-width in standard deviations, > 0. Default 4 (scipy's).
 * @returns [N, H, W] smoothed maps; the caller disposes.
 * @throws InvalidArgumentError if `maps` is not rank 3 with H, W ≥ 1, or sigma / truncate are invalid.
 *
 * @example
 * ```ts
 * const smooth = gaussianBlur(maps);   // σ = 4, 33-tap kernel
 * ```
 */
export function gaussianBlur(maps: tf.Tensor3D, sigma = 4, truncate = 4): tf.Tensor3D {
  if (typeof maps !== 'object' || maps === null || (maps as tf.Tensor).rank !== 3) {
    throw new InvalidArgumentError('maps', 'a rank-3 tensor [N, H, W]', describe(maps));
  }
  const [n, height, width] = maps.shape;
  if (height < 1 || width < 1) {
    throw new InvalidArgumentError('maps', 'maps with H ≥ 1 and W ≥ 1', `shape [${maps.shape.join(', ')}]`);
  }
  checkSigma(sigma, 'sigma');
  if (typeof truncate !== 'number' || !Number.isFinite(truncate) || truncate <= 0) {
    throw new InvalidArgumentError('truncate', 'a finite number > 0', String(truncate));
  }
  if (sigma <= SIGMA_NEGLIGIBLE || n === 0) return tf.clone(maps);

  const radius = gaussianRadius(sigma, truncate);
  const taps = 2 * radius + 1;
  const weights = Float32Array.from(gaussianKernel1d(sigma, radius));
  return tf.tidy(() => {
    const x = tf.expandDims(maps, 3) as tf.Tensor4D; // [N, H, W, 1]
    // Rows: pad axis 1 by reflection, correlate with a [taps, 1] kernel.
    const rowsPadded = tf.gather(x, paddedIndices(height, radius), 1); // [N, H + 2r, W, 1]
    const rowKernel = tf.tensor4d(weights, [taps, 1, 1, 1]);
    const rows = tf.conv2d(rowsPadded, rowKernel, 1, 'valid'); // [N, H, W, 1]
    // Columns: pad axis 2, correlate with a [1, taps] kernel.
    const colsPadded = tf.gather(rows, paddedIndices(width, radius), 2); // [N, H, W + 2r, 1]
    const colKernel = tf.tensor4d(weights, [1, taps, 1, 1]);
    const cols = tf.conv2d(colsPadded, colKernel, 1, 'valid'); // [N, H, W, 1]
    return tf.squeeze(cols, [3]) as tf.Tensor3D; // [N, H, W]
  });
}
