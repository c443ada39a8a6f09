/**
 * Datasets as the command line sees them: one of the pipeline's dataset kinds chosen by
 * `--dataset` (src/pipeline/datasets.ts), its images as {@link CliItem}s, errors naming the
 * flags they came from.
 */

import { InvalidArgumentError } from '../errors.js';
import { renameArguments, renamed } from '../pipeline/arguments.js';
import { openDataset as openAnyDataset } from '../pipeline/datasets.js';
import type { DataItem, Dataset, DatasetKind as AnyDatasetKind } from '../pipeline/datasets.js';
import type { SkippedImage } from '../node/stream.js';
import { OptionError } from './errors.js';
import { log } from './io.js';
import type { CliIo } from './io.js';

export { loadAll, loadBatches } from '../pipeline/decode.js';
export type { LoadOptions } from '../pipeline/decode.js';
export type { DatasetSetting } from '../pipeline/datasets.js';

/** Values of `--dataset`, in the order `--help` lists them (the synthetic set is `ckaad demo`'s). */
export const DATASET_KINDS = [
  'mvtec',
  'visa',
  'chest-xray',
  'oct2017',
  'br35h',
  'isic2018',
  'fashion-mnist',
  'mnist',
  'folder',
] as const satisfies readonly AnyDatasetKind[];

/** One of {@link DATASET_KINDS}. */
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** One image of a dataset. */
export type CliItem = DataItem;

/** A dataset opened with `--dataset` and `--root`. */
export type CliDataset = Dataset;

/** Options of {@link openDataset} (the `--dataset` group's values). */
export interface OpenDatasetOptions {
  dataset: DatasetKind;
  root: string;
  category?: string;
  normalClass?: string;
}

/** The flag each dataset argument comes from. */
const DATASET_FLAGS: Readonly<Record<string, string>> = {
  kind: '--dataset',
  category: '--category',
  normalClass: '--normal-class',
  'options.category': '--category',
  'options.normalClass': '--normal-class',
};

/** Copies `error` with its argument renamed to a command-line flag (e.g. `--normal-class`). */
export function asOptionError(error: InvalidArgumentError, flag: string): OptionError {
  return renamed(error, { [error.argument]: flag }, OptionError) as OptionError;
}

/**
 * Lists a dataset with the reader `options.dataset` names.
 *
 * @throws OptionError naming `--category` / `--normal-class` for values the dataset does not
 *   have; FileFormatError naming the folder or file for a missing or empty folder, a missing
 *   mask, or a malformed IDX file.
 */
export function openDataset(options: OpenDatasetOptions): Promise<CliDataset> {
  const { dataset: kind, root, category, normalClass } = options;
  return renameArguments(() => openAnyDataset({ kind, root, category, normalClass }), DATASET_FLAGS, OptionError);
}

/** An `onSkip` callback that logs each skipped image as a warning and collects it in `into`. */
export function skipLogger(io: CliIo, into: SkippedImage[]): (s: SkippedImage) => void {
  return (s) => {
    into.push(s);
    log(io, `warning: skipped ${s.path}: ${s.error.message.replace(/\n/g, '; ')}`);
  };
}
