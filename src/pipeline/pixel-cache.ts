/**
 * Decoded images kept on disk. Large training sets (OCT2017 has 83 484 training images: 16 GB
 * of 256×256 RGB bytes) do not fit in memory, and `ImageDataset.batch` is synchronous, so
 * file data sets are decoded once into a raw byte file (`<cacheDir>/<key>.rgb`, plus `.mask`
 * for test masks) and batches are read from it with positioned reads. The cache is keyed by
 * the list of source files and the image size; its `.json` sidecar, written last, marks it as
 * complete.
 */

import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { CkaadError } from '../errors.js';
import { writeJsonAtomic } from '../node/atomic.js';
import { writeRecordFiles } from '../node/record-file.js';
import { sha256Hex } from '../node/sha256.js';
import { decodeStream } from '../node/stream.js';
import { canonicalJson } from './keys.js';
import { filePixels } from './pixels.js';
import type { FilePixelSource } from './pixels.js';

/** The error that unwinds work stopped by an AbortSignal (code `'aborted'`); the runner catches it. */
export function abortedError(): CkaadError {
  return new CkaadError('aborted', 'Stopped by the abort signal.');
}

/** True for {@link abortedError}'s errors. */
export function isAborted(e: unknown): boolean {
  return e instanceof CkaadError && e.code === 'aborted';
}

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
 * @throws FileFormatError (from the decoder) naming a file that cannot be decoded; the
 *   aborted error when `signal` fires.
 */
export async function decodeToCache(
  cacheDir: string,
  items: readonly CacheItem[],
  size: number,
  masks: boolean,
  signal?: AbortSignal,
  maskThreshold = 0.5,
): Promise<DecodedFiles> {
  const key = sha256Hex(
    canonicalJson({ version: 1, size, masks, maskThreshold: masks ? maskThreshold : null, items: items.map((i) => [i.path, i.maskPath ?? null]) }),
  ).slice(0, 32);
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
    async function* records(): AsyncGenerator<Uint8Array[]> {
      for await (const d of decodeStream(items, { size, masks, maskThreshold })) {
        if (signal?.aborted) throw abortedError();
        yield masks ? [d.image, d.mask as Uint8Array] : [d.image];
      }
    }
    await writeRecordFiles(masks ? [`${base}.rgb`, `${base}.mask`] : [`${base}.rgb`], records());
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
