/**
 * Streaming decoding: turn a list of image files into fixed-size RGB pixels (and masks)
 * with a bounded number of decodes in flight, in input order, optionally skipping files
 * that cannot be decoded; group them into batches; convert batches to the tensors the
 * feature extractor wants.
 *
 * Memory stays bounded by `prefetch` decoded images plus one batch, so a test set of any
 * size can be scored without holding it all.
 */

import * as tf from '@tensorflow/tfjs-core';
import { preprocessImages } from '../backbone/preprocess.js';
import { CkaadError, FileFormatError, InvalidArgumentError } from '../errors.js';
import { decodeImage, decodeMask, type Resizer } from './images.js';

/** A file to decode: a path, or an object with a path and an optional mask path. */
export type StreamSource = string | { path: string; maskPath?: string };

/** Options of {@link decodeStream}. */
export interface DecodeStreamOptions {
  /** Output side length: every image is resized to `size × size`. Required. */
  size: number;
  /** Maximum number of files being decoded at once; default 8. */
  prefetch?: number;
  /** What to do with a file that cannot be decoded: `'fail'` (default) throws, `'skip'` drops it. */
  onBadImage?: 'skip' | 'fail';
  /** Called for each skipped file (only with `onBadImage: 'skip'`). */
  onSkip?: (skipped: SkippedImage) => void;
  /**
   * Also decode masks: items with a `maskPath` get their mask, others an all-zero mask;
   * default false.
   */
  masks?: boolean;
  /** Mask threshold, see `decodeMask`; default 0.5. */
  maskThreshold?: number;
  /** Resize implementation, see `decodeImage`; default `'pil'`. */
  resizer?: Resizer;
}

/** One decoded file. */
export interface DecodedItem<T extends StreamSource = StreamSource> {
  /** The source as given. */
  item: T;
  /** Position of the source in the input sequence (skipped files keep their numbers). */
  index: number;
  /** RGB pixels `[size, size, 3]`, row-major. */
  image: Uint8Array;
  /** Binary mask `[size, size]` of 0/1 when `masks` is on. */
  mask?: Uint8Array;
}

/** A file that was skipped, and why. */
export interface SkippedImage {
  index: number;
  path: string;
  error: CkaadError;
}

/** What {@link decodeStream} returns when it finishes. */
export interface DecodeSummary {
  decoded: number;
  skipped: SkippedImage[];
}

type Outcome<T extends StreamSource> = { ok: true; value: DecodedItem<T> } | { ok: false; skipped: SkippedImage };

function pathOf(source: StreamSource): string {
  return typeof source === 'string' ? source : source.path;
}

/** Decode one source; never rejects (errors become an outcome, so no rejection goes unhandled). */
async function decodeOne<T extends StreamSource>(item: T, index: number, o: Required<Pick<DecodeStreamOptions, 'size' | 'masks' | 'maskThreshold' | 'resizer'>>): Promise<Outcome<T>> {
  const path = pathOf(item);
  try {
    const image = await decodeImage(path, { size: o.size, resizer: o.resizer });
    let mask: Uint8Array | undefined;
    if (o.masks) {
      const maskPath = typeof item === 'string' ? undefined : item.maskPath;
      if (maskPath === undefined) {
        mask = new Uint8Array(o.size * o.size);
      } else {
        const m = await decodeMask(maskPath, { size: o.size, threshold: o.maskThreshold, resizer: o.resizer });
        if (m.sourceWidth !== image.sourceWidth || m.sourceHeight !== image.sourceHeight) {
          throw new FileFormatError(
            maskPath,
            `mask is ${m.sourceWidth}×${m.sourceHeight} but its image ${path} is ${image.sourceWidth}×${image.sourceHeight} (expected equal sizes)`,
          );
        }
        mask = m.data;
      }
    }
    return { ok: true, value: { item, index, image: image.data, mask } };
  } catch (e) {
    const error = e instanceof CkaadError ? e : new FileFormatError(path, (e as Error).message);
    return { ok: false, skipped: { index, path, error } };
  }
}

