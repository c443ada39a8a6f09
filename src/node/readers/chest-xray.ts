/**
 * Reader for the pediatric Chest X-ray dataset (Kermany et al. 2018; "ChestXRay2017"):
 * `<root>/train/{NORMAL,PNEUMONIA}/*.jpeg`, `<root>/test/{NORMAL,PNEUMONIA}/*.jpeg`, and
 * the Kaggle copy's small `<root>/val/` when present.
 */

import { readClassFolders } from './class-folders.js';
import type { DatasetDescription } from '../../data/labelled.js';

/** Classes of the Chest X-ray dataset. */
export const CHEST_XRAY_CLASSES: readonly string[] = ['NORMAL', 'PNEUMONIA'];

/** Options of {@link readChestXray}. */
export interface ChestXrayOptions {
  /** Normal class; default `'NORMAL'` (the paper's setting). */
  normalClass?: string;
}

/**
 * List the Chest X-ray dataset. The paper trains on `train/` (with the protocol sampler
 * holding out its own validation split) and tests on `test/`; `val/`, if present, is
 * returned as `validation` but the protocol does not need it.
 *
 * @param root folder holding `train/` and `test/` (e.g. `ChestXRay2017/` or `chest_xray/`).
 * @throws FileFormatError / InvalidArgumentError as {@link readClassFolders}.
 *
 * @example
 * ```ts
 * const ds = await readChestXray('/data/ChestXRay2017');
 * ds.test.filter((s) => s.label === 1).length; // pneumonia test images
 * ```
 */
export function readChestXray(root: string, options: ChestXrayOptions = {}): Promise<DatasetDescription> {
  return readClassFolders(root, { name: 'chest-xray', classes: CHEST_XRAY_CLASSES, normalClass: options.normalClass ?? 'NORMAL' });
}
