/**
 * Reader for ISIC 2018 Task 3 (skin lesion classification) in the challenge's layout:
 *
 * ```
 * <root>/ISIC2018_Task3_Training_Input/<image>.jpg
 * <root>/ISIC2018_Task3_Training_GroundTruth/ISIC2018_Task3_Training_GroundTruth.csv
 * <root>/ISIC2018_Task3_Validation_Input/<image>.jpg
 * <root>/ISIC2018_Task3_Validation_GroundTruth/ISIC2018_Task3_Validation_GroundTruth.csv
 * ```
 *
 * The ground-truth CSVs have an `image` column and one-hot columns MEL, NV, BCC, AKIEC,
 * BKL, DF, VASC. NV (melanocytic nevus) is normal. As in the paper, the official
 * validation set serves as the test set.
 */

import { join } from 'node:path';
import { FileFormatError } from '../../errors.js';
import { readCsv } from './csv.js';
import { labelFor, type DatasetDescription, type ImageSample } from '../../data/labelled.js';
import { FileIndex, resolveClassName } from './files.js';

/** Diagnosis columns of the ISIC 2018 Task 3 ground truth, in file order. */
export const ISIC2018_CLASSES: readonly string[] = ['MEL', 'NV', 'BCC', 'AKIEC', 'BKL', 'DF', 'VASC'];

/** Options of {@link readIsic2018}. */
export interface Isic2018Options {
  /** Normal class; default `'NV'`. */
  normalClass?: string;
}

/** Parse one split: CSV rows → samples, each image checked to exist. */
async function readSplit(root: string, split: 'Training' | 'Validation', normal: string): Promise<ImageSample[]> {
  const inputDir = join(root, `ISIC2018_Task3_${split}_Input`);
  const csvPath = join(root, `ISIC2018_Task3_${split}_GroundTruth`, `ISIC2018_Task3_${split}_GroundTruth.csv`);
  const table = await readCsv(csvPath, ['image', ...ISIC2018_CLASSES]);
  if (table.rows.length === 0) throw new FileFormatError(csvPath, 'no data rows (expected one row per image)');
  const files = new FileIndex();
  const samples: ImageSample[] = [];
  for (const { line, values } of table.rows) {
    const hot: string[] = [];
    for (const c of ISIC2018_CLASSES) {
      const v = Number(values[c]);
      if (!(v === 0 || v === 1) || values[c].trim() === '') {
        throw new FileFormatError(csvPath, `line ${line}: column ${c} is '${values[c]}', expected 0.0 or 1.0`);
      }
      if (v === 1) hot.push(c);
    }
    if (hot.length !== 1) {
      throw new FileFormatError(csvPath, `line ${line}: ${hot.length} diagnoses marked (${hot.join(', ') || 'none'}), expected exactly one`);
    }
    const id = values.image.trim();
    const path = join(inputDir, `${id}.jpg`);
    if (!(await files.has(path))) throw new FileFormatError(path, `image listed in ${csvPath} (line ${line}) not found`);
    samples.push({ path, label: labelFor(hot[0], normal), className: hot[0] });
  }
  return samples;
}

/**
 * List ISIC 2018 Task 3: training images from the training split, test images from the
 * official validation split.
 *
 * @param root folder holding the `ISIC2018_Task3_*` folders.
 * @throws FileFormatError naming the CSV (and line) for a missing column, a row without
 *   exactly one diagnosis, or naming a listed image that is missing.
 * @throws InvalidArgumentError for an unknown normal class.
 *
 * @example
 * ```ts
 * const ds = await readIsic2018('/data/ISIC2018'); // NV normal, 6 anomaly classes
 * ```
 */
export async function readIsic2018(root: string, options: Isic2018Options = {}): Promise<DatasetDescription> {
  const normal = resolveClassName(options.normalClass ?? 'NV', ISIC2018_CLASSES, 'options.normalClass');
  const train = await readSplit(root, 'Training', normal);
  const test = await readSplit(root, 'Validation', normal);
  return { name: 'isic2018', root, normalClass: normal, classes: [...ISIC2018_CLASSES], train, test };
}
