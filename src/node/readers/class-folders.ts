/**
 * Generic reader for "one folder per class, one folder per split" layouts, the shape of
 * the Chest X-ray and OCT2017 datasets:
 *
 * ```
 * <root>/train/<CLASS>/*.jpeg
 * <root>/test/<CLASS>/*.jpeg
 * <root>/val/<CLASS>/*.jpeg      (optional)
 * ```
 *
 * Class folders are matched to the expected class names case-insensitively; every class
 * must be present and non-empty in `train` and `test`.
 */

import { join } from 'node:path';
import { FileFormatError } from '../../errors.js';
import { labelFor, type DatasetDescription, type ImageSample } from '../../data/labelled.js';
import { isFolder, listFolder, listImages, resolveClassName } from './files.js';

/** Options of {@link readClassFolders}. */
export interface ClassFoldersOptions {
  /** Reader name recorded in the description, e.g. `'chest-xray'`. */
  name: string;
  /** The dataset's classes in canonical order (folder names, any case). */
  classes: readonly string[];
  /** Normal class (label 0); matched case-insensitively against `classes`. */
  normalClass: string;
  /** Folder names of the splits; defaults `train`, `test`, and `val` (used when present). */
  splits?: { train?: string; test?: string; validation?: string };
}

/** List one split folder: every class sub-folder must be known, present and non-empty. */
async function readSplit(dir: string, split: string, o: ClassFoldersOptions, normal: string): Promise<ImageSample[]> {
  const expected = `one folder per class (${o.classes.join(', ')}) in ${split}/`;
  const { dirs } = await listFolder(dir, expected);
  const found = new Map<string, string>(); // canonical class → folder name
  for (const folder of dirs) {
    const canonical = o.classes.find((c) => c.toLowerCase() === folder.toLowerCase());
    if (canonical === undefined) {
      throw new FileFormatError(join(dir, folder), `unexpected class folder '${folder}' (expected ${o.classes.join(', ')})`);
    }
    if (found.has(canonical)) {
      throw new FileFormatError(join(dir, folder), `two folders for class ${canonical}: '${found.get(canonical)}' and '${folder}'`);
    }
    found.set(canonical, folder);
  }
  const samples: ImageSample[] = [];
  for (const className of o.classes) {
    const folder = found.get(className);
    if (folder === undefined) {
      throw new FileFormatError(join(dir, className), `missing class folder (expected ${expected})`);
    }
    const images = await listImages(join(dir, folder), `${className} images in ${split}/${folder}`);
    for (const path of images) samples.push({ path, label: labelFor(className, normal), className });
  }
  return samples;
}

/**
 * List a class-per-folder dataset with train/test (and optional validation) splits.
 *
 * @throws InvalidArgumentError when `normalClass` is not one of `classes`.
 * @throws FileFormatError naming the folder when a split or class folder is missing,
 *   empty, or not one of the expected classes.
 */
export async function readClassFolders(root: string, options: ClassFoldersOptions): Promise<DatasetDescription> {
  const normal = resolveClassName(options.normalClass, options.classes, 'options.normalClass');
  const names = { train: 'train', test: 'test', validation: 'val', ...options.splits };
  const train = await readSplit(join(root, names.train), names.train, options, normal);
  const test = await readSplit(join(root, names.test), names.test, options, normal);
  const description: DatasetDescription = {
    name: options.name,
    root,
    normalClass: normal,
    classes: [...options.classes],
    train,
    test,
  };
  const valDir = join(root, names.validation);
  if (await isFolder(valDir)) description.validation = await readSplit(valDir, names.validation, options, normal);
  return description;
}
