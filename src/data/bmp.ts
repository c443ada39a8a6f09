/**
 * BMP decoding (libvips, and hence sharp, cannot read BMP). Wraps `bmp-ts` with the
 * header checks it lacks, so that a truncated or malformed file is rejected with a
 * {@link FileFormatError} instead of decoding to garbage.
 */

import { decode as decodeBmpTs } from 'bmp-ts';
import { FileFormatError } from '../errors.js';
import type { Uint8Image } from './resize.js';

/** Compression codes of the BMP info header that `bmp-ts` can decode. */
const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHA_BITFIELDS = 6;

/** True when `bytes` start with the BMP signature "BM". */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/**
 * Decode a BMP file to RGB (alpha, if any, is dropped — as `PIL.Image.convert('RGB')`
 * does). Supports 1/4/8/16/24/32-bit, bottom-up and top-down, uncompressed, RLE and
 * bit-field BMPs with a BITMAPINFOHEADER or later.
 *
 * @param bytes the file's bytes.
 * @param path name used in error messages.
 * @throws FileFormatError for a truncated file, an unsupported header or compression.
 */
export function decodeBmp(bytes: Uint8Array, path: string): Uint8Image {
  if (!isBmp(bytes)) throw new FileFormatError(path, 'not a BMP file (missing "BM" signature)');
  if (bytes.length < 30) {
    throw new FileFormatError(path, `truncated BMP: ${bytes.length} bytes, the headers need at least 30`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (headerSize < 40) {
    throw new FileFormatError(
      path,
      `unsupported BMP header of ${headerSize} bytes (expected a BITMAPINFOHEADER, 40 bytes or more)`,
    );
  }
  if (bytes.length < 14 + headerSize) {
    throw new FileFormatError(path, `truncated BMP: ${bytes.length} bytes, header ends at ${14 + headerSize}`);
  }
  const width = view.getInt32(18, true);
  const height = Math.abs(view.getInt32(22, true));
  const bitsPerPixel = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (width < 1 || height < 1) {
    throw new FileFormatError(path, `invalid BMP size ${width}×${height}`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) {
    throw new FileFormatError(path, `unsupported BMP bit depth ${bitsPerPixel} (expected 1, 4, 8, 16, 24 or 32)`);
  }
  if (![BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS, BI_ALPHA_BITFIELDS].includes(compression)) {
    throw new FileFormatError(path, `unsupported BMP compression ${compression} (expected none, RLE or bit fields)`);
  }
  if (compression === BI_RGB || compression === BI_BITFIELDS || compression === BI_ALPHA_BITFIELDS) {
    const rowBytes = Math.ceil((width * bitsPerPixel) / 32) * 4;
    const needed = pixelOffset + rowBytes * height;
    if (bytes.length < needed) {
      throw new FileFormatError(
        path,
        `truncated BMP: ${bytes.length} bytes, a ${width}×${height} ${bitsPerPixel}-bit image needs ${needed}`,
      );
    }
  } else if (bytes.length <= pixelOffset) {
    throw new FileFormatError(path, `truncated BMP: no pixel data after offset ${pixelOffset}`);
  }

  let rgba: Uint8Array;
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    rgba = decodeBmpTs(buffer, { toRGBA: true }).data;
  } catch (e) {
    throw new FileFormatError(path, `corrupt BMP: ${(e as Error).message}`);
  }
  if (rgba.length < width * height * 4) {
    throw new FileFormatError(path, `corrupt BMP: decoded ${rgba.length} bytes for ${width}×${height} pixels`);
  }
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba[j];
    data[i + 1] = rgba[j + 1];
    data[i + 2] = rgba[j + 2];
  }
  return { data, width, height, channels: 3 };
}
