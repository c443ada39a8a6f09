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

let writesInFlight = 0;
const onSettled: (() => void)[] = [];

/**
 * Runs `write` (a save that replaces files or folders) as a unit the command line waits for:
 * a second Ctrl-C quits only once no such write is in progress (see {@link writesSettled}),
 * so it never cuts a checkpoint or model save in half.
 */
export async function guardedWrite<T>(write: () => Promise<T>): Promise<T> {
  writesInFlight += 1;
  try {
    return await write();
  } finally {
    writesInFlight -= 1;
    if (writesInFlight === 0) for (const settle of onSettled.splice(0)) settle();
  }
}

/** Number of {@link guardedWrite}s in progress. */
export function writesInProgress(): number {
  return writesInFlight;
}

/** Resolves when no {@link guardedWrite} is in progress (at once if none is). */
export function writesSettled(): Promise<void> {
  if (writesInFlight === 0) return Promise.resolve();
  return new Promise((settle) => onSettled.push(settle));
}

/**
 * A temporary sibling name for `path`: `.name.<pid>-<random>.tmp` in the same directory. The
 * process id lets a later run tell a temporary of a process that died (`kill -9`, a crash,
 * power loss) from one being written right now ({@link removeAbandoned}).
 */
export async function temporarySibling(path: string): Promise<string> {
  const { path: p, crypto } = await nodeModules();
  return p.join(p.dirname(path), `.${p.basename(path)}.${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`);
}

/** Whether process `pid` is alive (on this machine). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes what writes of `target` by processes that are gone left beside it: temporary
 * siblings `.name.<pid>-<hex>.tmp` ({@link temporarySibling}; also 0.2.0's `.name.<hex>.tmp`)
 * and aside copies `….tmp.old` of a folder swap ({@link replaceFolder}) — only names of
 * ours, never one of a process still running. A swap cut between its two renames (no
 * `target`, an aside copy left) is completed first: the new folder, complete by then, takes
 * the target's name (or, without it, the previous one goes back).
 *
 * @returns the names removed or moved back.
 */
export async function removeAbandoned(target: string): Promise<string[]> {
  const { fs, path: p } = await nodeModules();
  const dir = p.dirname(target);
  const ours = new RegExp(`^\\.${escapeRegExp(p.basename(target))}\\.(?:(\\d+)-[0-9a-f]+|[0-9a-f]{12})\\.tmp(\\.old)?$`);
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  const abandoned = entries.flatMap((name) => {
    const m = ours.exec(name);
    if (m === null || (m[1] !== undefined && isAlive(Number(m[1])))) return [];
    return [{ name, stem: name.replace(/\.old$/, ''), aside: m[2] !== undefined }];
  });
  const done: string[] = [];
  if (abandoned.length === 0) return done;
  if ((await fs.stat(target).catch(() => null)) === null) {
    const aside = abandoned.find((e) => e.aside);
    if (aside !== undefined) {
      const staged = abandoned.find((e) => !e.aside && e.name === aside.stem);
      const restore = staged ?? aside;
      await fs.rename(p.join(dir, restore.name), target);
      done.push(restore.name);
      abandoned.splice(abandoned.indexOf(restore), 1);
    }
  }
  for (const e of abandoned) {
    await fs.rm(p.join(dir, e.name), { recursive: true, force: true });
    done.push(e.name);
  }
  return done;
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
  await guardedWrite(async () => {
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
  });
}

/** Writes `value` as pretty-printed JSON to `path` atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Moves the complete folder `staging` (a {@link temporarySibling} of `target`) to `target`,
 * replacing what is there: the old folder moves aside, the new one takes its name, then the
 * old one is deleted. A crash leaves the old folder or the new one at `target` — or, cut
 * between the two renames, both beside it, which the next run of ours puts right
 * ({@link removeAbandoned}).
 */
export async function replaceFolder(staging: string, target: string): Promise<void> {
  const { fs } = await nodeModules();
  await guardedWrite(async () => {
    if ((await fs.stat(target).catch(() => null)) === null) {
      await fs.rename(staging, target);
      return;
    }
    const old = `${staging}.old`;
    await fs.rename(target, old);
    await fs.rename(staging, target);
    await fs.rm(old, { recursive: true, force: true });
  });
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
