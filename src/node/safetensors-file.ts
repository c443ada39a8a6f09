/** Writing safetensors files (Node): {@link encodeSafetensors} + an atomic write. */

import { encodeSafetensors } from '../io/safetensors.js';
import type { SafetensorsTensorInput } from '../io/safetensors.js';
import { writeFileAtomic } from './atomic.js';

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same
 * directory, which is flushed and then renamed over `path`, so readers never see a partial
 * file. Throws {@link FileFormatError} naming `path` if it cannot be written.
 *
 * @example
 * ```ts
 * await writeSafetensors('ckpt.safetensors', { w: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) } }, { epoch: '4' });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  // The parent folder must exist: a mistyped path is reported, not created.
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata), { mkdir: false });
}
