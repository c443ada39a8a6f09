/**
 * Lazy access to sharp (libvips), the native image library behind PNG/JPEG/TIFF decoding
 * and PNG writing. Loading it only when first needed keeps `import 'ckaad'` free of the
 * native addon for code that never touches image files (and importable by bundlers).
 */

import type SharpDefault from 'sharp';
import { CkaadError } from '../errors.js';

/** The `sharp` factory function. */
export type SharpFactory = typeof SharpDefault;

let cached: Promise<SharpFactory> | undefined;

/**
 * The sharp factory, imported on first call.
 *
 * @throws CkaadError (code `'dependency'`) when sharp cannot be loaded on this platform.
 */
export function loadSharp(): Promise<SharpFactory> {
  cached ??= import('sharp').then(
    (m) => m.default,
    (e: unknown) => {
      cached = undefined;
      throw new CkaadError('dependency', `sharp (the image decoding library) could not be loaded: ${(e as Error).message}`);
    },
  );
  return cached;
}
