/**
 * Decoded images of a run, held as bytes in memory or in a file on disk ({@link PixelSource}),
 * and the trainer's `ImageDataset`s over them.
 *
 * Images in memory become `pixelDataset`s (which a feature worker can rebuild); images in a
 * file — large training sets that do not fit in memory, see `pixel-cache.ts` — are read with
 * positioned synchronous reads per batch.
 */

import * as tf from '@tensorflow/tfjs-core';

import { preprocessImages } from '../backbone/preprocess.js';
import { elasticTransformPixels } from '../data/elastic.js';
import { checkIndices } from '../data/image-dataset.js';
import type { ImageDataset } from '../data/image-dataset.js';
import { elasticDataset, pixelDataset } from '../data/pixel-dataset.js';
import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import { openRecordFile } from '../node/record-file.js';

/** Random access to `count` square images of `size × size × channels` bytes. */
export interface PixelSource {
  /** Number of images. */
  readonly count: number;
  /** Side length. */
  readonly size: number;
  /** 3 for RGB images, 1 for masks. */
  readonly channels: 1 | 3;
  /** The images at `indices`, concatenated: `[indices.length, size, size, channels]` bytes. */
  read(indices: readonly number[]): Uint8Array;
  /** Every image's bytes, when the source holds them in memory. */
  readonly bytes?: Uint8Array;
}

/** A {@link PixelSource} over a file; close it when done. */
export interface FilePixelSource extends PixelSource {
  /** Closes the file. Reads after closing throw. */
  close(): void;
}

/** The indices 0 … n − 1. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Images already in memory: `bytes` holds `[count, size, size, channels]`. */
export function memoryPixels(bytes: Uint8Array, count: number, size: number, channels: 1 | 3 = 3): PixelSource {
  const per = size * size * channels;
  if (!Number.isInteger(count) || count < 0 || bytes.length !== count * per) {
    throw new InvalidArgumentError('bytes', `${count}·${size}·${size}·${channels} = ${count * per} bytes`, String(bytes.length));
  }
  return {
    count,
    size,
    channels,
    bytes,
    read(indices) {
      checkIndices(indices, count, 'indices');
      const out = new Uint8Array(indices.length * per);
      indices.forEach((index, n) => out.set(bytes.subarray(index * per, (index + 1) * per), n * per));
      return out;
    },
  };
}

/** The images of `source` at `indices`, renumbered 0 … indices.length − 1. */
export function subsetPixels(source: PixelSource, indices: readonly number[]): PixelSource {
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= source.count) throw new InvalidArgumentError('indices', `integers in [0, ${source.count})`, String(i));
  }
  const map = [...indices];
  return {
    count: map.length,
    size: source.size,
    channels: source.channels,
    read(local) {
      checkIndices(local, map.length, 'indices');
      return source.read(local.map((i) => map[i]));
    },
  };
}

/** `a`'s images followed by `b`'s, in memory. */
export function concatPixels(a: PixelSource, b: PixelSource): PixelSource {
  const per = a.size * a.size * a.channels;
  const bytes = new Uint8Array((a.count + b.count) * per);
  if (a.count > 0) bytes.set(a.read(range(a.count)), 0);
  if (b.count > 0) bytes.set(b.read(range(b.count)), a.count * per);
  return memoryPixels(bytes, a.count + b.count, a.size, a.channels);
}

/** Opens a raw file of `count` images of `size × size × channels` bytes. */
export function filePixels(path: string, count: number, size: number, channels: 1 | 3): FilePixelSource {
  const file = openRecordFile(path, size * size * channels, count);
  return {
    count,
    size,
    channels,
    read(indices) {
      checkIndices(indices, count, 'indices');
      return file.read(indices);
    },
    close: () => file.close(),
  };
}

/** Raw RGB bytes `[n, size, size, 3]` → preprocessed backbone input `[n, size, size, 3]`. */
export function bytesToInput(bytes: Uint8Array | Float32Array, n: number, size: number): tf.Tensor4D {
  const data = bytes instanceof Float32Array ? bytes : Float32Array.from(bytes);
  return tf.tidy(() => preprocessImages(tf.tensor4d(data, [n, size, size, 3], 'float32'), { size }));
}

function checkRgb(source: PixelSource): void {
  if (source.channels !== 3) throw new InvalidArgumentError('source', 'RGB images (3 channels)', `${source.channels} channel(s)`);
}

/**
 * The trainer's dataset of the fixed images of `source`: a `pixelDataset` (with a recipe for
 * the feature worker) when they are in memory, else batches read from the source.
 */
export function sourceDataset(source: PixelSource): ImageDataset {
  checkRgb(source);
  if (source.bytes !== undefined && source.count > 0) return pixelDataset({ images: source.bytes, count: source.count, size: source.size });
  return {
    size: source.count,
    random: false, // fixed images: the trainer caches their features without probing
    batch(indices) {
      return bytesToInput(source.read(indices), indices.length, source.size);
    },
  };
}

/**
 * The industrial setting's labelled anomalies (§5 of docs/reference-implementation.md):
 * image i is a fresh elastic transformation (alpha 200, sigma 5, rounded as for PIL images)
 * of normal image i on every call. In memory it is an `elasticDataset` (a feature worker
 * draws from its own generator seeded alike); over a file, batches are read and warped here.
 */
export function elasticSourceDataset(source: PixelSource, seed: number): ImageDataset {
  checkRgb(source);
  if (source.bytes !== undefined && source.count > 0) return elasticDataset({ images: source.bytes, count: source.count, size: source.size }, { seed });
  const rng = new Rng(seed);
  const s = source.size;
  return {
    size: source.count,
    random: true, // a fresh anomaly per draw: never cached
    batch(indices) {
      const warped = elasticTransformPixels(source.read(indices), [indices.length, s, s, 3], rng, { round: true });
      return bytesToInput(warped, indices.length, s);
    },
  };
}

/** Fixed elastic transformations of every image of `source` (validation anomalies: drawn once). */
export function elasticCopies(source: PixelSource, seed: number): PixelSource {
  const s = source.size;
  const warped = elasticTransformPixels(source.read(range(source.count)), [source.count, s, s, 3], new Rng(seed), { round: true });
  const bytes = new Uint8Array(warped.length);
  for (let i = 0; i < warped.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(warped[i])));
  return memoryPixels(bytes, source.count, s, 3);
}
