/** Fixture helpers for the data tests: temporary folders and tiny image files. */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** A fresh temporary folder; `cleanup` removes it. */
export async function tempDir(prefix = 'ckaad-data-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic test pixels: RGB gradient `[h, w, 3]` varied by `seed`. */
export function gradient(width: number, height: number, seed = 0): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      px[p] = (x * 37 + seed * 11) % 256;
      px[p + 1] = (y * 53 + seed * 7) % 256;
      px[p + 2] = (x * y + seed * 29) % 256;
    }
  }
  return px;
}

/** Encode raw pixels (1 or 3 channels) to PNG/JPEG/TIFF bytes with sharp. */
export async function encode(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4, format: 'png' | 'jpeg' | 'tiff'): Promise<Buffer> {
  let img = sharp(pixels, { raw: { width, height, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  if (format === 'png') return img.png().toBuffer();
  if (format === 'jpeg') return img.jpeg({ quality: 95 }).toBuffer();
  return img.tiff({ compression: 'lzw' }).toBuffer();
}

/** Write an image file (creating folders), format from the extension. */
export async function writeImage(path: string, width = 8, height = 8, seed = 0): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const lower = path.toLowerCase();
  const format = lower.endsWith('.png') ? 'png' : lower.endsWith('.tif') || lower.endsWith('.tiff') ? 'tiff' : 'jpeg';
  await writeFile(path, await encode(gradient(width, height, seed), width, height, 3, format));
}

/** Write a one-channel 0/255 PNG mask with a filled square at (x0, y0)–(x1, y1). */
export async function writeMask(path: string, width = 8, height = 8, box: [number, number, number, number] = [2, 2, 5, 5]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const px = new Uint8Array(width * height);
  for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) px[y * width + x] = 255;
  await writeFile(path, await encode(px, width, height, 1, 'png'));
}

/** Write a text file (creating folders). */
export async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** A 24-bit bottom-up (or top-down) BMP of RGB pixels, written independently of bmp-ts. */
export function bmp24(width: number, height: number, rgb: Uint8Array, topDown = false): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + stride * height;
  const b = Buffer.alloc(size);
  b.write('BM', 0);
  b.writeUInt32LE(size, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(topDown ? -height : height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(0, 30);
  b.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = topDown ? y : height - 1 - y;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const o = 54 + row * stride + x * 3;
      b[o] = rgb[i + 2];
      b[o + 1] = rgb[i + 1];
      b[o + 2] = rgb[i];
    }
  }
  return b;
}
