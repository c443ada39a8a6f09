/**
 * Where a saved model or a training checkpoint is kept: a set of named files that is read
 * file by file and written all at once (the idea of tfjs's IO handlers). ckaad's formats
 * (`saveModel`, the trainer's checkpoints) only ever talk to a {@link Storage}:
 *
 * - `memoryStorage()` (here) keeps the files in memory — tests, browsers, a model passed
 *   between workers; `downloadFiles` / a File list from an `<input>` are thin layers on it;
 * - `ckaad/node` has `modelFolder(dir)` (a model folder: model.json + autoencoder.safetensors,
 *   replaced as a whole) and `checkpointFolder(dir)` (numbered generations behind a pointer).
 */

import { FileFormatError } from '../errors.js';

/** A set of named files, written all at once (see the module notes). */
export interface Storage {
  /** Where the files are, for messages (a folder path, `memory`, …). */
  readonly location: string;
  /** The file `name` of the last complete save, or null when there is none (or no such file). */
  read(name: string): Promise<Uint8Array | null>;
  /**
   * Replaces the stored set by `files`, all at once: a reader (even after a crash in the
   * middle) sees either the previous set or this one, never a mixture.
   */
  write(files: ReadonlyMap<string, Uint8Array>): Promise<void>;
  /** Optional: how a file path recorded in a saved model is stored (e.g. relative to the folder). */
  recordPath?(path: string): string;
  /** Optional: the path a recorded one stands for when reading (the inverse of `recordPath`). */
  resolvePath?(recorded: string): string;
}

/** A {@link Storage} in memory; `files` is the current set (read-only view). */
export interface MemoryStorage extends Storage {
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * A {@link Storage} that keeps its files in memory. Starts with `initial` (e.g. the files a
 * user dropped on a page); every write replaces the set with copies of the written bytes.
 */
export function memoryStorage(initial: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array> = new Map(), location = 'memory'): MemoryStorage {
  let files = new Map(initial instanceof Map ? initial : Object.entries(initial));
  return {
    location,
    get files() {
      return files;
    },
    async read(name) {
      return files.get(name) ?? null;
    },
    async write(next) {
      files = new Map([...next].map(([name, bytes]) => [name, bytes.slice()]));
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of pretty-printed JSON (what ckaad writes as `*.json`). */
export function jsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Reads the JSON file `name` of `storage` that ckaad wrote with `"format": format`: null when
 * absent; the parsed object when it is JSON with that format; else a FileFormatError naming
 * `<location>/<name>` (`what` names the kind of file, e.g. `'ckaad model'`).
 */
export async function readJsonRecord<T extends { format?: unknown }>(storage: Storage, name: string, format: string, what: string): Promise<T | null> {
  const bytes = await storage.read(name);
  if (bytes === null) return null;
  const where = `${storage.location}/${name}`;
  let record: T;
  try {
    record = JSON.parse(utf8(bytes)) as T;
  } catch (e) {
    throw new FileFormatError(where, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof record !== 'object' || record === null || record.format !== format) {
    throw new FileFormatError(where, `not a ${what} (expected "format": "${format}")`);
  }
  return record;
}

/** Text of UTF-8 bytes; throws a TypeError on invalid UTF-8. */
export function utf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
