/**
 * Reader for the retinal OCT2017 dataset (Kermany et al. 2018):
 * `<root>/{train,test}/{NORMAL,CNV,DME,DRUSEN}/*.jpeg`, plus `<root>/val/` when present.
 */

import { readClassFolders } from './class-folders.js';
import type { DatasetDescription } from '../../data/labelled.js';

/** Classes of OCT2017: normal retinas and three diseases. */
export const OCT2017_CLASSES: readonly string[] = ['NORMAL', 'CNV', 'DME', 'DRUSEN'];

/** Options of {@link readOct2017}. */
export interface Oct2017Options {
  /** Normal class; default `'NORMAL'`. */
  normalClass?: string;
}

/**
 * List OCT2017. Anomaly classes are CNV, DME and DRUSEN (when NORMAL is normal); the
 * protocol sampler draws labelled anomalies from one or several of them.
 *
 * @param root folder holding `train/` and `test/` (e.g. `OCT2017/`).
 * @throws FileFormatError / InvalidArgumentError as {@link readClassFolders}.
 *
 * @example
 * ```ts
 * const ds = await readOct2017('/data/OCT2017');
 * ```
 */
export function readOct2017(root: string, options: Oct2017Options = {}): Promise<DatasetDescription> {
  return readClassFolders(root, { name: 'oct2017', classes: OCT2017_CLASSES, normalClass: options.normalClass ?? 'NORMAL' });
}
