/**
 * Reader for VisA (Visual Anomaly dataset) in its distributed layout, driven by the
 * split file the reference code uses:
 *
 * ```
 * <root>/split_csv/1cls.csv          columns: object,split,label,image,mask
 * <root>/<object>/Data/Images/Normal/*.JPG
 * <root>/<object>/Data/Images/Anomaly/*.JPG
 * <root>/<object>/Data/Masks/Anomaly/*.png
 * ```
 *
 * `split` is `train` or `test`, `label` is `normal` or `anomaly`, `image` and `mask` are
 * paths relative to `<root>` (`mask` empty for normal images).
 */

import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '../../errors.js';
import { readCsv } from './csv.js';
import type { DatasetDescription, ImageSample } from '../../data/labelled.js';
import { compareNames, FileIndex } from './files.js';

/** The twelve objects of VisA. */
export const VISA_CATEGORIES: readonly string[] = [
  'candle', 'capsules', 'cashew', 'chewinggum', 'fryum', 'macaroni1', 'macaroni2',
  'pcb1', 'pcb2', 'pcb3', 'pcb4', 'pipe_fryum',
];

/** Options of {@link readVisa}. */
export interface VisaOptions {
  /** Object category (`object` column), e.g. `'candle'`. Required. */
  category: string;
  /** Split file relative to `root`; default `'split_csv/1cls.csv'`. */
  splitFile?: string;
}

const COLUMNS = ['object', 'split', 'label', 'image', 'mask'] as const;

/**
 * List one object of VisA. Classes are `['normal', 'anomaly']`; training images are the
 * `train` rows (normal only in the official 1-class split), test images the `test` rows,
 * anomalous ones with their mask.
 *
 * Note on masks: VisA's masks are resized and then every non-zero pixel is kept by the
 * reference code — pass `threshold: 0` to `decodeMask` to reproduce that.
 *
 * @param root folder holding `split_csv/` and the object folders.
 * @throws InvalidArgumentError for an unknown category (listing those in the CSV).
 * @throws FileFormatError naming the CSV (and line) for a missing column, an unknown
 *   split/label value, an anomaly without mask; or naming the image/mask file that is
 *   listed but missing.
 *
 * @example
 * ```ts
 * const ds = await readVisa('/data/VisA', { category: 'candle' });
 * ```
 */
export async function readVisa(root: string, options: VisaOptions): Promise<DatasetDescription> {
  const category = options?.category;
  if (typeof category !== 'string' || category.length === 0) {
    throw new InvalidArgumentError('options.category', 'a VisA object name (e.g. "candle")', String(category));
  }
  const csvPath = join(root, options.splitFile ?? join('split_csv', '1cls.csv'));
  const table = await readCsv(csvPath, COLUMNS);
  const objects = [...new Set(table.rows.map((r) => r.values.object))].sort(compareNames);
  if (!objects.includes(category)) {
    throw new InvalidArgumentError('options.category', `an object of ${csvPath} (${objects.map((o) => `'${o}'`).join(', ')})`, `'${category}'`);
  }

  const files = new FileIndex();
  const train: ImageSample[] = [];
  const test: ImageSample[] = [];
  for (const { line, values } of table.rows) {
    if (values.object !== category) continue;
    const where = `line ${line}`;
    const split = values.split.trim();
    const labelText = values.label.trim();
    if (split !== 'train' && split !== 'test') {
      throw new FileFormatError(csvPath, `${where}: split '${split}', expected 'train' or 'test'`);
    }
    if (labelText !== 'normal' && labelText !== 'anomaly') {
      throw new FileFormatError(csvPath, `${where}: label '${labelText}', expected 'normal' or 'anomaly'`);
    }
    const path = join(root, values.image.trim());
    if (values.image.trim() === '') throw new FileFormatError(csvPath, `${where}: empty image path`);
    if (!(await files.has(path))) throw new FileFormatError(path, `image listed in ${csvPath} (${where}) not found`);
    const sample: ImageSample = { path, label: labelText === 'anomaly' ? 1 : 0, className: labelText };
    if (labelText === 'anomaly') {
      const mask = values.mask.trim();
      if (mask === '') throw new FileFormatError(csvPath, `${where}: anomalous image without a mask path`);
      sample.maskPath = join(root, mask);
      if (!(await files.has(sample.maskPath))) {
        throw new FileFormatError(sample.maskPath, `mask listed in ${csvPath} (${where}) not found`);
      }
    }
    (split === 'train' ? train : test).push(sample);
  }
  if (train.length === 0) throw new FileFormatError(csvPath, `no training rows for object '${category}'`);
  if (test.length === 0) throw new FileFormatError(csvPath, `no test rows for object '${category}'`);
  return { name: 'visa', root, category, normalClass: 'normal', classes: ['normal', 'anomaly'], train, test };
}
