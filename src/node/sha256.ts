/**
 * SHA-256 on Node, synchronous or streamed: the one place ckaad's Node code hashes (run ids,
 * derived seeds, cache keys, file checksums). The universal core hashes with Web Crypto
 * instead (`io/sha256.ts`), which is asynchronous.
 */

import { createHash } from 'node:crypto';

/** A piece of hashed input: text (UTF-8) or bytes. */
export type HashPart = string | Uint8Array;

/**
 * SHA-256 (lowercase hex) of `parts` hashed one after the other, as if concatenated.
 *
 * @example
 * ```ts
 * sha256Hex('abc'); // 'ba7816bf…'
 * sha256Hex(['header\n', bytes]); // header and bytes, no separator added
 * ```
 */
export function sha256Hex(parts: HashPart | Iterable<HashPart>): string {
  const hash = createHash('sha256');
  if (typeof parts === 'string' || parts instanceof Uint8Array) hash.update(parts);
  else for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** SHA-256 (lowercase hex) of a stream of parts, e.g. a file's read stream. */
export async function sha256HexAsync(parts: AsyncIterable<HashPart>): Promise<string> {
  const hash = createHash('sha256');
  for await (const part of parts) hash.update(part);
  return hash.digest('hex');
}
