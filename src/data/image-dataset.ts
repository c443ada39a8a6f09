/**
 * Random-access image datasets, the one way images enter training and validation.
 *
 * An {@link ImageDataset} hands out batches of already preprocessed images (see
 * `preprocessImages`: resized, scaled, ImageNet-normalised, `[n, H, W, 3]`) by index. The
 * trainer only ever asks for the indices of one batch at a time, so a dataset can keep its
 * images in memory ({@link tensorDataset}), read them from disk, or synthesise them per
 * request (elastic anomalies) behind the same two members. Two optional members tell the
 * trainer more: whether a dataset is `random` (its features cannot be cached) and a
 * `recipe` to rebuild it in a worker thread.
 *
 * Random datasets and exact resume: the trainer passes every draw a *draw key* (the number of
 * the training step it is for). A random dataset derives the randomness of a keyed draw from
 * its seed and the key alone ({@link drawRng}), never from a generator that runs on from call
 * to call: then the main thread and a feature worker draw the same images for the same step,
 * and a run resumed from a checkpoint draws exactly what the uninterrupted run drew.
 */

import * as tf from '@tensorflow/tfjs-core';

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { Rng } from '../nn/random.js';
import type { ElasticOptions } from './elastic.js';

/**
 * A random-access collection of preprocessed images.
 *
 * @example
 * ```ts
 * const data: ImageDataset = tensorDataset(preprocessImages(raw, { size: 256 }));
 * const batch = data.batch([3, 0, 7]); // [3, 256, 256, 3]
 * batch.dispose();
 * ```
 */
export interface ImageDataset {
  /** Number of images. */
  readonly size: number;
  /**
   * The images at `indices`, in that order, preprocessed: `[indices.length, H, W, 3]`.
   * Every call returns a new tensor the caller disposes. All batches of one dataset have the
   * same H and W.
   *
   * `key` (training passes one: the step number, an integer ≥ 0) identifies the draw. A
   * random dataset must give the same images for the same indices and key — derive the draw's
   * randomness from the seed and the key, e.g. with {@link drawRng} — so that training is
   * reproducible across threads and resumes exactly; without a key it may draw from a running
   * generator. Fixed datasets ignore the key.
   */
  batch(indices: readonly number[], key?: number): tf.Tensor4D;
  /**
   * True when `batch` draws new images on every call (e.g. elastic anomalies), false when
   * the same indices always give the same images. The trainer caches the features of
   * non-random datasets only. Optional: when absent, the trainer finds out by drawing
   * image 0 twice (without a key).
   */
  readonly random?: boolean;
  /**
   * How to rebuild this dataset in a worker thread (plain data, see {@link DatasetRecipe}).
   * Optional: datasets with a recipe can be read and run through the backbone on a second
   * core while the main thread trains (`TrainerOptions.worker`).
   */
  readonly recipe?: DatasetRecipe;
}

/** A labelled held-out split for model selection (never the test set). */
export interface ValidationSet {
  /** The validation images. */
  readonly images: ImageDataset;
  /** One label per image: 0 = normal, 1 = anomalous. Both classes must occur. */
  readonly labels: Uint8Array;
}

/**
 * An {@link ImageDataset} over images already in memory. The dataset does not own the
 * tensor: it stays valid only while `images` is, and the caller disposes it.
 *
 * @param images Preprocessed images `[N, H, W, 3]`.
 * @throws InvalidArgumentError if `images` is not a float32 4-D tensor with 3 channels.
 */
export function tensorDataset(images: tf.Tensor4D): ImageDataset {
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== 3) {
    throw new InvalidArgumentError(
      'images',
      'a preprocessed float32 tensor [N, H, W, 3]',
      images instanceof tf.Tensor ? `shape [${images.shape.join(', ')}]` : typeof images,
    );
  }
  if (images.dtype !== 'float32') {
    throw new InvalidArgumentError('images', 'dtype float32 (preprocessed images)', images.dtype);
  }
  const size = images.shape[0];
  return {
    size,
    random: false,
    batch(indices: readonly number[]): tf.Tensor4D {
      checkIndices(indices, size, 'indices');
      return tf.tidy(() => tf.gather(images, tf.tensor1d(Array.from(indices), 'int32')));
    },
  };
}

/**
 * The generator of one keyed draw of a random dataset: a function of `seed` and `key` alone
 * (a hash of the two seeds a fresh {@link Rng}), so that a draw can be repeated anywhere —
 * in a feature worker, or after resuming from a checkpoint.
 *
 * @param seed The dataset's seed (a safe integer).
 * @param key The draw key (an integer in [0, 2^53)); training uses the step number.
 * @throws InvalidArgumentError naming `key` when it is not such an integer.
 *
 * @example
 * ```ts
 * const rng = drawRng(seed, key); // the same numbers for the same (seed, key), on any thread
 * ```
 */
