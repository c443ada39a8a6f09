/**
 * Reader for a plain folder layout a user can assemble by hand:
 *
 * ```
 * <root>/normal/*.png                      normal training images (required)
 * <root>/anomalous/<type>/*.png            labelled anomalous training images (optional;
 *                                          images directly in anomalous/ get type 'anomalous')
 * <root>/test/normal/*.png                 normal test images
 * <root>/test/anomalous/<type>/*.png       anomalous test images
 * <root>/test/masks/<type>/<name>_mask.png optional masks (or <name>.<ext>)
 * ```
 *
 * `test/` is optional; when present it needs both `normal/` and `anomalous/`. When a mask
 * folder exists for a type, every test image of that type must have a mask.
 */

import { basename, extname, join } from 'node:path';
import { FileFormatError } from '../../errors.js';
import type { DatasetDescription, ImageSample } from '../../data/labelled.js';
import { compareNames, isFolder, isImageFile, listFolder, listImages } from './files.js';

/** Name of the normal class in the plain folder layout. */
export const FOLDER_NORMAL = 'normal';

/** List `<dir>/<type>/*` (and loose images in `<dir>` as type `fallback`). */
async function readTypes(dir: string, fallback: string, what: string): Promise<Map<string, string[]>> {
  const { dirs, files } = await listFolder(dir, what);
  const types = new Map<string, string[]>();
  const loose = files.filter(isImageFile).map((f) => join(dir, f));
  if (loose.length > 0) types.set(fallback, loose);
  for (const type of dirs) {
    if (type === FOLDER_NORMAL) {
      throw new FileFormatError(join(dir, type), `an anomaly type cannot be called '${FOLDER_NORMAL}' (that is the normal class)`);
    }
    const images = await listImages(join(dir, type), `${what}: images of type '${type}'`);
    types.set(type, [...(types.get(type) ?? []), ...images]);
  }
  if (types.size === 0) throw new FileFormatError(dir, `no images (expected ${what})`);
  return types;
}

/** Mask file for `image` in `maskDir`: `<stem>_mask.<ext>` or `<stem>.<ext>`. */
function findMask(image: string, maskFiles: readonly string[]): string | undefined {
  const stem = basename(image, extname(image));
  return (
    maskFiles.find((f) => basename(f, extname(f)) === `${stem}_mask`) ??
    maskFiles.find((f) => basename(f, extname(f)) === stem)
  );
}

/**
 * List a dataset in the plain folder layout (see the module notes). Classes are
 * `['normal', ...anomaly types sorted]`.
 *
 * @throws FileFormatError naming the folder for a missing `normal/`, an empty folder, a
 *   `test/` without `normal/` or `anomalous/`, or naming the expected mask file when a
 *   type's mask folder lacks one.
 *
 * @example
 * ```ts
 * const ds = await readFolderDataset('./my-parts');
 * ds.train.filter((s) => s.label === 1); // the labelled anomalies from anomalous/
 * ```
 */
export async function readFolderDataset(root: string): Promise<DatasetDescription> {
  await listFolder(root, 'a dataset folder with normal/ (and optionally anomalous/ and test/)');
  const normalDir = join(root, FOLDER_NORMAL);
  const train: ImageSample[] = (await listImages(normalDir, 'normal training images in normal/')).map((path) => ({
    path,
    label: 0,
    className: FOLDER_NORMAL,
  }));
  const typeNames = new Set<string>();
  const anomalousDir = join(root, 'anomalous');
  if (await isFolder(anomalousDir)) {
    for (const [type, images] of await readTypes(anomalousDir, 'anomalous', 'labelled anomalies in anomalous/<type>/')) {
      typeNames.add(type);
      for (const path of images) train.push({ path, label: 1, className: type });
    }
  }

  const test: ImageSample[] = [];
  const testDir = join(root, 'test');
  if (await isFolder(testDir)) {
    for (const path of await listImages(join(testDir, FOLDER_NORMAL), 'normal test images in test/normal/')) {
      test.push({ path, label: 0, className: FOLDER_NORMAL });
    }
    const types = await readTypes(join(testDir, 'anomalous'), 'anomalous', 'anomalous test images in test/anomalous/<type>/');
    for (const [type, images] of types) {
      typeNames.add(type);
      const maskDir = join(testDir, 'masks', type);
      const maskFiles = (await isFolder(maskDir)) ? (await listFolder(maskDir, 'masks')).files.filter(isImageFile) : null;
      for (const path of images) {
        const sample: ImageSample = { path, label: 1, className: type };
        if (maskFiles !== null) {
          const mask = findMask(path, maskFiles);
          if (mask === undefined) {
            const stem = basename(path, extname(path));
            throw new FileFormatError(join(maskDir, `${stem}_mask.png`), `missing mask for ${path} (expected <name>_mask.<ext> or <name>.<ext>)`);
          }
          sample.maskPath = join(maskDir, mask);
        }
        test.push(sample);
      }
    }
  }
  return {
    name: 'folder',
    root,
    normalClass: FOLDER_NORMAL,
    classes: [FOLDER_NORMAL, ...[...typeNames].sort(compareNames)],
    train,
    test,
  };
}
