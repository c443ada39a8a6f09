/**
 * Drawing the pictures of a run — heat-map overlays, example grids — as raw RGB rasters with
 * text laid over them as SVG, encoded to PNG by sharp. One colour map (jet) for every anomaly
 * map ckaad draws.
 */

import { InvalidArgumentError } from '../errors.js';
import { loadSharp } from '../node/sharp.js';

/** An RGB colour, bytes. */
export type Rgb = readonly [number, number, number];

/** The font stack of every label. */
export const FONT = 'DejaVu Sans, Arial, sans-serif';

/** The "jet" colour map: t ∈ [0, 1] (clamped; NaN as 0) → RGB bytes, dark blue → cyan → yellow → dark red. */
export function jet(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const channel = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * x - centre))));
  return [channel(3), channel(2), channel(1)];
}

/** Escapes text for SVG. */
export function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A number with 3 significant digits, for labels. */
export function shortNumber(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

/** A white RGB picture to draw on, row-major. */
export class Raster {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
      throw new InvalidArgumentError('size', 'a width and height of at least one pixel', `${width}×${height}`);
    }
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }

  /** Sets pixel (x, y) (ignored outside the raster). */
  set(x: number, y: number, rgb: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const p = (y * this.width + x) * 3;
    this.pixels[p] = rgb[0];
    this.pixels[p + 1] = rgb[1];
    this.pixels[p + 2] = rgb[2];
  }

  /** The colour of pixel (x, y). */
  at(x: number, y: number): [number, number, number] {
    const p = (y * this.width + x) * 3;
    return [this.pixels[p], this.pixels[p + 1], this.pixels[p + 2]];
  }

  /**
   * Draws a `size × size` picture at (x0, y0), every pixel as a `scale × scale` block (nearest
   * neighbour): `colour(x, y)` gives the colour of the picture's pixel (x, y).
   */
  drawPicture(x0: number, y0: number, size: number, scale: number, colour: (x: number, y: number) => Rgb): void {
    for (let y = 0; y < size * scale; y++) {
      for (let x = 0; x < size * scale; x++) this.set(x0 + x, y0 + y, colour(Math.floor(x / scale), Math.floor(y / scale)));
    }
  }

  /**
   * Outlines the regions of a 0/1 `mask` (`size × size`) drawn at (x0, y0) with `scale`: every
   * drawn pixel of a mask pixel that touches the outside of its region (4-neighbourhood, the
   * picture's border counting as outside) within `width` pixels of that edge gets `rgb`.
   */
  outline(x0: number, y0: number, size: number, scale: number, mask: Uint8Array, rgb: Rgb, width = 2): void {
    const on = (x: number, y: number) => x >= 0 && y >= 0 && x < size && y < size && mask[y * size + x] !== 0;
    const w = Math.min(width, scale);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (!on(x, y)) continue;
        const edges = { left: !on(x - 1, y), right: !on(x + 1, y), top: !on(x, y - 1), bottom: !on(x, y + 1) };
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const edge = (edges.left && dx < w) || (edges.right && dx >= scale - w) || (edges.top && dy < w) || (edges.bottom && dy >= scale - w);
            if (edge) this.set(x0 + x * scale + dx, y0 + y * scale + dy, rgb);
          }
        }
      }
    }
  }

  /** A vertical jet colour bar at (x0, y0): hottest at the top, coldest at the bottom. */
  colourBar(x0: number, y0: number, width: number, height: number): void {
    for (let y = 0; y < height; y++) {
      const rgb = jet(height === 1 ? 1 : 1 - y / (height - 1));
      for (let x = 0; x < width; x++) this.set(x0 + x, y0 + y, rgb);
    }
  }
}

/**
 * Encodes `raster` as PNG, with `svg` (SVG elements: the labels) laid over it.
 *
 * @returns the PNG bytes.
 */
export async function encodePng(raster: Raster, svg: readonly string[] = []): Promise<Buffer> {
  const sharp = await loadSharp();
  const image = sharp(raster.pixels, { raw: { width: raster.width, height: raster.height, channels: 3 } });
  if (svg.length === 0) return image.png().toBuffer();
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${raster.width}" height="${raster.height}" font-family="${FONT}">\n${svg.join('\n')}\n</svg>`;
  return image.composite([{ input: Buffer.from(overlay), top: 0, left: 0 }]).png().toBuffer();
}