export function drawRng(seed: number, key: number): Rng {
  if (!Number.isSafeInteger(key) || key < 0) throw new InvalidArgumentError('key', 'an integer ≥ 0 (the draw key, e.g. the step number)', String(key));
  if (!Number.isSafeInteger(seed)) throw new InvalidArgumentError('seed', 'a safe integer', String(seed));
  // Two independent 32-bit hashes of (seed, key), joined into a 53-bit seed.
  const words = [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, key >>> 0, Math.floor(key / 2 ** 32) >>> 0];
  const hash = (salt: number): number => {
    let h = salt >>> 0;
    for (const w of words) {
      h = Math.imul(h ^ w, 0x85ebca6b) >>> 0;
      h = (h ^ (h >>> 13)) >>> 0;
      h = Math.imul(h, 0xc2b2ae35) >>> 0;
      h = (h ^ (h >>> 16)) >>> 0;
    }
    return h;
  };
  return new Rng(hash(0x9e3779b9) * 2 ** 21 + (hash(0x7f4a7c15) >>> 11));
}

/** Throws unless `indices` is a non-empty list of integers in [0, size). */
export function checkIndices(indices: readonly number[], size: number, name: string): void {
  if (!Array.isArray(indices) || indices.length === 0) {
    throw new InvalidArgumentError(name, 'a non-empty array of image indices');
  }
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= size) {
      throw new InvalidArgumentError(name, `integers in [0, ${size})`, String(i));
    }
  }
}

/**
 * Checks that `dataset` looks like an {@link ImageDataset} with at least `minSize` images
 * and returns the `[H, W]` of its images (read from a one-image batch).
 *
 * @param name How the dataset is called in error messages, e.g. `'data.normal'`.
 */
export function probeImageSize(dataset: ImageDataset, name: string, minSize = 1): [number, number] {
  if (
    typeof dataset !== 'object' ||
    dataset === null ||
    typeof dataset.batch !== 'function' ||
    !Number.isInteger(dataset.size)
  ) {
    throw new InvalidArgumentError(name, 'an ImageDataset { size, batch(indices) }');
  }
  if (dataset.size < minSize) {
    throw new InvalidArgumentError(`${name}.size`, `at least ${minSize} image${minSize === 1 ? '' : 's'}`, String(dataset.size));
  }
  const probe = dataset.batch([0]);
  try {
    if (probe.rank !== 4 || probe.shape[0] !== 1 || probe.shape[3] !== 3) {
      throw new ShapeMismatchError(`${name}.batch([0])`, '[1, H, W, 3]', `[${probe.shape.join(', ')}]`);
    }
    return [probe.shape[1], probe.shape[2]];
  } finally {
    probe.dispose();
  }
}

/** As {@link probeImageSize}, but accepts an empty dataset (returns null for it). */
export function probeImageSizeIfAny(dataset: ImageDataset, name: string): [number, number] | null {
  if (typeof dataset === 'object' && dataset !== null && dataset.size === 0) return null;
  return probeImageSize(dataset, name);
}

/**
 * Whether `dataset` draws new images on every `batch` call: its `random` flag if set, true
 * for an elastic recipe, else found out by drawing image 0 twice and comparing (so a dataset
 * without the flag is probed the same way whatever the trainer's settings, and its random
 * stream stays the same).
 */
export function isRandomDataset(dataset: ImageDataset): boolean {
  if (typeof dataset.random === 'boolean') return dataset.random;
  if (dataset.recipe?.kind === 'elastic') return true;
  const [a, b] = [dataset.batch([0]), dataset.batch([0])];
  try {
    const x = a.dataSync();
    const y = b.dataSync();
    if (x.length !== y.length) return true;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return true;
    return false;
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Decoded RGB images of one size, `count · size · size · 3` bytes, image after image. */
export interface PixelStack {
  images: Uint8Array;
  count: number;
  size: number;
}

/**
 * How to rebuild a dataset in a worker thread, attached to an `ImageDataset` as its
 * `recipe`. The pixel bytes are copied to the worker once.
 *
 * - `pixels`: `pixelDataset(stack)` (decoded images, preprocessed per batch);
 * - `elastic`: `elasticDataset(stack, options)` (a fresh elastic anomaly per draw; keyed
 *   draws are the same in the worker as on the main thread, see {@link drawRng}).
 */
export type DatasetRecipe =
  | { kind: 'pixels'; stack: PixelStack }
  | { kind: 'elastic'; stack: PixelStack; options?: ElasticOptions & { seed?: number } };

/** The datasets a worker serves, by the trainer's name for them. */
export type DatasetName = 'normal' | 'anomalies';
