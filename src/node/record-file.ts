/**
 * Files of fixed-size records — decoded images, an image's backbone features — read back by
 * record index with positioned synchronous reads (an `ImageDataset.batch` is synchronous), and
 * written whole under a temporary name that is renamed into place once complete, so a reader
 * never sees a partial file.
 */

import { closeSync, openSync, readSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';

import { InvalidArgumentError } from '../errors.js';
import { temporarySibling } from './atomic.js';

/** Random access to the records of a file; close it when done. */
export interface RecordFile {
  readonly path: string;
  /** Bytes per record. */
  readonly recordBytes: number;
  /** Number of records. */
  readonly count: number;
  /**
   * The records at `indices`, concatenated (one read for consecutive indices).
   *
   * @throws InvalidArgumentError for an index outside [0, count), a file that is shorter than
   *   expected, or a closed file.
   */
  read(indices: readonly number[]): Uint8Array;
  /** Closes the file; reads after closing throw. Idempotent. */
  close(): void;
}

/** Opens a file of `count` records of `recordBytes` bytes. */
export function openRecordFile(path: string, recordBytes: number, count: number): RecordFile {
  let fd: number | null = openSync(path, 'r');
  const readAt = (into: Uint8Array, offset: number, length: number, position: number) => {
    const got = readSync(fd as number, into, offset, length, position);
    if (got !== length) throw new InvalidArgumentError('index', `a record of ${path} (file shorter than expected)`, String(position / recordBytes));
  };
  return {
    path,
    recordBytes,
    count,
    read(indices) {
      if (fd === null) throw new InvalidArgumentError('file', `an open record file (${path} was closed)`);
      for (const i of indices) {
        if (!Number.isInteger(i) || i < 0 || i >= count) throw new InvalidArgumentError('indices', `integers in [0, ${count})`, String(i));
      }
      const out = new Uint8Array(indices.length * recordBytes);
      const consecutive = indices.every((v, i) => i === 0 || v === indices[i - 1] + 1);
      if (consecutive && indices.length > 0) readAt(out, 0, out.length, indices[0] * recordBytes);
      else indices.forEach((index, n) => readAt(out, n * recordBytes, recordBytes, index * recordBytes));
      return out;
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/**
 * Writes files of records in lockstep: each value `produce` yields holds the next chunk of
 * every file, in the order of `paths`. Each file goes to a temporary sibling, is flushed, and is
 * renamed into place only when all are complete. On an error (or an abort thrown by `produce`)
 * the temporary files are removed and nothing is left at `paths`.
 */
export async function writeRecordFiles(paths: readonly string[], produce: AsyncIterable<readonly Uint8Array[]> | Iterable<readonly Uint8Array[]>): Promise<void> {
  const temporaries = await Promise.all(paths.map((p) => temporarySibling(p)));
  const files: Awaited<ReturnType<typeof open>>[] = [];
  try {
    for (const t of temporaries) files.push(await open(t, 'w'));
    for await (const chunks of produce) {
      for (let f = 0; f < files.length; f++) await files[f].write(chunks[f]);
    }
    for (const f of files) await f.sync();
    for (const f of files.splice(0)) await f.close();
    for (let f = 0; f < paths.length; f++) await rename(temporaries[f], paths[f]);
  } catch (e) {
    for (const f of files) await f.close().catch(() => undefined);
    for (const t of temporaries) await rm(t, { force: true });
    throw e;
  }
}