/**
 * Decode files to `size × size` RGB pixels (and masks) in input order, keeping at most
 * `prefetch` decodes in flight (libvips decodes on its own worker threads, so several in
 * flight overlap I/O and decoding). Bad files throw their {@link FileFormatError}, or are
 * skipped and reported through `onSkip` and the generator's return value.
 *
 * @param sources paths, or `{ path, maskPath? }` objects such as a reader's samples.
 * @returns an async generator of {@link DecodedItem}; its return value is a {@link DecodeSummary}.
 *
 * @example
 * ```ts
 * const ds = await readMvtec(root, { category: 'bottle' });
 * for await (const { item, image, mask } of decodeStream(ds.test, { size: 256, masks: true })) {
 *   // image: Uint8Array [256·256·3], mask: Uint8Array [256·256]
 * }
 * ```
 */
export async function* decodeStream<T extends StreamSource>(
  sources: Iterable<T> | AsyncIterable<T>,
  options: DecodeStreamOptions,
): AsyncGenerator<DecodedItem<T>, DecodeSummary, undefined> {
  const { size, prefetch = 8, onBadImage = 'fail', onSkip, masks = false, maskThreshold = 0.5, resizer = 'pil' } = options ?? ({} as DecodeStreamOptions);
  if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError('options.size', 'a positive integer', String(size));
  if (!Number.isInteger(prefetch) || prefetch < 1) throw new InvalidArgumentError('options.prefetch', 'a positive integer', String(prefetch));
  if (onBadImage !== 'skip' && onBadImage !== 'fail') throw new InvalidArgumentError('options.onBadImage', "'skip' or 'fail'", String(onBadImage));
  if (!(maskThreshold >= 0 && maskThreshold < 1)) throw new InvalidArgumentError('options.maskThreshold', 'a number in [0, 1)', String(maskThreshold));

  const iterator: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in sources ? (sources as AsyncIterable<T>)[Symbol.asyncIterator]() : (sources as Iterable<T>)[Symbol.iterator]();
  const inFlight: Promise<Outcome<T>>[] = [];
  const summary: DecodeSummary = { decoded: 0, skipped: [] };
  let next = 0;
  let exhausted = false;
  const settings = { size, masks, maskThreshold, resizer };

  try {
    for (;;) {
      while (!exhausted && inFlight.length < prefetch) {
        const r = await iterator.next();
        if (r.done) exhausted = true;
        else inFlight.push(decodeOne(r.value, next++, settings));
      }
      const head = inFlight.shift();
      if (head === undefined) return summary;
      const outcome = await head;
      if (outcome.ok) {
        summary.decoded++;
        yield outcome.value;
      } else if (onBadImage === 'skip') {
        summary.skipped.push(outcome.skipped);
        onSkip?.(outcome.skipped);
      } else {
        throw outcome.skipped.error;
      }
    }
  } finally {
    // Stopped early (consumer break or error): close the source. Decodes still in flight
    // settle on their own and never reject.
    if (!exhausted) await iterator.return?.();
  }
}

/** A batch of decoded images held as bytes. */
export interface PixelBatch<T extends StreamSource = StreamSource> {
  /** RGB pixels `[count, size, size, 3]`, row-major. */
  images: Uint8Array;
  /** Masks `[count, size, size]` of 0/1, when decoded with `masks: true`. */
  masks?: Uint8Array;
  /** The sources, in batch order. */
  items: T[];
  /** Input positions of the items (see {@link DecodedItem.index}). */
  indices: number[];
  /** Number of images. */
  count: number;
  /** Side length of each image. */
  size: number;
}

/** Pack decoded items into one {@link PixelBatch}. */
function pack<T extends StreamSource>(items: DecodedItem<T>[], size: number): PixelBatch<T> {
  const pixels = size * size;
  const images = new Uint8Array(items.length * pixels * 3);
  const withMasks = items.length > 0 && items[0].mask !== undefined;
  const masks = withMasks ? new Uint8Array(items.length * pixels) : undefined;
  items.forEach((d, i) => {
    images.set(d.image, i * pixels * 3);
    if (masks && d.mask) masks.set(d.mask, i * pixels);
  });
  return { images, masks, items: items.map((d) => d.item), indices: items.map((d) => d.index), count: items.length, size };
}

