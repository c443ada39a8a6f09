/**
 * The Node.js platform of ckaad's core (see src/platform.ts): files by path (range by
 * range, regular files only), the feature worker thread, spill files of the feature cache,
 * checkpoint folders, and the machine's cores. Installed when ckaad/node is loaded.
 */

import { closeSync, constants, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { installPlatform, platform } from '../platform.js';
import type { FeatureWorkerInit, Platform, RandomAccessFile, SpillFile } from '../platform.js';
import { FeatureWorker } from './feature-worker/client.js';
import type { FeatureWorkerOptions } from './feature-worker/client.js';
import { checkpointFolder } from './folders.js';
import { sha256HexAsync } from './sha256.js';
import { installThreadedWasm } from './wasm-threads.js';

/** What a path that is not a regular file is, for the error message. */
function notARegularFile(info: Stats): string {
  if (info.isDirectory()) return 'is a directory';
  if (info.isFIFO()) return 'is a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'is a character device';
  if (info.isBlockDevice()) return 'is a block device';
  if (info.isSocket()) return 'is a socket';
  return 'is not a file';
}

/**
 * Opens `path` for random access. Only a regular file (or a link to one) is read: a directory,
 * FIFO, device or socket is refused before it is opened (opening a FIFO for reading waits for a
 * writer forever, and a device has no size to check a header against).
 *
 * @throws FileFormatError naming `path`.
 */
export async function openFile(path: string): Promise<RandomAccessFile> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (e) {
    throw new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  if (!info.isFile()) throw new FileFormatError(path, `${notARegularFile(info)}, not a regular file`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK (where it exists): should the path be replaced by a FIFO after the check
    // above, opening it still returns at once and the check below refuses it.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  let size: number;
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new FileFormatError(path, `${notARegularFile(opened)}, not a regular file`);
    size = opened.size;
  } catch (e) {
    await handle.close();
    throw e instanceof FileFormatError ? e : new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  return {
    size,
    read: async (offset, length) => {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(out, done, length - done, offset + done));
        } catch (e) {
          throw new FileFormatError(path, `cannot read bytes ${offset + done}..${offset + length} (${(e as Error).message})`);
        }
        if (bytesRead === 0) {
          throw new FileFormatError(path, `truncated: could not read bytes ${offset + done}..${offset + length} (file changed while open?)`);
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/** A spill file of the feature cache in `dir` (created on first use, deleted by `remove`). */
export function createSpillFile(dir: string, name: string): SpillFile {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `ckaad-features-${process.pid}-${randomBytes(4).toString('hex')}-${name}.bin`);
  const fd = openSync(path, 'w+');
  let open = true;
  return {
    write(data, position) {
      const written = writeSync(fd, data, 0, data.length, position);
      if (written !== data.length) {
        throw new InvalidArgumentError('options.featureCache.spillDir', 'a writable directory with free space', `${written} of ${data.length} bytes written to ${path}`);
      }
    },
    read(into, position) {
      const got = readSync(fd, into, 0, into.length, position);
      if (got !== into.length) throw new InvalidArgumentError('options.featureCache.spillDir', 'a spill file no one else modifies', `a short read (${got} bytes) of ${path}`);
    },
    remove() {
      if (!open) return;
      open = false;
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Already gone: nothing to clean up.
      }
    },
  };
}

/** SHA-256 of a file, hex, streamed (large weight files are never held in memory). */
export async function sha256File(path: string): Promise<string> {
  try {
    return await sha256HexAsync(createReadStream(path) as AsyncIterable<Buffer>);
  } catch (e) {
    throw new FileFormatError(path, `cannot read file (${(e as Error).message})`);
  }
}

/** The Node platform. */
export const NODE_PLATFORM: Platform = {
  name: 'node',
  openFile,
  startFeatureWorker: (init: FeatureWorkerInit) => FeatureWorker.start(init as FeatureWorkerOptions),
  createSpillFile,
  checkpointFolder: (dir) => checkpointFolder(dir),
  sha256File,
  absolutePath: (path) => resolve(path),
  cores: () => availableParallelism(),
  installThreadedWasm,
};

/** Installs {@link NODE_PLATFORM} unless it is installed (idempotent; also across ckaad's ESM and CJS builds). */
export function installNodePlatform(): void {
  if (platform().name !== 'node') installPlatform(NODE_PLATFORM);
}
