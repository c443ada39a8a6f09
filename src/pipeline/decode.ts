/**
 * Decoding a list of {@link DataItem}s into `size × size` RGB pixels in memory: files with
 * `decodeStream` (a bounded number at once; an unreadable file is skipped or fails the run),
 * IDX images resized from their in-memory stack.
 */

import { FileFormatError } from '../errors.js';
import { idxPixels } from '../node/readers/idx.js';
import type { IdxImages } from '../node/readers/idx.js';
import { batchStream, decodeStream } from '../node/stream.js';
import type { PixelBatch, SkippedImage } from '../node/stream.js';
import type { DataItem } from './datasets.js';
import { memoryPixels } from './pixels.js';
import type { PixelSource } from './pixels.js';

/** Options of {@link loadBatches}. */
export interface LoadOptions {
  /** Side of the decoded images. */
  size: number;
  /** Images per batch. */
  batchSize: number;
  /** Also decode masks (all-zero for items without one). */
  masks?: boolean;
  /** Skip or fail on an image that cannot be decoded (or whose mask has another size). */
  onBadImage: 'skip' | 'fail';
  /** Called for every skipped image. */
  onSkip?: (skipped: SkippedImage) => void;
}

/**
 * Decodes `items` into batches of `size × size` RGB pixels (and masks), in order. A batch's
 * `indices` are its images' positions in `items` (skipped images leave gaps).
 *
 * @throws FileFormatError for a bad file when `onBadImage` is `'fail'`.
 */
export async function* loadBatches(items: readonly DataItem[], options: LoadOptions): AsyncGenerator<PixelBatch<DataItem>> {
  const { size, batchSize, masks = false, onBadImage, onSkip } = options;
  if (items.length > 0 && items[0].idx !== undefined) {
    for (let start = 0; start < items.length; start += batchSize) {
      const chunk = items.slice(start, start + batchSize);
      const images = idxPixels(chunk[0].idx?.stack as IdxImages, chunk.map((i) => (i.idx as { index: number }).index), size);
      yield {
        images,
        masks: masks ? new Uint8Array(chunk.length * size * size) : undefined,
        items: chunk,
        indices: chunk.map((_, i) => start + i),
        count: chunk.length,
        size,
      };
    }
    return;
  }
  yield* batchStream(decodeStream(items, { size, masks, onBadImage, onSkip }), batchSize);
}

/** What {@link loadAll} returns: the decoded images and the items they are (skipped ones left out). */
export interface LoadedItems {
  pixels: PixelSource;
  items: DataItem[];
}

/**
 * Decodes all of `items` into memory.
 *
 * @param what How the images are called in errors, e.g. `'normal training images'`.
 * @throws FileFormatError when no image could be decoded.
 */
export async function loadAll(items: readonly DataItem[], options: Omit<LoadOptions, 'batchSize'>, what: string): Promise<LoadedItems> {
  const chunks: PixelBatch<DataItem>[] = [];
  for await (const batch of loadBatches(items, { ...options, batchSize: 256 })) chunks.push(batch);
  const count = chunks.reduce((n, c) => n + c.count, 0);
  if (count === 0) {
    throw new FileFormatError(items[0]?.path ?? '<none>', `none of the ${items.length} ${what} could be decoded`);
  }
  const per = options.size * options.size * 3;
  const images = new Uint8Array(count * per);
  let offset = 0;
  for (const c of chunks) {
    images.set(c.images, offset * per);
    offset += c.count;
  }
  return { pixels: memoryPixels(images, count, options.size), items: chunks.flatMap((c) => c.items) };
}
