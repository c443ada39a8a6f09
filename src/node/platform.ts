/**
 * The Node.js platform of ckaad's core (see src/platform.ts): files by path (range by
 * range, regular files only), the feature worker thread, spill files of the feature cache,
 * checkpoint folders, and the machine's cores. Installed when ckaad/node is loaded.
 */

import { closeSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { installPlatform, platform } from '../platform.js';
import type { FeatureWorkerInit, Platform, RandomAccessFile, SpillFile } from '../platform.js';
import { FeatureWorker } from './feature-worker/client.js';
import type { FeatureWorkerOptions } from './feature-worker/client.js';
import { checkpointFolder } from './folders.js';

/** Opens `path` for random access; refuses anything but a regular file (a folder, a FIFO, a device). */
export async function openFile(path: string): Promise<RandomAccessFile> {
  const info = await stat(path).catch((e: Error) => {
    throw new FileFormatError(path, `cannot open file (${e.message})`);
  });
  if (!info.isFile()) throw new FileFormatError(path, `not a regular file (${info.isDirectory() ? 'a folder' : 'a FIFO, socket or device'})`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  const { size } = await handle.stat();
  return {
    size,
    read: async (offset, length) => {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
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
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new FileFormatError(path, `cannot read file (${(e as Error).message})`);
  }
  return hash.digest('hex');
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
};

/** Installs {@link NODE_PLATFORM} unless it is installed (idempotent; also across ckaad's ESM and CJS builds). */
export function installNodePlatform(): void {
  if (platform().name !== 'node') installPlatform(NODE_PLATFORM);
}
