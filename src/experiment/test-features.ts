/**
 * The frozen backbone's features of a test set, computed once and kept on disk for every run
 * of a grid that tests on the same images with the same backbone. On Fashion-MNIST every run
 * tests on the same 10,000 images, and extracting their features is about half the cost of
 * scoring them; with the cache each run only runs its own auto-encoder.
 *
 * The cache file is named by a SHA-256 of the backbone's identity (architecture, layers,
 * weights hash or random seed) and of the test pixels themselves, so a different test set or
 * backbone can never read stale features. Features are stored as float32 — the scores are the
 * same as scoring the images directly — image after image, each image's layers one after the
 * other. The file is written to a temporary name and renamed when complete.
 */

import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import type { FeatureExtractor } from '../backbone/extractor.js';
import { temporarySibling } from '../node/atomic.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { abortedError, bytesToInput } from './pixels.js';
import type { PixelSource } from './pixels.js';

/** Random access to a test set's backbone features. */
export interface TestFeatures {
  /** Path of the cache file. */
  readonly path: string;
  /** Whether this call computed the features (false: they were read from an earlier run's file). */
  readonly computed: boolean;
  /** [h, w, C] of each layer's map, shallow → deep. */
  readonly shapes: readonly [number, number, number][];
  /** The maps of the images at `indices`, one [indices.length, h, w, C] tensor per layer (the caller disposes them). */
  read(indices: readonly number[]): tf.Tensor4D[];
  /** Closes the file. */
  close(): void;
}

/** Options of {@link openTestFeatures}. */
export interface TestFeatureOptions {
  /** Folder of the cache files (created if missing). */
  dir: string;
  /**
   * Identity of the backbone, e.g. JSON of its architecture, layers and weights SHA-256 (or
   * random seed): part of the file name.
   */
  backboneKey: string;
  /** Images per extraction batch when the features are computed. Default 32. */
  batchSize?: number;
  /** Stops the extraction between batches (throws the runner's aborted error). */
  signal?: AbortSignal;
}

/** SHA-256 (hex) of the backbone key and every test image's bytes. */
export function testFeatureKey(backboneKey: string, pixels: PixelSource): string {
  const hash = createHash('sha256').update(`${backboneKey}\n${pixels.count}:${pixels.size}:${pixels.channels}\n`);
  const chunk = 256;
  for (let start = 0; start < pixels.count; start += chunk) {
    const indices = Array.from({ length: Math.min(chunk, pixels.count - start) }, (_, i) => start + i);
    hash.update(pixels.read(indices));
  }
  return hash.digest('hex');
}

/** [h, w, C] of each map the extractor gives for size × size images. */
function mapShapes(extractor: FeatureExtractor, size: number): [number, number, number][] {
  return tf.tidy(() => extractor.extract(tf.zeros([1, size, size, 3]) as tf.Tensor4D).map((m) => [m.shape[1], m.shape[2], m.shape[3]] as [number, number, number]));
}

/**
 * Opens the feature cache of `pixels` (RGB test images) under `options.dir`, computing and
 * writing it first when no complete file exists.
 *
 * @example
 * ```ts
 * const features = await openTestFeatures(extractor, test.pixels, { dir: 'results/fm/cache', backboneKey });
 * const maps = features.read([0, 1, 2]); // one [3, h, w, C] tensor per layer
 * ```
 * @throws InvalidArgumentError if `pixels` is not RGB or empty; FileFormatError if an
 *   existing cache file has the wrong size (delete it to recompute).
 */
export async function openTestFeatures(extractor: FeatureExtractor, pixels: PixelSource, options: TestFeatureOptions): Promise<TestFeatures> {
  if (pixels.channels !== 3 || pixels.count < 1) {
    throw new InvalidArgumentError('pixels', 'at least one RGB test image', `${pixels.count} image(s) of ${pixels.channels} channel(s)`);
  }
  const { dir, backboneKey, batchSize = 32, signal } = options;
  const shapes = mapShapes(extractor, pixels.size);
  const sizes = shapes.map(([h, w, c]) => h * w * c);
  const perImage = sizes.reduce((a, b) => a + b, 0);
  const bytes = pixels.count * perImage * 4;
  const path = join(dir, `test-features-${testFeatureKey(backboneKey, pixels).slice(0, 32)}.f32`);

  let computed = false;
  const existing = (() => {
    try {
      return statSync(path).size;
    } catch {
      return null;
    }
  })();
  if (existing !== null && existing !== bytes) {
    throw new FileFormatError(path, `${existing} bytes, expected ${bytes} (${pixels.count} images × ${perImage} float32): delete the file to recompute it`);
  }
  if (existing === null) {
    await mkdir(dir, { recursive: true });
    const temporary = await temporarySibling(path);
    const file = await open(temporary, 'w');
    try {
      for (let start = 0; start < pixels.count; start += batchSize) {
        if (signal?.aborted) throw abortedError();
        const n = Math.min(batchSize, pixels.count - start);
        const indices = Array.from({ length: n }, (_, i) => start + i);
        const input = bytesToInput(pixels.read(indices), n, pixels.size);
        const maps = tf.tidy(() => extractor.extract(input));
        input.dispose();
        const data = await Promise.all(maps.map((m) => m.data() as Promise<Float32Array>));
        tf.dispose(maps);
        // Interleave per image: image i's layers one after the other.
        const out = new Float32Array(n * perImage);
        for (let i = 0; i < n; i++) {
          let offset = i * perImage;
          data.forEach((layer, l) => {
            out.set(layer.subarray(i * sizes[l], (i + 1) * sizes[l]), offset);
            offset += sizes[l];
          });
        }
        await file.write(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      }
      await file.close();
      await rename(temporary, path);
      computed = true;
    } catch (e) {
      await file.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw e;
    }
  }

  let fd: number | null = openSync(path, 'r');
  return {
    path,
    computed,
    shapes,
    read(indices) {
      if (fd === null) throw new InvalidArgumentError('features', 'an open test-feature cache', 'a closed one');
      const n = indices.length;
      const raw = new Float32Array(n * perImage);
      const view = new Uint8Array(raw.buffer);
      const contiguous = indices.every((v, i) => i === 0 || v === indices[i - 1] + 1);
      indices.forEach((index, i) => {
        if (!Number.isInteger(index) || index < 0 || index >= pixels.count) {
          throw new InvalidArgumentError('indices', `integers in [0, ${pixels.count})`, String(index));
        }
        if (!contiguous) readSync(fd as number, view, i * perImage * 4, perImage * 4, index * perImage * 4);
      });
      if (contiguous && n > 0) readSync(fd, view, 0, n * perImage * 4, indices[0] * perImage * 4);
      let offset = 0;
      return shapes.map(([h, w, c], l) => {
        const layer = new Float32Array(n * sizes[l]);
        for (let i = 0; i < n; i++) layer.set(raw.subarray(i * perImage + offset, i * perImage + offset + sizes[l]), i * sizes[l]);
        offset += sizes[l];
        return tf.tensor4d(layer, [n, h, w, c]);
      });
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
