/**
 * The frozen backbone's features of a test set, computed once and kept on disk for every run
 * that tests on the same images with the same backbone. On Fashion-MNIST every run of a grid
 * tests on the same 10,000 images, and extracting their features is about half the cost of
 * scoring them; with the cache each run only runs its own auto-encoder.
 *
 * The cache file is named by a SHA-256 of the backbone's identity (architecture, layers,
 * weights hash or random seed) and of the test pixels themselves, so a different test set or
 * backbone can never read stale features. Features are stored as float32 — the scores are the
 * same as scoring the images directly — one record per image holding its layers one after the
 * other (the layout of the trainer's feature store, `features/cache.ts`). The file is written
 * to a temporary name and renamed when complete (`node/record-file.ts`).
 */

import { statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import type { FeatureExtractor } from '../backbone/extractor.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { openRecordFile, writeRecordFiles } from '../node/record-file.js';
import { sha256Hex } from '../node/sha256.js';
import { abortedError } from './pixel-cache.js';
import { bytesToInput, range } from './pixels.js';
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
  /** Stops the extraction between batches (throws the aborted error). */
  signal?: AbortSignal;
}

/** SHA-256 (hex) of the backbone key and every test image's bytes. */
export function testFeatureKey(backboneKey: string, pixels: PixelSource): string {
  function* parts(): Generator<string | Uint8Array> {
    yield `${backboneKey}\n${pixels.count}:${pixels.size}:${pixels.channels}\n`;
    const chunk = 256;
    for (let start = 0; start < pixels.count; start += chunk) {
      yield pixels.read(range(Math.min(chunk, pixels.count - start)).map((i) => start + i));
    }
  }
  return sha256Hex(parts());
}

/** [h, w, C] of each map the extractor gives for size × size images. */
function mapShapes(extractor: FeatureExtractor, size: number): [number, number, number][] {
  return tf.tidy(() => extractor.extract(tf.zeros([1, size, size, 3]) as tf.Tensor4D).map((m) => [m.shape[1], m.shape[2], m.shape[3]] as [number, number, number]));
}

/** One record per image: the image's maps of every layer, one after the other (float32). */
async function* featureRecords(extractor: FeatureExtractor, pixels: PixelSource, batchSize: number, perImage: number, signal?: AbortSignal): AsyncGenerator<Uint8Array[]> {
  for (let start = 0; start < pixels.count; start += batchSize) {
    if (signal?.aborted) throw abortedError();
    const n = Math.min(batchSize, pixels.count - start);
    const input = bytesToInput(pixels.read(range(n).map((i) => start + i)), n, pixels.size);
    const maps = tf.tidy(() => extractor.extract(input));
    input.dispose();
    const data = await Promise.all(maps.map((m) => m.data() as Promise<Float32Array>));
    tf.dispose(maps);
    const sizes = data.map((layer) => layer.length / n);
    const out = new Float32Array(n * perImage);
    for (let i = 0; i < n; i++) {
      let offset = i * perImage;
      data.forEach((layer, l) => {
        out.set(layer.subarray(i * sizes[l], (i + 1) * sizes[l]), offset);
        offset += sizes[l];
      });
    }
    yield [new Uint8Array(out.buffer, out.byteOffset, out.byteLength)];
  }
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
    await writeRecordFiles([path], featureRecords(extractor, pixels, batchSize, perImage, signal));
  }

  const file = openRecordFile(path, perImage * 4, pixels.count);
  let open = true;
  return {
    path,
    computed: existing === null,
    shapes,
    read(indices) {
      if (!open) throw new InvalidArgumentError('features', 'an open test-feature cache', 'a closed one');
      const n = indices.length;
      const raw = new Float32Array(file.read(indices).buffer);
      let offset = 0;
      return shapes.map(([h, w, c], l) => {
        const layer = new Float32Array(n * sizes[l]);
        for (let i = 0; i < n; i++) layer.set(raw.subarray(i * perImage + offset, i * perImage + offset + sizes[l]), i * sizes[l]);
        offset += sizes[l];
        return tf.tensor4d(layer, [n, h, w, c]);
      });
    },
    close() {
      open = false;
      file.close();
    },
  };
}
