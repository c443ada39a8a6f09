/**
 * Up-front checking of a dataset listing before a long run: every image's header is
 * readable and every mask has the size of its image. Reads headers only (no decoding),
 * with a bounded number of files open at once.
 */

import { CkaadError, FileFormatError, InvalidArgumentError } from '../../errors.js';
import { readImageSize } from '../images.js';

/** One problem found by {@link verifyDataset}. */
export interface DatasetProblem {
  /** The offending file. */
  path: string;
  /** What is wrong, as a typed error. */
  error: CkaadError;
}

/** Result of {@link verifyDataset}. */
export interface VerifyReport {
  /** Number of samples checked. */
  checked: number;
  /** Problems found (empty when everything is readable and consistent). */
  problems: DatasetProblem[];
}

/**
 * Check that every sample's image (and mask) header can be read and that masks match
 * their images' sizes.
 *
 * @param samples e.g. `[...ds.train, ...ds.test]`.
 * @param options.concurrency files checked at once; default 8.
 *
 * @example
 * ```ts
 * const report = await verifyDataset([...ds.train, ...ds.test]);
 * if (report.problems.length) console.error(report.problems.map((p) => p.error.message).join('\n'));
 * ```
 */
export async function verifyDataset(
  samples: readonly { path: string; maskPath?: string }[],
  options: { concurrency?: number } = {},
): Promise<VerifyReport> {
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidArgumentError('options.concurrency', 'a positive integer', String(concurrency));
  }
  const problems: { order: number; problem: DatasetProblem }[] = [];
  const wrap = (path: string, e: unknown): CkaadError => (e instanceof CkaadError ? e : new FileFormatError(path, (e as Error).message));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= samples.length) return;
      const { path, maskPath } = samples[i];
      let image: { width: number; height: number };
      try {
        image = await readImageSize(path);
      } catch (e) {
        problems.push({ order: 2 * i, problem: { path, error: wrap(path, e) } });
        continue;
      }
      if (maskPath === undefined) continue;
      try {
        const mask = await readImageSize(maskPath);
        if (mask.width !== image.width || mask.height !== image.height) {
          throw new FileFormatError(maskPath, `mask is ${mask.width}×${mask.height} but its image ${path} is ${image.width}×${image.height} (expected equal sizes)`);
        }
      } catch (e) {
        problems.push({ order: 2 * i + 1, problem: { path: maskPath, error: wrap(maskPath, e) } });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, samples.length) }, worker));
  problems.sort((a, b) => a.order - b.order);
  return { checked: samples.length, problems: problems.map((p) => p.problem) };
}
