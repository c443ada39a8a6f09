/**
 * Reader for the MVTec AD layout (also used by MVTec-style sets such as BTAD and by
 * {@link generateSyntheticDefects}):
 *
 * ```
 * <root>/<category>/train/good/*.png
 * <root>/<category>/test/good/*.png
 * <root>/<category>/test/<defect>/*.png
 * <root>/<category>/ground_truth/<defect>/<name>_mask.png
 * ```
 *
 * Training data holds normal images only; labelled anomalies for training are made with
 * elastic transformations (docs/reference-implementation.md §5). Masks are paired with images by name (the reference
 * pairs two sorted lists, which silently mispairs when a mask is missing).
 */

import { basename, extname, join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '../../errors.js';
import type { DatasetDescription, ImageSample } from '../../data/labelled.js';
import { isImageFile, listFolder, listImages } from './files.js';

/** Name of the normal class in MVTec-style layouts. */
export const MVTEC_GOOD = 'good';

/** The fifteen categories of MVTec AD. */
export const MVTEC_AD_CATEGORIES: readonly string[] = [
  'bottle', 'cable', 'capsule', 'carpet', 'grid', 'hazelnut', 'leather', 'metal_nut',
  'pill', 'screw', 'tile', 'toothbrush', 'transistor', 'wood', 'zipper',
];

/** Options of {@link readMvtec}. */
export interface MvtecOptions {
  /** Object category, i.e. the sub-folder of `root` (e.g. `'bottle'`). Required. */
  category: string;
}

/**
 * List one category of an MVTec AD-style dataset.
 *
 * Classes are `['good', ...defect types sorted]`; `good` is normal. Anomalous test images
 * carry the path of their mask (`ground_truth/<defect>/<name>_mask.png`).
 *
 * @param root folder holding the category folders (e.g. `mvtec_anomaly_detection/`).
 * @throws InvalidArgumentError for an unknown category (listing the available ones).
 * @throws FileFormatError naming the folder or file for a missing/empty `train/good`,
 *   `test`, defect folder, or a missing mask.
 *
 * @example
 * ```ts
 * const ds = await readMvtec('/data/mvtec_anomaly_detection', { category: 'bottle' });
 * ds.train.length;                 // 209 normal training images
 * ds.test.filter((s) => s.label);  // anomalous test images, each with maskPath
 * ```
 */
export async function readMvtec(root: string, options: MvtecOptions): Promise<DatasetDescription> {
  const category = options?.category;
  if (typeof category !== 'string' || category.length === 0) {
    throw new InvalidArgumentError('options.category', 'the name of a category folder (e.g. "bottle")', String(category));
  }
  const { dirs: categories } = await listFolder(root, 'an MVTec AD root with one folder per category');
  if (!categories.includes(category)) {
    const list = categories.length > 0 ? categories.map((c) => `'${c}'`).join(', ') : 'none found';
    throw new InvalidArgumentError('options.category', `a category folder of ${root} (${list})`, `'${category}'`);
  }
  const dir = join(root, category);

  // Training: train/good only.
  const trainDir = join(dir, 'train');
  const { dirs: trainDirs } = await listFolder(trainDir, `${category}/train/good`);
  for (const d of trainDirs) {
    if (d !== MVTEC_GOOD) {
      throw new FileFormatError(join(trainDir, d), `unexpected folder (MVTec AD training data has only train/${MVTEC_GOOD})`);
    }
  }
  const train: ImageSample[] = (await listImages(join(trainDir, MVTEC_GOOD), `normal training images in ${category}/train/good`)).map(
    (path) => ({ path, label: 0, className: MVTEC_GOOD }),
  );

  // Test: test/good and test/<defect>, with masks for defects.
  const testDir = join(dir, 'test');
  const { dirs: testDirs } = await listFolder(testDir, `${category}/test/<good|defect>`);
  if (testDirs.length === 0) throw new FileFormatError(testDir, 'no class folders (expected test/good and test/<defect>)');
  const test: ImageSample[] = [];
  const defects: string[] = [];
  for (const className of testDirs) {
    const images = await listImages(join(testDir, className), `test images of class ${className}`);
    if (className === MVTEC_GOOD) {
      for (const path of images) test.push({ path, label: 0, className });
      continue;
    }
    defects.push(className);
    const maskDir = join(dir, 'ground_truth', className);
    const { files } = await listFolder(maskDir, `ground-truth masks <name>_mask.png for test/${className}`);
    const masks = new Set(files.filter(isImageFile));
    for (const path of images) {
      const stem = basename(path, extname(path));
      const mask = `${stem}_mask.png`;
      if (!masks.has(mask)) {
        throw new FileFormatError(join(maskDir, mask), `missing ground-truth mask for ${path}`);
      }
      test.push({ path, label: 1, className, maskPath: join(maskDir, mask) });
    }
  }
  return {
    name: 'mvtec-ad',
    root,
    category,
    normalClass: MVTEC_GOOD,
    classes: [MVTEC_GOOD, ...defects],
    train,
    test,
  };
}
