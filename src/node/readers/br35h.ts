/**
 * Reader for Br35H (brain tumour MRI, 1500 images with a tumour in `yes/`, 1500 without
 * in `no/`; the Kaggle copy's unlabelled `pred/` folder is ignored).
 *
 * The dataset has no official split. The reference code sorts each class's file paths
 * (plain string order) and takes the first 80 % for training and the rest for testing —
 * 1200 / 300 per class. That split is deterministic, not random, and is reproduced here
 * exactly (names compared by code unit, as Python's `sort`).
 */

import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '../../errors.js';
import { labelFor, type DatasetDescription, type ImageSample } from '../../data/labelled.js';
import { listFolder, listImages, resolveClassName } from './files.js';

/** Classes of Br35H: `no` (no tumour) and `yes` (tumour). */
export const BR35H_CLASSES: readonly string[] = ['no', 'yes'];

/** Options of {@link readBr35h}. */
export interface Br35hOptions {
  /** Normal class; default `'no'`. */
  normalClass?: string;
  /** Fraction of each class (in sorted order) used for training; default 0.8. */
  trainFraction?: number;
}

/**
 * List Br35H with the reference's per-class sorted 80/20 split.
 *
 * @param root folder holding `yes/` and `no/` (e.g. `Br35H/`).
 * @throws FileFormatError naming the folder when `yes/` or `no/` is missing or empty.
 * @throws InvalidArgumentError for an unknown normal class or a fraction outside (0, 1).
 *
 * @example
 * ```ts
 * const ds = await readBr35h('/data/Br35H'); // 2400 train, 600 test images
 * ```
 */
export async function readBr35h(root: string, options: Br35hOptions = {}): Promise<DatasetDescription> {
  const normal = resolveClassName(options.normalClass ?? 'no', BR35H_CLASSES, 'options.normalClass');
  const fraction = options.trainFraction ?? 0.8;
  if (!(fraction > 0 && fraction < 1)) {
    throw new InvalidArgumentError('options.trainFraction', 'a number in (0, 1)', String(fraction));
  }
  const { dirs } = await listFolder(root, 'a Br35H root with folders yes/ and no/');
  const train: ImageSample[] = [];
  const test: ImageSample[] = [];
  for (const className of BR35H_CLASSES) {
    if (!dirs.includes(className)) {
      throw new FileFormatError(join(root, className), `missing class folder (expected ${BR35H_CLASSES.join('/, ')}/)`);
    }
    const images = await listImages(join(root, className), `Br35H '${className}' images`);
    const cut = Math.floor(images.length * fraction);
    const label = labelFor(className, normal);
    images.forEach((path, i) => (i < cut ? train : test).push({ path, label, className }));
  }
  return { name: 'br35h', root, normalClass: normal, classes: [...BR35H_CLASSES], train, test };
}
