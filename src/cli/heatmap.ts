/**
 * Heat-map overlays a reader can take in on their own: one PNG per image with
 *
 *   a header    the image's name, its ground truth when known, and its score against the
 *               model's threshold ("score 0.612 ≥ threshold 0.589: anomalous");
 *   the panels  image | ground truth (when there is a mask) | anomaly map, each titled and
 *               enlarged to at least {@link PANEL_MIN} pixels (nearest neighbour);
 *   a colour    bar beside the map with the map values of its ends and middle.
 *
 * The map is colour-mapped with jet (blue = low, red = high) on a fixed range [lo, hi] shared
 * by all images of a run, so colours compare across images; it is blended over a grey copy of
 * the image so the defect's place stays visible, and the ground-truth regions are outlined on
 * it in white.
 */

import { writeFile } from 'node:fs/promises';

import { Raster, encodePng, jet, shortNumber, xmlText } from '../pipeline/raster.js';

/** Pixels between two panels. */
export const PANEL_GAP = 12;
/** Smallest side of a panel: smaller images are enlarged by a whole factor to reach it. */
export const PANEL_MIN = 256;
/** Weight of the colour map over the grey image in the map panel. */
export const MAP_ALPHA = 0.6;
/** Colour of the ground-truth outline on the map panel. */
export const OUTLINE = [255, 255, 255] as const;

const MARGIN = 12;
const HEADER = 52;
const TITLE = 22;
const BAR_GAP = 10;
const BAR_WIDTH = 16;
const BAR_LABELS = 60;

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
  /** The image's name, e.g. `test/scratch/003`. */
  name?: string;
  /** Its image score. */
  score?: number;
  /** The model's decision threshold on the score, or null / undefined when it has none. */
  threshold?: number | null;
  /** Ground truth, 0 normal / 1 anomalous, or null / undefined when unknown. */
  label?: number | null;
  /** Its class (defect type…), shown with the ground truth. */
  className?: string;
}

/** Where the parts of an overlay go. */
export interface OverlayLayout {
  /** Enlargement factor of the panels. */
  scale: number;
  /** Side of a panel in pixels. */
  panel: number;
  /** Left edge of each panel (image, [ground truth,] map). */
  panelX: number[];
  /** Top edge of the panels. */
  panelY: number;
  /** Left edge of the colour bar. */
  barX: number;
  width: number;
  height: number;
}

/** The geometry of an overlay of `size × size` images, with or without a mask panel. */
export function overlayLayout(size: number, withMask: boolean): OverlayLayout {
  const scale = Math.max(1, Math.ceil(PANEL_MIN / size));
  const panel = size * scale;
  const count = withMask ? 3 : 2;
  const panelX = Array.from({ length: count }, (_, i) => MARGIN + i * (panel + PANEL_GAP));
  const barX = panelX[count - 1] + panel + BAR_GAP;
  return { scale, panel, panelX, panelY: HEADER + TITLE, barX, width: barX + BAR_WIDTH + BAR_LABELS + MARGIN, height: HEADER + TITLE + panel + MARGIN };
}

/** The score line of the header: the score, and the verdict when the model has a threshold. */
export function scoreLine(score: number | undefined, threshold: number | null | undefined): string {
  if (score === undefined) return '';
  const s = `score ${score.toPrecision(4)}`;
  if (threshold === null || threshold === undefined) return `${s} (the model stores no threshold)`;
  return score >= threshold ? `${s} ≥ threshold ${threshold.toPrecision(4)}: anomalous` : `${s} < threshold ${threshold.toPrecision(4)}: normal`;
}

/**
 * Draws the overlay of `o`.
 *
 * @returns the picture and its labels (SVG text elements laid over it when encoded).
 */
export function composeOverlay(o: OverlayInput): { raster: Raster; labels: string[]; layout: OverlayLayout } {
  const { size, image, map, mask, lo, hi } = o;
  const layout = overlayLayout(size, mask !== undefined);
  const { scale, panel, panelX, panelY, barX } = layout;
  const raster = new Raster(layout.width, layout.height);
  const span = hi > lo ? hi - lo : 1;
  const rgb = (x: number, y: number): [number, number, number] => {
    const i = 3 * (y * size + x);
    return [image[i], image[i + 1], image[i + 2]];
  };
  raster.drawPicture(panelX[0], panelY, size, scale, rgb);
  if (mask !== undefined) {
    raster.drawPicture(panelX[1], panelY, size, scale, (x, y) => (mask[y * size + x] ? [255, 255, 255] : [0, 0, 0]));
  }
  const mapX = panelX[panelX.length - 1];
  raster.drawPicture(mapX, panelY, size, scale, (x, y) => {
    const [r, g, b] = rgb(x, y);
    const grey = 0.299 * r + 0.587 * g + 0.114 * b;
    const heat = jet((map[y * size + x] - lo) / span);
    return [0, 1, 2].map((c) => Math.round(MAP_ALPHA * heat[c] + (1 - MAP_ALPHA) * grey)) as [number, number, number];
  });
  if (mask !== undefined) raster.outline(mapX, panelY, size, scale, mask, OUTLINE);
  raster.colourBar(barX, panelY, BAR_WIDTH, panel);

  const truth = o.label === null || o.label === undefined ? '' : ` · ground truth: ${o.label === 1 ? 'anomalous' : 'normal'}${o.className ? ` (${o.className})` : ''}`;
  const labels = [
    `<text x="${MARGIN}" y="20" font-size="15">${xmlText(`${o.name ?? ''}${truth}`)}</text>`,
    `<text x="${MARGIN}" y="42" font-size="14">${xmlText(scoreLine(o.score, o.threshold))}</text>`,
  ];
  const titles = mask === undefined ? ['image', 'anomaly map'] : ['image', 'ground truth', 'anomaly map (outline: ground truth)'];
  titles.forEach((t, i) => labels.push(`<text x="${panelX[i]}" y="${panelY - 6}" font-size="13">${xmlText(t)}</text>`));
  const tickX = barX + BAR_WIDTH + 4;
  labels.push(
    `<text x="${tickX}" y="${panelY + 10}" font-size="11">${shortNumber(hi)}</text>`,
    `<text x="${tickX}" y="${panelY + panel / 2 + 4}" font-size="11">${shortNumber((lo + hi) / 2)}</text>`,
    `<text x="${tickX}" y="${panelY + panel}" font-size="11">${shortNumber(lo)}</text>`,
  );
  return { raster, labels, layout };
}

/** Writes the overlay of `o` as a PNG file at `path`. */
export async function writeOverlayPng(path: string, o: OverlayInput): Promise<void> {
  const { raster, labels } = composeOverlay(o);
  await writeFile(path, await encodePng(raster, labels));
}
