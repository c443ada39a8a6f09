/**
 * Crash-safe file writing (Node): write to a temporary name in the same directory, flush,
 * then rename over the target. A reader sees either the old or the new file, never a part.
 *
 * Node's modules are imported on first use, so that importing ckaad in a browser does not
 * fail on them (only checkpoints and saved models need a file system).
 */

import { FileFormatError } from '../errors.js';

/** Node's file-system, path and crypto modules, loaded on first use. */
export async function nodeModules(): Promise<{
  fs: typeof import('node:fs/promises');
  stream: typeof import('node:fs');
  path: typeof import('node:path');
  crypto: typeof import('node:crypto');
}> {
  const [fs, stream, path, crypto] = await Promise.all([
    import('node:fs/promises'),
    import('node:fs'),
    import('node:path'),
    import('node:crypto'),
  ]);
  return { fs, stream, path, crypto };
}

/** A temporary sibling name for `path`: `.name.<random>.tmp` in the same directory. */
export async function temporarySibling(path: string): Promise<string> {
  const { path: p, crypto } = await nodeModules();
  return p.join(p.dirname(path), `.${p.basename(path)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `data` to `path` atomically (temp file + fsync + rename).
 *
 * @param options.mkdir create missing parent folders first (default true).
 * @throws FileFormatError naming `path` if it cannot be written.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { mkdir?: boolean } = {},
): Promise<void> {
  const { fs, path: p } = await nodeModules();
  const tmp = await temporarySibling(path);
  try {
    if (options.mkdir ?? true) await fs.mkdir(p.dirname(path), { recursive: true });
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new FileFormatError(path, `cannot write file (${(e as Error).message})`);
  }
}

/** Writes `value` as pretty-printed JSON to `path` atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Moves the complete folder `staging` to `target` (a sibling), replacing what is there: the old
 * folder moves aside, the new one takes its name, then the old one is deleted. A crash leaves
 * either the old folder or the new one at `target` (and at worst an aside copy, named
 * `<staging>.old`, for the next run of ours to clean up).
 */
export async function replaceFolder(staging: string, target: string): Promise<void> {
  const { fs } = await nodeModules();
  if ((await fs.stat(target).catch(() => null)) === null) {
    await fs.rename(staging, target);
    return;
  }
  const old = `${staging}.old`;
  await fs.rename(target, old);
  await fs.rename(staging, target);
  await fs.rm(old, { recursive: true, force: true });
}

/**
 * What stands at a path that ckaad is about to replace with a folder of its own.
 * - `absent`: nothing; `empty`: an empty folder; `ours`: a folder that holds `marker.file`
 *   whose JSON `format` field is one of `marker.formats` (a folder ckaad wrote);
 * - `file`: not a folder; `foreign`: a folder with anything else in it.
 *
 * Only `absent`, `empty` and `ours` may be replaced: ckaad never deletes a folder of someone
 * else's files, whatever flag the user passed.
 */
export type FolderState = 'absent' | 'empty' | 'ours' | 'file' | 'foreign';

/** The file and `format` values that mark a folder as written by ckaad. */
export interface FolderMarker {
  readonly file: string;
  readonly formats: readonly string[];
}

/** Classifies `path` (see {@link FolderState}). */
export async function folderState(path: string, marker: FolderMarker): Promise<FolderState> {
  const { fs, path: p } = await nodeModules();
  const info = await fs.stat(path).catch(() => null);
  if (info === null) return 'absent';
  if (!info.isDirectory()) return 'file';
  if ((await fs.readdir(path)).length === 0) return 'empty';
  try {
    const parsed = JSON.parse(await fs.readFile(p.join(path, marker.file), 'utf8')) as { format?: unknown };
    return typeof parsed?.format === 'string' && marker.formats.includes(parsed.format) ? 'ours' : 'foreign';
  } catch {
    return 'foreign';
  }
}
