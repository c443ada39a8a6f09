/**
 * {@link ImageDataset}s (the trainer's random-access input) backed by decoded 8-bit pixels
 * rather than float tensors — a quarter of the memory — and the elastic-anomaly dataset of
 * the industrial setting (docs/reference-implementation.md §5), which synthesises a fresh anomaly every time an image
 * is asked for.
 */

import * as tf from '@tensorflow/tfjs-core';
import { preprocessImages } from '../backbone/preprocess.js';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import { checkIndices, drawRng, type ImageDataset, type PixelStack } from './image-dataset.js';
import { elasticTransformPixels, type ElasticOptions } from './elastic.js';

export type { PixelStack };

function checkStack(stack: PixelStack): void {
  const { images, count, size } = stack ?? ({} as PixelStack);
  if (!(images instanceof Uint8Array) || !Number.isInteger(count) || count < 1 || !Number.isInteger(size) || size < 1 || images.length !== count * size * size * 3) {
    throw new InvalidArgumentError('pixels', '{ images: Uint8Array of count·size·size·3 bytes, count ≥ 1, size ≥ 1 }');
  }
}

/** Gather the selected images into a float32 buffer `[indices.length, size, size, 3]`. */
function gather(stack: PixelStack, indices: readonly number[]): Float32Array {
  const per = stack.size * stack.size * 3;
  const out = new Float32Array(indices.length * per);
  indices.forEach((index, n) => {
    const src = stack.images.subarray(index * per, (index + 1) * per);
    for (let i = 0; i < per; i++) out[n * per + i] = src[i];
  });
  return out;
}

/** Preprocessed tensor from raw float pixels. */
function toInput(data: Float32Array, n: number, size: number): tf.Tensor4D {
  return tf.tidy(() => preprocessImages(tf.tensor4d(data, [n, size, size, 3], 'float32'), { size }));
}

/**
 * An {@link ImageDataset} over decoded pixels (e.g. `loadImages(...).batch`): each
 * `batch(indices)` converts the selected images to preprocessed backbone input. The
 * dataset keeps a reference to `stack.images`. It is marked non-random and carries a
 * recipe, so the trainer caches its features and may read it in its feature worker.
 *
 * @example
 * ```ts
 * const { batch } = await loadImages(split.normal, { size: 256 });
 * const normal = pixelDataset(batch);
 * ```
 */
export function pixelDataset(stack: PixelStack): ImageDataset {
  checkStack(stack);
  return {
    size: stack.count,
    // Fixed images: the trainer caches their features without probing, and can rebuild the
    // dataset in its feature worker from the recipe.
    random: false,
    recipe: { kind: 'pixels', stack },
    batch(indices: readonly number[]): tf.Tensor4D {
      checkIndices(indices, stack.count, 'indices');
      return toInput(gather(stack, indices), indices.length, stack.size);
    },
  };
}

/**
 * The labelled-anomaly dataset of the industrial setting: image i is an elastic
 * transformation of normal image i, drawn afresh on every `batch` call (alpha 200,
 * sigma 5, fill 0 and uint8 rounding by default — the reference applies torchvision's
 * `ElasticTransform(alpha=200)` to PIL images). It is marked random (never cached) and
 * carries a recipe for the trainer's feature worker.
 *
 * A draw with a key (training passes the step number) takes its fields from
 * `drawRng(seed, key)`: the same indices and key give the same anomalies on any thread and
 * after a resume. A draw without a key takes them from the dataset's own running generator
 * (seeded with `seed`).
 *
 * @example
 * ```ts
 * const anomalies = elasticDataset(batch, { seed: 0 });
 * const a = anomalies.batch([0, 1, 2]);    // [3, 256, 256, 3], new fields each call
 * const b = anomalies.batch([0, 1, 2], 7); // the fields of draw 7: the same every time
 * ```
 */
export function elasticDataset(stack: PixelStack, options: ElasticOptions & { seed?: number } = {}): ImageDataset {
  checkStack(stack);
  const { seed = 0, ...elastic } = options;
  const rng = new Rng(seed);
  const settings: ElasticOptions = { round: true, ...elastic };
  return {
    size: stack.count,
    // A fresh anomaly per draw: never cached; keyed draws are the same in a feature worker.
    random: true,
    recipe: { kind: 'elastic', stack, options: { seed, ...elastic } },
    batch(indices: readonly number[], key?: number): tf.Tensor4D {
      checkIndices(indices, stack.count, 'indices');
      const draw = key === undefined ? rng : drawRng(seed, key);
      const raw = gather(stack, indices);
      const warped = elasticTransformPixels(raw, [indices.length, stack.size, stack.size, 3], draw, settings);
      return toInput(warped, indices.length, stack.size);
    },
  };
}
