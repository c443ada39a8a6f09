/**
 * The synthetic fine-grained defect set on disk, in the MVTec AD layout (the images come from
 * `renderSyntheticSample`, data/synthetic.ts):
 *
 * ```
 * <target>/<class>/train/good/000.png …
 * <target>/<class>/test/good/000.png …
 * <target>/<class>/test/<defect>/000.png …
 * <target>/<class>/ground_truth/<defect>/000_mask.png …   (0 / 255, one channel)
 * <target>/ckaad-synthetic.json                            (the generator's settings)
 * ```
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS, renderSyntheticSample } from '../data/synthetic.js';
import type { SyntheticClass, SyntheticDefect } from '../data/synthetic.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import { folderState, replaceFolder } from './atomic.js';
import { loadSharp } from './sharp.js';

/** Options of {@link generateSyntheticDefects}. */
export interface SyntheticOptions {
  /** Folder to create (MVTec AD root). Required. */
  target: string;
  /** Seed; equal seeds give byte-identical files. Default 0. */
  seed?: number;
  /** Image side in pixels (≥ 32); default 256. */
  size?: number;
  /** Classes to generate; default both. */
  classes?: readonly SyntheticClass[];
  /** Defect kinds to generate; default all four. */
  defects?: readonly SyntheticDefect[];
  /** Normal training images per class; default 20. */
  trainCount?: number;
  /** Normal test images per class; default 8. */
  testGoodCount?: number;
  /** Test images per class and defect kind; default 4. */
  testDefectCount?: number;
  /**
   * Replace a synthetic set written here before (its ckaad-synthetic.json says so); default
   * false. A folder of other files is never replaced.
   */
  overwrite?: boolean;
}

/** What {@link generateSyntheticDefects} wrote. */
export interface SyntheticSummary {
  root: string;
  classes: SyntheticClass[];
  defects: SyntheticDefect[];
  /** Number of image files written. */
  images: number;
  /** Number of mask files written. */
  masks: number;
}

async function writePng(path: string, pixels: Uint8Array, size: number, channels: 1 | 3): Promise<void> {
  const sharp = await loadSharp();
  let img = sharp(pixels, { raw: { width: size, height: size, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  await writeFile(path, await img.png({ compressionLevel: 9 }).toBuffer());
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`options.${name}`, `an integer ≥ ${min}`, String(v));
  return v;
}

/** `format` of the manifest (ckaad-synthetic.json) that marks a folder as a synthetic set. */
export const SYNTHETIC_FORMAT = 'ckaad-synthetic';
const SYNTHETIC_MARKER = { file: 'ckaad-synthetic.json', formats: [SYNTHETIC_FORMAT] } as const;

/**
 * Generate the synthetic fine-grained defect set (see the module notes). Files are written
 * to a temporary folder next to `target` and moved into place at the end, so `target`
 * never holds a partial dataset.
 *
 * @throws FileFormatError when `target` is a file, a folder of other files (whatever `overwrite`
 *   says), or an earlier synthetic set without `overwrite`.
 * @throws InvalidArgumentError for bad counts, size, classes or defects.
 *
 * @example
 * ```ts
 * await generateSyntheticDefects({ target: '/tmp/synthetic', size: 128, seed: 1 });
 * const ds = await readMvtec('/tmp/synthetic', { category: 'disc' });
 * ```
 */
export async function generateSyntheticDefects(options: SyntheticOptions): Promise<SyntheticSummary> {
  if (typeof options?.target !== 'string' || options.target === '') {
    throw new InvalidArgumentError('options.target', 'a folder path');
  }
  const target = resolve(options.target);
  const seed = options.seed ?? 0;
  const size = count('size', options.size, 256, 32);
  const trainCount = count('trainCount', options.trainCount, 20, 1);
  const testGoodCount = count('testGoodCount', options.testGoodCount, 8, 1);
  const testDefectCount = count('testDefectCount', options.testDefectCount, 4, 1);
  const classes = [...(options.classes ?? SYNTHETIC_CLASSES)];
  const defects = [...(options.defects ?? SYNTHETIC_DEFECTS)];
  if (classes.length === 0 || classes.some((c) => !SYNTHETIC_CLASSES.includes(c)) || new Set(classes).size !== classes.length) {
    throw new InvalidArgumentError('options.classes', `distinct names among ${SYNTHETIC_CLASSES.join(', ')}`, JSON.stringify(classes));
  }
  if (defects.length === 0 || defects.some((d) => !SYNTHETIC_DEFECTS.includes(d)) || new Set(defects).size !== defects.length) {
    throw new InvalidArgumentError('options.defects', `distinct names among ${SYNTHETIC_DEFECTS.join(', ')}`, JSON.stringify(defects));
  }
  const rng = new Rng(seed); // validates the seed

  const state = await folderState(target, SYNTHETIC_MARKER);
  if (state === 'file') throw new FileFormatError(target, 'exists and is a file, expected a folder to create');
  if (state === 'foreign') {
    throw new FileFormatError(target, 'folder holds files that are not a ckaad synthetic set; ckaad never replaces such a folder (pick a new or empty one)');
  }
  if (state === 'ours' && options.overwrite !== true) {
    throw new FileFormatError(target, 'holds a synthetic set already; pass overwrite: true to replace it');
  }

  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const tmp = await mkdtemp(join(parent, `.${basename(target)}.tmp-`));
  let images = 0;
  let masks = 0;
  try {
    for (const className of classes) {
      const dir = join(tmp, className);
      const emit = async (folder: string, n: number, defect: SyntheticDefect | null) => {
        await mkdir(join(dir, folder), { recursive: true });
        if (defect !== null) await mkdir(join(dir, 'ground_truth', defect), { recursive: true });
        for (let i = 0; i < n; i++) {
          const name = String(i).padStart(3, '0');
          const sample = renderSyntheticSample(className, defect, size, rng.fork());
          await writePng(join(dir, folder, `${name}.png`), sample.image, size, 3);
          images++;
          if (defect !== null) {
            const m = sample.mask.map((v) => v * 255);
            await writePng(join(dir, 'ground_truth', defect, `${name}_mask.png`), m, size, 1);
            masks++;
          }
        }
      };
      await emit(join('train', 'good'), trainCount, null);
      await emit(join('test', 'good'), testGoodCount, null);
      for (const defect of defects) await emit(join('test', defect), testDefectCount, defect);
    }
    const manifest = { format: SYNTHETIC_FORMAT, generator: 'ckaad synthetic fine-grained defects', version: 1, seed, size, classes, defects, trainCount, testGoodCount, testDefectCount };
    await writeFile(join(tmp, 'ckaad-synthetic.json'), JSON.stringify(manifest, null, 2) + '\n');

    await replaceFolder(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { root: target, classes, defects, images, masks };
}
