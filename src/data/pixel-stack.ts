/**
 * Images a browser (or any program) already holds — `ImageData` from a canvas or
 * `createImageBitmap`, or plain RGBA / RGB / grey bytes — as a {@link PixelStack}: every image
 * converted to RGB (grey replicated, alpha dropped, as PIL's `convert('RGB')`) and resized to
 * `size × size` with Pillow's bilinear resampler (`resizeBilinear`), the same bytes the Node
 * decoders give for a lossless file. Feed it to `pixelDataset` / `elasticDataset`.
 */

import { InvalidArgumentError } from '../errors.js';
import type { PixelStack } from './image-dataset.js';
import { resizeBilinear } from './resize.js';

/** An image as bytes: `ImageData` (RGBA) fits, as does `{ data, width, height, channels }`. */
export interface ImageBytes {
  readonly data: Uint8Array | Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  /** 4 (RGBA, the default: `ImageData`), 3 (RGB) or 1 (grey). */
  readonly channels?: 1 | 3 | 4;
}

function toRgb(image: ImageBytes, argument: string): Uint8Array {
  const { data, width, height } = image;
  const channels = image.channels ?? 4;
  const ok =
    (data instanceof Uint8Array || data instanceof Uint8ClampedArray) &&
    Number.isInteger(width) &&
    Number.isInteger(height) &&
    width >= 1 &&
    height >= 1 &&
    (channels === 1 || channels === 3 || channels === 4) &&
    data.length === width * height * channels;
  if (!ok) {
    throw new InvalidArgumentError(argument, 'ImageData or { data: width·height·channels bytes, width, height, channels: 1 | 3 | 4 }', `${width}×${height}×${channels} with ${data?.length} bytes`);
  }
  const pixels = width * height;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    rgb[3 * i] = data[s];
    rgb[3 * i + 1] = data[channels === 1 ? s : s + 1];
    rgb[3 * i + 2] = data[channels === 1 ? s : s + 2];
  }
  return rgb;
}

/**
 * Converts images to one RGB {@link PixelStack} of `size × size` images.
 *
 * @throws InvalidArgumentError naming `images[i]` for an image that is not RGBA/RGB/grey bytes
 *   of its stated size, or `size` for a size < 1; an empty list is refused too.
 *
 * @example
 * ```ts
 * const stack = toPixelStack(files.map((f) => canvasImageData(f)), 256);
 * const normal = pixelDataset(stack);
 * ```
 */
export function toPixelStack(images: readonly ImageBytes[], size: number): PixelStack {
  if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError('size', 'an integer ≥ 1', String(size));
  if (!Array.isArray(images) || images.length === 0) throw new InvalidArgumentError('images', 'a non-empty array of images', String(images?.length ?? images));
  const per = size * size * 3;
  const out = new Uint8Array(images.length * per);
  images.forEach((image, i) => {
    const rgb = toRgb(image, `images[${i}]`);
    const same = image.width === size && image.height === size;
    out.set(same ? rgb : resizeBilinear({ data: rgb, width: image.width, height: image.height, channels: 3 }, size, size).data, i * per);
  });
  return { images: out, count: images.length, size };
}
