/**
 * SHA-256 of bytes as lowercase hex, with the Web Crypto API every platform ckaad runs on has
 * (`globalThis.crypto.subtle`: browsers, web workers, Node ≥ 19). Node's streaming hash of
 * large files is in `ckaad/node` (`sha256File`).
 */

import { BackendError } from '../errors.js';

/** SHA-256 of `bytes`, hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
  if (subtle === undefined) {
    throw new BackendError('SHA-256 needs the Web Crypto API (globalThis.crypto.subtle), which this JavaScript environment lacks (an insecure http: page?)');
  }
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
