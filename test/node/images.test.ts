import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { decodeBmp } from '../../src/data/bmp.js';
import { decodeImage, decodeMask, readImageSize, sniffImageFormat } from '../../src/node/images.js';
import { resizeBilinear } from '../../src/data/resize.js';
import { bmp24, encode, gradient, tempDir } from '../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

describe('decodeImage', () => {
  it('decodes PNG and TIFF losslessly to RGB', async () => {
    const px = gradient(7, 5, 3);
    for (const format of ['png', 'tiff'] as const) {
      const img = await decodeImage(await encode(px, 7, 5, 3, format));
      expect(img.format).toBe(format);
      expect([img.width, img.height, img.channels]).toEqual([7, 5, 3]);
      expect([...img.data]).toEqual([...px]);
    }
  });

  it('decodes JPEG close to the encoded pixels', async () => {
    const px = new Uint8Array(16 * 16 * 3).fill(120);
    const img = await decodeImage(await encode(px, 16, 16, 3, 'jpeg'));
    expect(img.format).toBe('jpeg');
    for (const v of img.data) expect(Math.abs(v - 120)).toBeLessThanOrEqual(2);
  });

  it('decodes BMP (bottom-up and top-down) through bmp-ts', async () => {
    const px = gradient(5, 3, 1); // 5·3 = 15 bytes per row: padded rows
    for (const topDown of [false, true]) {
      const path = join(dir, `img-${topDown}.bmp`);
      await writeFile(path, bmp24(5, 3, px, topDown));
      const img = await decodeImage(path);
      expect(img.format).toBe('bmp');
      expect([...img.data]).toEqual([...px]);
    }
  });

  it('replicates grayscale to RGB and drops alpha without compositing', async () => {
    const gray = new Uint8Array([0, 50, 100, 150, 200, 250]);
    const g = await decodeImage(await encode(gray, 3, 2, 1, 'png'));
    expect(g.channels).toBe(3);
    expect([...g.data]).toEqual([...gray].flatMap((v) => [v, v, v]));
    const rgba = new Uint8Array([10, 20, 30, 0, 40, 50, 60, 255]);
    const a = await decodeImage(await encode(rgba, 2, 1, 4, 'png'));
    expect([...a.data]).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('resizes with the Pillow filter after decoding, from a path, bytes or an ArrayBuffer', async () => {
    const px = gradient(40, 30, 2);
    const bytes = await encode(px, 40, 30, 3, 'png');
    const path = join(dir, 'g.png');
    await writeFile(path, bytes);
    const expected = resizeBilinear({ data: px, width: 40, height: 30, channels: 3 }, 16, 16).data;
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    for (const source of [path, new Uint8Array(bytes), ab]) {
      const img = await decodeImage(source, { size: 16 });
      expect([img.width, img.height, img.sourceWidth, img.sourceHeight]).toEqual([16, 16, 40, 30]);
      expect([...img.data]).toEqual([...expected]);
    }
  });

  it("with resizer 'sharp' stays close to the Pillow resize", async () => {
    const w = 96;
    const px = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++)
      for (let x = 0; x < w; x++) {
        const v = Math.round(127 + 100 * Math.sin(x / 7) * Math.cos(y / 9));
        px.fill(v, (y * w + x) * 3, (y * w + x) * 3 + 3);
      }
    const bytes = await encode(px, w, w, 3, 'png');
    const pil = await decodeImage(bytes, { size: 32 });
    const vips = await decodeImage(bytes, { size: 32, resizer: 'sharp' });
    let sum = 0;
    for (let i = 0; i < pil.data.length; i++) sum += Math.abs(pil.data[i] - vips.data[i]);
    const meanAbs = sum / pil.data.length;
    expect(meanAbs).toBeLessThan(3);
  });

  it('names the path for missing, empty, corrupt, truncated and unknown files', async () => {
    const png = await encode(gradient(32, 32), 32, 32, 3, 'png');
    const jpg = await encode(gradient(32, 32), 32, 32, 3, 'jpeg');
    const cases: [string, Uint8Array | null, RegExp][] = [
      ['missing.png', null, /file not found/],
      ['empty.png', new Uint8Array(0), /empty file/],
      ['trunc.png', png.subarray(0, png.length - 40), /corrupt or truncated PNG/],
      ['trunc.jpg', jpg.subarray(0, Math.floor(jpg.length / 2)), /corrupt or truncated JPEG/],
      ['text.png', new TextEncoder().encode('not an image at all'), /unrecognised image format/],
      ['bad.bmp', bmp24(4, 4, gradient(4, 4)).subarray(0, 70), /truncated BMP/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(dir, name);
      if (bytes) await writeFile(path, bytes);
      const error = await decodeImage(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FileFormatError);
      expect((error as FileFormatError).path).toBe(path);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(path);
    }
  });

  it('rejects bad options', async () => {
    await expect(decodeImage(new Uint8Array(4), { size: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(decodeImage(new Uint8Array(4), { resizer: 'cv2' as 'pil' })).rejects.toThrow(/resizer/);
  });
});

describe('decodeMask', () => {
  it('treats any non-zero value as defect (0/1 and 0/255 masks agree) and thresholds after resizing', async () => {
    const w = 8;
    const make = (on: number) => {
      const m = new Uint8Array(w * w);
      for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) m[y * w + x] = on; // 3×3 block at the corner
      return m;
    };
    const m255 = await decodeMask(await encode(make(255), w, w, 1, 'png'), { size: 4 });
    const m1 = await decodeMask(await encode(make(1), w, w, 1, 'png'), { size: 4 });
    expect([...m1.data]).toEqual([...m255.data]);
    // 2× shrink of the block: output (0,0) is fully inside; (1,1) sees weights 3/7·… on the block.
    const bin = resizeBilinear({ data: make(255), width: w, height: w, channels: 1 }, 4, 4).data;
    expect([...m255.data]).toEqual([...bin].map((v) => (v > 127.5 ? 1 : 0)));
    const loose = await decodeMask(await encode(make(255), w, w, 1, 'png'), { size: 4, threshold: 0 });
    expect([...loose.data]).toEqual([...bin].map((v) => (v > 0 ? 1 : 0)));
    expect(loose.data.reduce((a, b) => a + b, 0)).toBeGreaterThan(m255.data.reduce((a, b) => a + b, 0));
    expect(m255.channels).toBe(1);
  });

  it('keeps the exact mask without resizing and rejects a bad threshold', async () => {
    const m = new Uint8Array([0, 255, 0, 0, 7, 0]);
    const out = await decodeMask(await encode(m, 3, 2, 1, 'png'));
    expect([...out.data]).toEqual([0, 1, 0, 0, 1, 0]);
    await expect(decodeMask(await encode(m, 3, 2, 1, 'png'), { threshold: 1 })).rejects.toThrow(InvalidArgumentError);
  });
});

describe('format helpers', () => {
  it('sniffs formats from magic bytes', async () => {
    expect(sniffImageFormat(await encode(gradient(2, 2), 2, 2, 3, 'png'))).toBe('png');
    expect(sniffImageFormat(await encode(gradient(2, 2), 2, 2, 3, 'jpeg'))).toBe('jpeg');
    expect(sniffImageFormat(await encode(gradient(2, 2), 2, 2, 3, 'tiff'))).toBe('tiff');
    expect(sniffImageFormat(bmp24(2, 2, gradient(2, 2)))).toBe('bmp');
    expect(sniffImageFormat(await sharp({ create: { width: 2, height: 2, channels: 3, background: 'red' } }).webp().toBuffer())).toBeNull();
  });

  it('reads sizes from headers', async () => {
    expect(await readImageSize(await encode(gradient(9, 4), 9, 4, 3, 'jpeg'))).toEqual({ width: 9, height: 4, format: 'jpeg' });
    expect(await readImageSize(bmp24(6, 3, gradient(6, 3), true))).toEqual({ width: 6, height: 3, format: 'bmp' });
    await expect(readImageSize(join(dir, 'nope.png'))).rejects.toThrow(FileFormatError);
  });

  it('decodeBmp rejects non-BMP data and unsupported headers', () => {
    expect(() => decodeBmp(new Uint8Array([1, 2, 3]), 'x.bmp')).toThrow(/not a BMP/);
    const bad = bmp24(2, 2, gradient(2, 2));
    bad.writeUInt16LE(7, 28); // 7 bits per pixel
    expect(() => decodeBmp(bad, 'x.bmp')).toThrow(/bit depth 7/);
  });
});
