/**
 * Input checks shared by the loss and scoring functions. Each throws a typed error that
 * names the argument and says what was expected, before any tensor is allocated.
 */

import type * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';

/** `[2, 3, 4]` → `'[2, 3, 4]'`. */
export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function isTensorLike(x: unknown): x is tf.Tensor {
  return typeof x === 'object' && x !== null && Array.isArray((x as { shape?: unknown }).shape);
}

/**
 * Checks that `features` and `reconstructions` are non-empty lists of rank-4 maps of equal
 * length, pairwise equal shapes, one common batch size, no empty map. `prefix` (e.g.
 * `'normal'`) is prepended to the argument names in error messages.
 */
export function checkMapPairs(
  prefix: string,
  features: readonly tf.Tensor4D[],
  reconstructions: readonly tf.Tensor4D[],
): void {
  const name = (k: string) => (prefix === '' ? k : `${prefix}.${k}`);
  if (!Array.isArray(features) || features.length === 0) {
    throw new InvalidArgumentError(name('features'), 'a non-empty list of [N, h, w, C] feature maps', describe(features));
  }
  if (!Array.isArray(reconstructions)) {
    throw new InvalidArgumentError(name('reconstructions'), 'a list of [N, h, w, C] maps', describe(reconstructions));
  }
  if (reconstructions.length !== features.length) {
    throw new ShapeMismatchError(
      `layer count of ${name('reconstructions')} vs ${name('features')}`,
      `${features.length} map${features.length === 1 ? '' : 's'}`,
      `${reconstructions.length}`,
    );
  }
  const batch = isTensorLike(features[0]) ? features[0].shape[0] : -1;
  features.forEach((f, i) => {
    const r = reconstructions[i];
    if (!isTensorLike(f) || f.rank !== 4) {
      throw new InvalidArgumentError(name(`features[${i}]`), 'a rank-4 tensor [N, h, w, C]', describe(f));
    }
    if (!isTensorLike(r) || r.rank !== 4) {
      throw new InvalidArgumentError(name(`reconstructions[${i}]`), 'a rank-4 tensor [N, h, w, C]', describe(r));
    }
    if (f.shape.some((d, k) => d !== r.shape[k])) {
      throw new ShapeMismatchError(`${name(`reconstructions[${i}]`)} vs ${name(`features[${i}]`)}`, shapeString(f.shape), shapeString(r.shape));
    }
    if (f.size === 0) {
      throw new InvalidArgumentError(name(`features[${i}]`), 'a map with at least one element', shapeString(f.shape));
    }
    if (f.shape[0] !== batch) {
      throw new ShapeMismatchError(`batch size of ${name(`features[${i}]`)} vs ${name('features[0]')}`, `${batch}`, `${f.shape[0]}`);
    }
  });
}

/** Checks a non-empty list of non-empty tensors (one per discriminator head). */
export function checkHeads(argument: string, heads: readonly tf.Tensor[]): void {
  if (!Array.isArray(heads) || heads.length === 0) {
    throw new InvalidArgumentError(argument, 'a non-empty list of tensors, one per discriminator head', describe(heads));
  }
  heads.forEach((t, i) => {
    if (!isTensorLike(t) || t.rank === 0 || t.size === 0) {
      throw new InvalidArgumentError(`${argument}[${i}]`, 'a non-empty tensor with a leading batch axis', describe(t));
    }
  });
}

/**
 * Checks that several lists describe the same heads (or layers): equal lengths, and per entry
 * the same shape apart from the batch axis (batches may differ in size).
 */
export function checkSameHeads(lists: ReadonlyArray<readonly [string, readonly tf.Tensor[]]>): void {
  const [firstName, first] = lists[0];
  for (const [name, heads] of lists.slice(1)) {
    if (heads.length !== first.length) {
      throw new ShapeMismatchError(`number of entries in ${name} vs ${firstName}`, `${first.length}`, `${heads.length}`);
    }
    heads.forEach((t, i) => {
      const a = first[i].shape.slice(1);
      const b = t.shape.slice(1);
      if (a.length !== b.length || a.some((d, k) => d !== b[k])) {
        throw new ShapeMismatchError(
          `${name}[${i}] vs ${firstName}[${i}] (all axes but the batch axis)`,
          shapeString(first[i].shape),
          shapeString(t.shape),
        );
      }
    });
  }
}

/** Short description of an unexpected value for error messages. */
export function describe(x: unknown): string {
  if (isTensorLike(x)) return `a tensor of shape ${shapeString(x.shape)}`;
  if (Array.isArray(x)) return `a list of length ${x.length}`;
  return x === null ? 'null' : typeof x;
}
