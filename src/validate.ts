/**
 * One rule per parameter: the checks that more than one part of ckaad applies to the same
 * value (the trainer, the scorer, the saved model, the command line and the experiment
 * protocol all take σ and top-k). Each throws an {@link InvalidArgumentError} naming the
 * argument as the caller calls it (`options.sigma`, `--sigma`, `protocol.scoring.sigma`).
 */

import { InvalidArgumentError } from './errors.js';

/** A finite number. */
export function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** σ of the Gaussian smoothing of anomaly maps: a finite number ≥ 0 (0: no smoothing). */
export function checkSigma(sigma: unknown, argument: string): number {
  return checkNonNegative(sigma, argument);
}

/**
 * The image score: `'mean'`, or the mean of the top k map values with k an integer ≥ 1 — and
 * at most the number of map pixels, when the image size is known.
 */
export function checkTopK(topK: unknown, argument: string, imageSize?: readonly [number, number]): number | 'mean' {
  if (topK === 'mean') return topK;
  const pixels = imageSize === undefined ? Infinity : imageSize[0] * imageSize[1];
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > pixels) {
    const range = pixels === Infinity ? 'an integer ≥ 1' : `an integer in [1, ${pixels}] (H·W of ${imageSize?.join('×')} images)`;
    throw new InvalidArgumentError(argument, `${range} or 'mean'`, String(topK));
  }
  return topK;
}

/** One of the string values `choices` (e.g. `options.anomalyShuffle`). */
export function checkChoice<T extends string>(value: unknown, choices: readonly T[], argument: string): T {
  if (!choices.includes(value as T)) {
    throw new InvalidArgumentError(argument, choices.map((c) => `'${c}'`).join(' or '), JSON.stringify(value) ?? String(value));
  }
  return value as T;
}

/** An integer ≥ `min`. */
export function checkInteger(value: unknown, argument: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(argument, `an integer ≥ ${min}`, String(value));
  }
  return value;
}

/** A finite number > 0. */
export function checkPositive(value: unknown, argument: string): number {
  if (!isFiniteNumber(value) || value <= 0) throw new InvalidArgumentError(argument, 'a finite number > 0', String(value));
  return value;
}

/** A finite number ≥ 0. */
export function checkNonNegative(value: unknown, argument: string): number {
  if (!isFiniteNumber(value) || value < 0) throw new InvalidArgumentError(argument, 'a finite number ≥ 0', String(value));
  return value;
}

/** A seed: any safe integer. */
export function checkSeed(seed: unknown, argument: string): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new InvalidArgumentError(argument, 'a safe integer', String(seed));
  return seed;
}
