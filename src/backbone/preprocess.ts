/**
 * Image preprocessing for the ImageNet-trained backbones (docs/reference-implementation.md §1): bilinear resize to a
 * square, scale to [0, 1], normalise with the ImageNet mean and std, grayscale → RGB.
 */

import * as tf from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../errors.js';

/** ImageNet per-channel mean (RGB) used by torchvision's pretrained models. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet per-channel standard deviation (RGB) used by torchvision's pretrained models. */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Options of {@link preprocessImages}. */
export interface PreprocessOptions {
  /** Side of the square output, in pixels. Default 256. */
  size?: number;
}

/**
 * Turns raw images into backbone input.
 *
 * 1. bilinear resize to size × size with half-pixel centres and no antialiasing — the same
 *    numbers as `torch.nn.functional.interpolate(x, (size, size), mode='bilinear', align_corners=False)`;
 * 2. divide by 255;
 * 3. replicate a single (grayscale) channel to RGB;
 * 4. subtract {@link IMAGENET_MEAN} and divide by {@link IMAGENET_STD} per channel.
 *
 * Note: PIL's bilinear resize (used when torchvision transforms run on PIL images) low-pass
 * filters when shrinking, so large images downsampled here differ slightly from a PIL
 * pipeline.
 *
 * @param images [N, H, W, C] with C = 1 (grayscale) or 3 (RGB), values in [0, 255],
 *   int32 (e.g. from `tf.browser.fromPixels`) or float32. Not disposed.
 * @returns [N, size, size, 3] float32 (caller disposes).
 *
 * @example
 * ```ts
 * const x = preprocessImages(tf.tensor4d(pixels, [1, 300, 400, 3], 'int32'));  // [1, 256, 256, 3]
 * const [f2, f3] = extractor.extract(x);
 * ```
 */
export function preprocessImages(images: tf.Tensor4D, options: PreprocessOptions = {}): tf.Tensor4D {
  const size = options.size ?? 256;
  if (!Number.isInteger(size) || size < 1) {
    throw new InvalidArgumentError('options.size', 'a positive integer', String(size));
  }
  if (!(images instanceof tf.Tensor) || images.rank !== 4) {
    const found = images instanceof tf.Tensor ? `rank ${images.rank} [${images.shape.join(', ')}]` : typeof images;
    throw new InvalidArgumentError('images', 'a rank-4 tensor [N, H, W, C]', found);
  }
  const [n, h, w, c] = images.shape;
  if (c !== 1 && c !== 3) throw new InvalidArgumentError('images', '1 (grayscale) or 3 (RGB) channels in [N, H, W, C]', `[${images.shape.join(', ')}]`);
  if (n < 1 || h < 1 || w < 1) throw new InvalidArgumentError('images', 'a non-empty batch of images of at least 1×1 pixels', `[${images.shape.join(', ')}]`);
  if (images.dtype !== 'float32' && images.dtype !== 'int32') {
    throw new InvalidArgumentError('images', 'dtype int32 or float32 with values in [0, 255]', images.dtype);
  }
  return tf.tidy(() => {
    const x = tf.cast(images, 'float32'); // [N, H, W, C]
    const resized = tf.image.resizeBilinear(x, [size, size], false, true); // [N, size, size, C]
    const scaled = tf.div(resized, 255);
    const rgb = c === 1 ? tf.tile(scaled, [1, 1, 1, 3]) : scaled; // [N, size, size, 3]
    const mean = tf.tensor1d([...IMAGENET_MEAN]);
    const std = tf.tensor1d([...IMAGENET_STD]);
    return tf.div(tf.sub(rgb, mean), std) as tf.Tensor4D;
  });
}