/**
 * Group a {@link decodeStream} into batches of `batchSize` (the last one may be smaller).
 *
 * @example
 * ```ts
 * for await (const batch of batchStream(decodeStream(paths, { size: 256 }), 16)) {
 *   const x = preprocessBatch(batch); // [≤16, 256, 256, 3] normalised
 *   x.dispose();
 * }
 * ```
 */
export async function* batchStream<T extends StreamSource>(
  stream: AsyncIterable<DecodedItem<T>>,
  batchSize: number,
): AsyncGenerator<PixelBatch<T>, void, undefined> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize', 'a positive integer', String(batchSize));
  let pending: DecodedItem<T>[] = [];
  let size = 0;
  for await (const item of stream) {
    size = Math.round(Math.sqrt(item.image.length / 3));
    pending.push(item);
    if (pending.length === batchSize) {
      yield pack(pending, size);
      pending = [];
    }
  }
  if (pending.length > 0) yield pack(pending, size);
}

/**
 * Decode every source into one {@link PixelBatch} (for sets that fit in memory: 192 KiB
 * per 256×256 image). Skipped files are reported in `skipped`.
 *
 * @example
 * ```ts
 * const { batch, skipped } = await loadImages(ds.train, { size: 256, onBadImage: 'skip' });
 * ```
 */
export async function loadImages<T extends StreamSource>(
  sources: Iterable<T> | AsyncIterable<T>,
  options: DecodeStreamOptions,
): Promise<{ batch: PixelBatch<T>; skipped: SkippedImage[] }> {
  const items: DecodedItem<T>[] = [];
  const stream = decodeStream(sources, options);
  let r = await stream.next();
  while (!r.done) {
    items.push(r.value);
    r = await stream.next();
  }
  return { batch: pack(items, options.size), skipped: r.value.skipped };
}

/** Check a pixel buffer holds `count` RGB images of `size × size`. */
function checkPixels(images: Uint8Array | Float32Array, count: number, size: number): void {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(size) || size < 1 || images.length !== count * size * size * 3) {
    throw new InvalidArgumentError('images', `${count} × ${size} × ${size} × 3 = ${count * size * size * 3} values`, String(images.length));
  }
}

/**
 * Raw pixels as a float32 tensor `[count, size, size, 3]` with values 0…255 (no
 * normalisation) — the input format of `preprocessImages` and `elasticTransform`.
 */
export function pixelsToTensor(images: Uint8Array | Float32Array, count: number, size: number): tf.Tensor4D {
  checkPixels(images, count, size);
  const data = images instanceof Float32Array ? images : Float32Array.from(images);
  return tf.tensor4d(data, [count, size, size, 3], 'float32');
}

/**
 * A batch as backbone input: `[count, size, size, 3]`, scaled to [0, 1] and ImageNet-
 * normalised by `preprocessImages` (which leaves the already-resized pixels unchanged in
 * size, so the resize is the Pillow-exact one done at decoding). Caller disposes.
 */
export function preprocessBatch(batch: PixelBatch): tf.Tensor4D {
  return tf.tidy(() => preprocessImages(pixelsToTensor(batch.images, batch.count, batch.size), { size: batch.size }));
}

/**
 * Masks of a batch as a float32 tensor `[count, size, size]` of 0/1. Caller disposes.
 *
 * @throws InvalidArgumentError when the batch was decoded without masks.
 */
export function masksToTensor(batch: PixelBatch): tf.Tensor3D {
  if (batch.masks === undefined) throw new InvalidArgumentError('batch.masks', 'a batch decoded with masks: true');
  return tf.tensor3d(Float32Array.from(batch.masks), [batch.count, batch.size, batch.size], 'float32');
}
