/**
 * Which images go into which training step (docs/reference-implementation.md §4 "Batches", §9).
 *
 * - Normal images: a fresh random permutation every epoch, cut into full batches; the
 *   incomplete tail is dropped (PyTorch's `shuffle=True, drop_last=True`).
 * - Labelled anomalies: batches of `min(batchSize, #anomalies)` drawn from a random
 *   permutation and cycled so that every normal batch gets one. Unlike the authors' code,
 *   which caches the first pass and repeats it in the same order (`itertools.cycle`), every
 *   pass through the anomalies is a new permutation. As PyTorch's loader without
 *   `drop_last`, the last batch of a pass is smaller when the batch size does not divide the
 *   number of anomalies.
 *
 * Both are driven by a seeded {@link Rng}, and the anomaly cycler's whole state is plain data,
 * so a checkpoint can record it and a resumed run draws exactly the same batches.
 */

import { Rng } from '../nn/random.js';

/**
 * The normal batches of one epoch: a new permutation of `0..size-1` cut into
 * `floor(size / batchSize)` batches of exactly `batchSize` indices.
 */
export function epochBatches(size: number, batchSize: number, rng: Rng): number[][] {
  const order = rng.shuffle(Array.from({ length: size }, (_, i) => i));
  const batches: number[][] = [];
  for (let start = 0; start + batchSize <= size; start += batchSize) {
    batches.push(order.slice(start, start + batchSize));
  }
  return batches;
}

/** Serialisable state of an {@link AnomalyCycler} (stored in checkpoints). */
export interface AnomalyCyclerState {
  /** The current pass's permutation of the anomaly indices. */
  order: number[];
  /** Position of the next batch's first index in `order`. */
  position: number;
  /** State of the cycler's random generator ({@link Rng.state}). */
  rng: number[];
}

/**
 * An endless stream of anomaly batches: shuffled passes over `0..size-1`, reshuffled every
 * time a pass is used up.
 *
 * @example
 * ```ts
 * const cycler = new AnomalyCycler(5, 2, new Rng(0));
 * cycler.next(); // e.g. [3, 0]
 * cycler.next(); // e.g. [4, 1]
 * cycler.next(); // e.g. [2]     (end of the pass)
 * cycler.next(); // a new permutation begins
 * ```
 */
export class AnomalyCycler {
  /** Indices per batch: `min(batchSize, size)`. */
  readonly batchSize: number;
  private order: number[];
  private position: number;
  private readonly rng: Rng;

  /**
   * @param size Number of anomalies (≥ 1).
   * @param batchSize Requested batch size; the cycler uses `min(batchSize, size)`.
   * @param rng Random generator the cycler takes ownership of.
   */
  constructor(
    readonly size: number,
    batchSize: number,
    rng: Rng,
  ) {
    this.batchSize = Math.min(batchSize, size);
    this.rng = rng;
    this.order = [];
    this.position = 0;
  }

  /** The indices of the next anomaly batch. */
  next(): number[] {
    if (this.position >= this.order.length) {
      this.order = this.rng.shuffle(Array.from({ length: this.size }, (_, i) => i));
      this.position = 0;
    }
    const batch = this.order.slice(this.position, this.position + this.batchSize);
    this.position += batch.length;
    return batch;
  }

  /** A copy of the cycler's state, enough to continue the same stream later. */
  state(): AnomalyCyclerState {
    return { order: [...this.order], position: this.position, rng: this.rng.state() };
  }

  /** Rebuilds a cycler that continues exactly where `state` was taken. */
  static fromState(size: number, batchSize: number, state: AnomalyCyclerState): AnomalyCycler {
    const cycler = new AnomalyCycler(size, batchSize, Rng.fromState(state.rng));
    cycler.order = [...state.order];
    cycler.position = state.position;
    return cycler;
  }
}
