/**
 * Decoded images of an experiment, held as bytes in memory or in a file on disk, and the
 * trainer's {@link ImageDataset}s over them.
 *
 * Large training sets (OCT2017 has 83 484 training images: 16 GB of 256×256 RGB bytes) do not
 * fit in memory, and `ImageDataset.batch` is synchronous, so file data sets are decoded once
 * into a raw byte file (`<resultsDir>/cache/<key>.rgb`, plus `.mask` for test masks) and
 * batches are read from it with positioned synchronous reads. The cache is keyed by the list
 * of source files and the image size; it is written to a temporary name and renamed, and its
 * `.json` sidecar (written last) marks it as complete.
 */

import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { preprocessImages } from '../backbone/preprocess.js';
import { elasticTransformPixels } from '../data/elastic.js';
import { decodeStream } from '../node/stream.js';
import { CkaadError, InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import { checkIndices } from '../data/image-dataset.js';
import type { ImageDataset } from '../data/image-dataset.js';
import { writeJsonAtomic } from '../node/atomic.js';
import { canonicalJson } from './grid.js';

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

/** A {@link PixelSource} over a raw byte file, read with positioned synchronous reads; close it when done. */
export interface FilePixelSource extends PixelSource {
  /** Closes the file. Reads after closing throw. */
  close(): void;
}

/** Opens a raw file of `count` images of `size × size × channels` bytes. */
export function filePixels(path: string, count: number, size: number, channels: 1 | 3): FilePixelSource {
  const per = size * size * channels;
  let fd: number | null = openSync(path, 'r');
  return {
    count,
    size,
    channels,
    read(indices) {
      checkIndices(indices, count, 'indices');
      if (fd === null) throw new InvalidArgumentError('source', `an open pixel file (${path} was closed)`);
      const out = new Uint8Array(indices.length * per);
      indices.forEach((index, n) => {
        const got = readSync(fd as number, out, n * per, per, index * per);
        if (got !== per) throw new InvalidArgumentError('index', `an image of ${path} (file shorter than expected)`, String(index));
      });
      return out;
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** Raw RGB bytes `[n, size, size, 3]` → preprocessed backbone input `[n, size, size, 3]`. */
export function bytesToInput(bytes: Uint8Array | Float32Array, n: number, size: number): tf.Tensor4D {
  const data = bytes instanceof Float32Array ? bytes : Float32Array.from(bytes);
  return tf.tidy(() => preprocessImages(tf.tensor4d(data, [n, size, size, 3], 'float32'), { size }));
}

/** An {@link ImageDataset} over an RGB {@link PixelSource}. */
export function sourceDataset(source: PixelSource): ImageDataset {
  if (source.channels !== 3) throw new InvalidArgumentError('source', 'RGB images (3 channels)', `${source.channels} channel(s)`);
  return {
    size: source.count,
    random: false, // fixed images: the trainer caches their features without probing
    batch(indices) {
      return bytesToInput(source.read(indices), indices.length, source.size);
    },
  };
}

/**
 * The industrial setting's labelled anomalies (docs/reference-implementation.md §5) over a {@link PixelSource}: image i is
 * a fresh elastic transformation (alpha 200, sigma 5, rounded as for PIL images) of normal
 * image i on every call.
 */
export function elasticSourceDataset(source: PixelSource, seed: number): ImageDataset {
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
  const all = Array.from({ length: source.count }, (_, i) => i);
  const warped = elasticTransformPixels(source.read(all), [source.count, s, s, 3], new Rng(seed), { round: true });
  const bytes = new Uint8Array(warped.length);
  for (let i = 0; i < warped.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(warped[i])));
  return memoryPixels(bytes, source.count, s, 3);
}

/** The error that unwinds work stopped by an AbortSignal (code `'aborted'`); the runner catches it. */
export function abortedError(): CkaadError {
  return new CkaadError('aborted', 'Stopped by the abort signal.');
}

/** True for {@link abortedError}'s errors. */
export function isAborted(e: unknown): boolean {
  return e instanceof CkaadError && e.code === 'aborted';
}

// -----------------------------------------------------------------------------------------
// the decode cache

/** A file to decode, with its mask if it has one. */
export interface CacheItem {
  path: string;
  maskPath?: string;
}

/** Decoded images (and masks) of a list of files, cached on disk. */
export interface DecodedFiles {
  images: FilePixelSource;
  /** Masks (1 channel, 0/1) when decoded with masks. */
  masks: FilePixelSource | null;
  close(): void;
}

interface CacheSidecar {
  format: 'ckaad-pixel-cache';
  version: 1;
  count: number;
  size: number;
  masks: boolean;
  key: string;
}

/**
 * Decodes `items` at `size × size` into `<cacheDir>/<key>.rgb` (and `.mask` with `masks`,
 * foreground where the resized mask exceeds `maskThreshold · 255`: 0.5 is MVTec AD's rule, 0
 * VisA's), unless a complete cache of the same list already exists, and opens it.
 *
 * @throws FileFormatError (from the decoder) naming a file that cannot be decoded.
 */
export async function decodeToCache(
  cacheDir: string,
  items: readonly CacheItem[],
  size: number,
  masks: boolean,
  signal?: AbortSignal,
  maskThreshold = 0.5,
): Promise<DecodedFiles> {
  const key = (await import('node:crypto'))
    .createHash('sha256')
    .update(canonicalJson({ version: 1, size, masks, maskThreshold: masks ? maskThreshold : null, items: items.map((i) => [i.path, i.maskPath ?? null]) }))
    .digest('hex')
    .slice(0, 32);
  const base = join(cacheDir, key);
  const sidecarPath = `${base}.json`;
  let ready = false;
  try {
    const s = JSON.parse(await readFile(sidecarPath, 'utf8')) as CacheSidecar;
    ready = s.format === 'ckaad-pixel-cache' && s.key === key && s.count === items.length && s.size === size && s.masks === masks;
  } catch {
    ready = false;
  }
  if (!ready) {
    await mkdir(cacheDir, { recursive: true });
    const suffix = `${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const rgbTmp = `${base}.rgb.${suffix}`;
    const maskTmp = `${base}.mask.${suffix}`;
    const rgb = await open(rgbTmp, 'w');
    const mask = masks ? await open(maskTmp, 'w') : null;
    try {
      for await (const d of decodeStream(items, { size, masks, maskThreshold })) {
        if (signal?.aborted) throw abortedError();
        await rgb.write(d.image);
        if (mask !== null) await mask.write(d.mask as Uint8Array);
      }
      await rgb.sync();
      await mask?.sync();
    } catch (e) {
      await rgb.close();
      await mask?.close();
      await rm(rgbTmp, { force: true });
      await rm(maskTmp, { force: true });
      throw e;
    }
    await rgb.close();
    await mask?.close();
    await rename(rgbTmp, `${base}.rgb`);
    if (masks) await rename(maskTmp, `${base}.mask`);
    const sidecar: CacheSidecar = { format: 'ckaad-pixel-cache', version: 1, count: items.length, size, masks, key };
    await writeJsonAtomic(sidecarPath, sidecar);
  }
  const images = filePixels(`${base}.rgb`, items.length, size, 3);
  const maskSource = masks ? filePixels(`${base}.mask`, items.length, size, 1) : null;
  return {
    images,
    masks: maskSource,
    close() {
      images.close();
      maskSource?.close();
    },
  };
}
