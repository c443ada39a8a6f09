/**
 * Shape logic of BatchMatMul (a [..., M, K] · b [..., K, N], each optionally transposed in
 * its last two axes), as tfjs defines it.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { InvalidArgumentError, ShapeMismatchError } from '../../errors.js';

/** Sizes of one BatchMatMul call. */
export interface MatMulShapes {
  /** Product of a's (b's) leading batch axes. */
  batchA: number;
  batchB: number;
  /** Rows of the (transposed) a, shared dimension, columns of the (transposed) b. */
  m: number;
  k: number;
  n: number;
  /** Broadcast batch axes followed by [M, N]. */
  outShape: number[];
  /**
   * True when batch i of the output is a[i or 0] · b[i or 0]: equal batch shapes, or one
   * side without batch. Other broadcasts are left to the original kernel.
   */
  simpleBatching: boolean;
}

/**
 * Validates and sizes `a · b`.
 *
 * @throws InvalidArgumentError for ranks below 2; ShapeMismatchError for unequal inner
 *   dimensions or batch axes that do not broadcast.
 */
export function matMulShapes(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatMulShapes {
  if (a.shape.length < 2) throw new InvalidArgumentError('inputs.a', 'a tensor of rank ≥ 2', `shape [${a.shape.join(', ')}]`);
  if (b.shape.length < 2) throw new InvalidArgumentError('inputs.b', 'a tensor of rank ≥ 2', `shape [${b.shape.join(', ')}]`);
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new ShapeMismatchError(
      `matMul inner dimensions (transposeA=${transposeA}, transposeB=${transposeB})`,
      `b's shared dimension ${k} (from a [${a.shape.join(', ')}])`,
      `${kb} (b [${b.shape.join(', ')}])`,
    );
  }
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  let outBatch: number[];
  try {
    outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  } catch {
    throw new ShapeMismatchError('matMul batch axes', 'broadcastable batch shapes', `[${batchShapeA.join(', ')}] and [${batchShapeB.join(', ')}]`);
  }
  const batchA = tf.util.sizeFromShape(batchShapeA);
  const batchB = tf.util.sizeFromShape(batchShapeB);
  const sameBatch = batchShapeA.length === batchShapeB.length && batchShapeA.every((d, i) => d === batchShapeB[i]);
  return {
    batchA,
    batchB,
    m,
    k,
    n,
    outShape: [...outBatch, m, n],
    simpleBatching: batchA === 1 || batchB === 1 || sameBatch,
  };
}
