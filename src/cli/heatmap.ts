/**
 * Heat-map overlays: one PNG per image with the panels
 *
 *   original | ground-truth mask (when there is one) | colour-mapped anomaly map over the image
 *
 * side by side, separated by a white gap. The map is colour-mapped with "jet" (blue = low,
 * red = high) on a fixed range [lo, hi] shared by all images of a run, so colours compare
 * across images; it is blended over a grey copy of the image so the defect's place stays
 * visible.
 */

import { loadSharp } from '../node/sharp.js';

/** Pixels between two panels. */
export const PANEL_GAP = 4;
/** Weight of the colour map over the grey image in the third panel. */
export const MAP_ALPHA = 0.6;

/**
 * The "jet" colour map: t ∈ [0, 1] (clamped) → RGB bytes, blue → cyan → yellow → red.
 */
export function jet(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const channel = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * x - centre))));
  return [channel(3), channel(2), channel(1)];
}

/** What one overlay shows. */
export interface OverlayInput {
  /** Side of the square image, map and mask. */
  size: number;
  /** RGB pixels `[size, size, 3]`. */
  image: Uint8Array;
  /** Anomaly map `[size, size]`. */
  map: Float32Array;
  /** 0/1 ground truth `[size, size]`, or undefined for no mask panel. */
  mask?: Uint8Array;
  /** Map value drawn as the coldest colour. */
  lo: number;
  /** Map value drawn as the hottest colour. */
  hi: number;
}

/**
 * Composes the panels into one RGB image.
 *
 * @returns pixels `[size, width, 3]` and the width (3 panels with a mask, 2 without).
 */
export function composeOverlay(o: OverlayInput): { pixels: Uint8Array; width: number; height: number } {
  const { size, image, map, mask, lo, hi } = o;
  const panels = mask === undefined ? 2 : 3;
  const width = panels * size + (panels - 1) * PANEL_GAP;
  const pixels = new Uint8Array(size * width * 3).fill(255);
  const span = hi > lo ? hi - lo : 1;
  const put = (panel: number, x: number, y: number, rgb: readonly number[]) => {
    const p = (y * width + panel * (size + PANEL_GAP) + x) * 3;
    pixels[p] = rgb[0];
    pixels[p + 1] = rgb[1];
    pixels[p + 2] = rgb[2];
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const rgb = [image[3 * i], image[3 * i + 1], image[3 * i + 2]];
      put(0, x, y, rgb);
      if (mask !== undefined) {
        const v = mask[i] ? 255 : 0;
        put(1, x, y, [v, v, v]);
      }
      const grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
      const heat = jet((map[i] - lo) / span);
      put(panels - 1, x, y, heat.map((c) => Math.round(MAP_ALPHA * c + (1 - MAP_ALPHA) * grey)));
    }
  }
  return { pixels, width, height: size };
}

/** Writes the overlay of `o` as a PNG file at `path`. */
export async function writeOverlayPng(path: string, o: OverlayInput): Promise<void> {
  const { pixels, width, height } = composeOverlay(o);
  const sharp = await loadSharp();
  await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(path);
}
