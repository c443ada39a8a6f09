/**
 * Folder listing for the dataset readers: sorted, hidden files skipped, and every
 * problem (missing folder, empty folder, file where a folder was expected) reported as a
 * {@link FileFormatError} naming the path and what the layout expects there.
 */

import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '../../errors.js';

/** File extensions (lower case) the readers accept as images. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'];

/** True when the file name has one of {@link IMAGE_EXTENSIONS} (any case). */
export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

/**
 * Compare strings by code unit, like Python's `sorted()` on ASCII names and unlike
 * `localeCompare` (whose order depends on the locale).
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `[names of sub-folders, names of files]` of `dir`, sorted, hidden entries skipped. */
export async function listFolder(dir: string, expected: string): Promise<{ dirs: string[]; files: string[] }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileFormatError(dir, `folder not found (expected ${expected})`);
    if (code === 'ENOTDIR') throw new FileFormatError(dir, `is a file, expected a folder (${expected})`);
    throw new FileFormatError(dir, `cannot list folder: ${(e as Error).message}`);
  }
  const dirs: string[] = [];
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const s = await stat(join(dir, entry.name)).catch(() => null);
      isDir = s?.isDirectory() ?? false;
      isFile = s?.isFile() ?? false;
    }
    if (isDir) dirs.push(entry.name);
    else if (isFile) files.push(entry.name);
  }
  dirs.sort(compareNames);
  files.sort(compareNames);
  return { dirs, files };
}

/**
 * Full paths of the image files directly inside `dir`, sorted by name.
 *
 * @throws FileFormatError if `dir` is missing, or (unless `allowEmpty`) holds no image.
 */
export async function listImages(dir: string, expected: string, allowEmpty = false): Promise<string[]> {
  const { files } = await listFolder(dir, expected);
  const images = files.filter(isImageFile).map((f) => join(dir, f));
  if (images.length === 0 && !allowEmpty) {
    throw new FileFormatError(dir, `no images in folder (expected ${expected}; extensions ${IMAGE_EXTENSIONS.join(' ')})`);
  }
  return images;
}

/** True when `path` exists and is a folder. */
export async function isFolder(path: string): Promise<boolean> {
  const s = await stat(path).catch(() => null);
  return s?.isDirectory() ?? false;
}

/** True when `path` exists and is a file. */
export async function isFile(path: string): Promise<boolean> {
  const s = await stat(path).catch(() => null);
  return s?.isFile() ?? false;
}

/**
 * Resolve a user-given class name against the dataset's classes: exact match first, then
 * a unique case-insensitive match.
 *
 * @throws InvalidArgumentError naming `argument` and listing the classes when none matches.
 */
export function resolveClassName(name: string, classes: readonly string[], argument: string): string {
  if (classes.includes(name)) return name;
  const folded = classes.filter((c) => c.toLowerCase() === String(name).toLowerCase());
  if (folded.length === 1) return folded[0];
  throw new InvalidArgumentError(argument, `one of ${classes.map((c) => `'${c}'`).join(', ')}`, `'${name}'`);
}

/**
 * Checks that many files exist with one directory listing per folder instead of one
 * `stat` per file (index CSVs name thousands of files in a few folders).
 */
export class FileIndex {
  private readonly folders = new Map<string, Promise<Set<string> | null>>();

  /** True when `path` names an existing regular file. */
  async has(path: string): Promise<boolean> {
    const dir = dirname(path);
    let listing = this.folders.get(dir);
    if (listing === undefined) {
      listing = readdir(dir, { withFileTypes: true })
        .then((entries) => new Set(entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name)))
        .catch(() => null);
      this.folders.set(dir, listing);
    }
    const names = await listing;
    return names !== null && names.has(basename(path));
  }
}
