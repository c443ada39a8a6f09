/**
 * The discriminator protocol shared by CKAAD's energy heads (patch level, CKAPatch; image
 * level, CKAImg) and the plain-GAN ablation, plus input checks they all use.
 */

import type * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { Module } from '../nn/module.js';

/** A discriminator over a list of feature maps (one per reconstructed layer). */
export interface Discriminator extends Module {
  /**
   * One output per head. Energy discriminators: energies ≥ 0 — [N,h,w,1] per layer at
   * patch level, [N] at image level. GAN discriminator: raw logits [N].
   */
  forward(maps: tf.Tensor4D[]): tf.Tensor[];
}

/** Check a per-map channel list: non-empty, positive integers. */
export function checkChannels(channels: readonly number[], argument = 'options.channels'): void {
  if (!Array.isArray(channels) || channels.length === 0 || !channels.every((c) => Number.isInteger(c) && c > 0)) {
    throw new InvalidArgumentError(argument, 'a non-empty list of positive integers', JSON.stringify(channels));
  }
}

/**
 * Check `maps` against the expected channels (and square `sizes`, if given): same count,
 * rank 4, one batch size.
 */
export function checkMaps(
  owner: string,
  maps: readonly tf.Tensor4D[],
  channels: readonly number[],
  sizes?: readonly number[],
): void {
  if (!Array.isArray(maps) || maps.length !== channels.length) {
    throw new ShapeMismatchError(`${owner}.forward(maps)`, `${channels.length} maps`, String(Array.isArray(maps) ? maps.length : typeof maps));
  }
  maps.forEach((m, i) => {
    const expected = sizes === undefined ? `[N, h, w, ${channels[i]}]` : `[N, ${sizes[i]}, ${sizes[i]}, ${channels[i]}]`;
    const ok =
      m.rank === 4 &&
      m.shape[3] === channels[i] &&
      m.shape[0] === maps[0].shape[0] &&
      (sizes === undefined || (m.shape[1] === sizes[i] && m.shape[2] === sizes[i]));
    if (!ok) throw new ShapeMismatchError(`${owner}.forward maps[${i}]`, expected + (i > 0 ? ` with N = ${maps[0].shape[0]}` : ''), `[${m.shape.join(', ')}]`);
  });
}
