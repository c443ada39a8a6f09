/**
 * The page's built-in sample: woven textures from ckaad's synthetic generator — 32 normal and 8
 * with a scratch, hole or stain for training, and 16 test images (8 normal, 8 defective) — at
 * 64×64, each from its own seed, so the same images can be rebuilt anywhere (the browser test
 * writes them as PNGs for `ckaad score`).
 */

import { renderSyntheticSample } from 'ckaad';
import type { ImageBytes, SyntheticDefect } from 'ckaad';

/** An image with the file name the page shows for it. */
export interface NamedImage {
  name: string;
  image: ImageBytes;
}

/** Side of the sample's images. */
export const SAMPLE_SIZE = 64;

const DEFECTS: readonly SyntheticDefect[] = ['scratch', 'hole', 'stain'];

function render(prefix: string, count: number, seed: number, defective: boolean): NamedImage[] {
  return Array.from({ length: count }, (_, i) => {
    const defect = defective ? DEFECTS[i % DEFECTS.length] : null;
    const { image } = renderSyntheticSample('weave', defect, SAMPLE_SIZE, seed + i);
    const name = `${prefix}-${String(i + 1).padStart(2, '0')}${defect === null ? '' : `-${defect}`}.png`;
    return { name, image: { data: image, width: SAMPLE_SIZE, height: SAMPLE_SIZE, channels: 3 } };
  });
}

/** The sample's three sets. */
export function sampleSets(): { normal: NamedImage[]; defective: NamedImage[]; test: NamedImage[] } {
  return {
    normal: render('normal', 32, 1000, false),
    defective: render('defective', 8, 2000, true),
    test: [...render('test-good', 8, 3000, false), ...render('test-bad', 8, 4000, true)],
  };
}
