/**
 * Where bytes come from: a buffer, a Blob / File (browsers), an http(s) or blob: URL, or a file
 * path (Node, through the platform's `openFile`). Every reader of weights and models takes a
 * {@link ByteSource} and reads it through {@link openByteSource}, range by range where the
 * source allows it, so a reader that needs ten tensors of a 500 MB file never reads the rest.
 */

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { platform } from '../platform.js';
import type { RandomAccessFile } from '../platform.js';

/** Bytes, a Blob or File, a URL, or (Node) a file path. */
export type ByteSource = Uint8Array | ArrayBuffer | Blob | URL | string;

/** Random access to an in-memory buffer. */
export function memoryFile(bytes: Uint8Array): RandomAccessFile {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => {
      if (offset + length > bytes.byteLength) throw new RangeError(`bytes ${offset}..${offset + length} are past the end (${bytes.byteLength})`);
      return bytes.subarray(offset, offset + length);
    },
    close: async () => {},
  };
}

/** Random access to a Blob (a File a user picked, a fetched body), slice by slice. */
export function blobFile(blob: Blob): RandomAccessFile {
  return {
    size: blob.size,
    read: async (offset, length) => {
      if (offset + length > blob.size) throw new RangeError(`bytes ${offset}..${offset + length} are past the end (${blob.size})`);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
    close: async () => {},
  };
}

/** True for strings that name a URL ckaad fetches rather than a file path. */
export function isFetchableUrl(s: string): boolean {
  return /^(https?|blob|data):/i.test(s);
}

/** True for the values {@link openByteSource} accepts. */
export function isByteSource(x: unknown): x is ByteSource {
  return (
    x instanceof Uint8Array ||
    x instanceof ArrayBuffer ||
    x instanceof URL ||
    (typeof x === 'string' && x.length > 0) ||
    (typeof Blob !== 'undefined' && x instanceof Blob)
  );
}

/** What {@link ByteSource}s are, for error messages. */
export const BYTE_SOURCE_KINDS = 'bytes (Uint8Array, ArrayBuffer), a Blob/File, a URL or (Node) a file path';

/** A short name of `source` for messages. */
export function sourceName(source: ByteSource): string {
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as Blob & { name?: unknown }).name;
    return typeof name === 'string' && name !== '' ? name : '<blob>';
  }
  return '<bytes>';
}

/**
 * Opens `source` for random access.
 *
 * @param what What the bytes are, for errors (e.g. `'options.weights'`).
 * @throws InvalidArgumentError for a value that is no {@link ByteSource}; FileFormatError naming
 *   the URL when fetching fails; NodeOnlyError for a file path outside Node.
 */
export async function openByteSource(source: ByteSource, what: string): Promise<RandomAccessFile> {
  if (source instanceof Uint8Array) return memoryFile(source);
  if (source instanceof ArrayBuffer) return memoryFile(new Uint8Array(source));
  if (typeof Blob !== 'undefined' && source instanceof Blob) return blobFile(source);
  if (source instanceof URL || (typeof source === 'string' && isFetchableUrl(source))) {
    const url = source instanceof URL ? source.href : source;
    if (source instanceof URL && source.protocol === 'file:') return platform().openFile(decodeURIComponent(source.pathname));
    let response: Response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new FileFormatError(url, `cannot fetch (${(e as Error).message})`);
    }
    if (!response.ok) throw new FileFormatError(url, `cannot fetch (HTTP ${response.status} ${response.statusText})`);
    return memoryFile(new Uint8Array(await response.arrayBuffer()));
  }
  if (typeof source === 'string' && source !== '') return platform().openFile(source);
  throw new InvalidArgumentError(what, BYTE_SOURCE_KINDS, describe(source));
}

/** Reads all of `source`. */
export async function readByteSource(source: ByteSource, what: string): Promise<Uint8Array> {
  const file = await openByteSource(source, what);
  try {
    return await file.read(0, file.size);
  } finally {
    await file.close();
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return "''";
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
