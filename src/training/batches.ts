/**
 * Which images go into which training step (docs/reference-implementation.md §4 "Batches", §9).
 *
 * - Normal images: a fresh random permutation every epoch, cut into full batches; the
 *   incomplete tail is dropped (PyTorch's `shuffle=True, drop_last=True`).
 * - Labelled anomalies: batches of `min(batchSize, #anomalies)` drawn from a random
 *   permutation and cycled so that every normal batch gets one. By default
 *   (`'every-pass'`) every pass through the anomalies is a new permutation and passes run on
 *   across epochs; `'every-epoch'` is the authors' schedule: their code wraps the anomaly
 *   loader in an `itertools.cycle` built afresh each epoch, which caches the epoch's first
 *   pass and repeats it, same batches in the same order, until the epoch ends. As PyTorch's
 *   loader without `drop_last`, the last batch of a pass is smaller when the batch size does
 *   not divide the number of anomalies.
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

/**
 * When the labelled anomalies are reshuffled (see {@link AnomalyCycler}):
 * - `'every-pass'`: each pass through them is a new permutation; passes carry on across epochs;
 * - `'every-epoch'`: the authors' schedule — a new permutation at the start of each epoch,
 *   whose batches are then repeated in the same order until the epoch ends.
 */
export type AnomalyShuffle = 'every-pass' | 'every-epoch';

/** The values of {@link AnomalyShuffle}. */
export const ANOMALY_SHUFFLES: readonly AnomalyShuffle[] = ['every-pass', 'every-epoch'];

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
 * An endless stream of anomaly batches: shuffled passes over `0..size-1`, reshuffled when a
 * pass is used up (`'every-pass'`) or only when an epoch starts (`'every-epoch'`).
 *
 * @example
 * ```ts
 * const cycler = new AnomalyCycler(5, 2, new Rng(0));
 * cycler.next(); // e.g. [3, 0]
 * cycler.next(); // e.g. [4, 1]
 * cycler.next(); // e.g. [2]     (end of the pass)
 * cycler.next(); // a new permutation begins
 *
 * const authors = new AnomalyCycler(5, 2, new Rng(0), 'every-epoch');
 * authors.next(true); // e.g. [1, 4]  (first step of an epoch: a new permutation)
 * authors.next();     // e.g. [0, 2]
 * authors.next();     // e.g. [3]
 * authors.next();     // [1, 4] again, until the next epoch starts
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
   * @param shuffle When to reshuffle. Default `'every-pass'`.
   */
  constructor(
    readonly size: number,
    batchSize: number,
    rng: Rng,
    readonly shuffle: AnomalyShuffle = 'every-pass',
  ) {
    this.batchSize = Math.min(batchSize, size);
    this.rng = rng;
    this.order = [];
    this.position = 0;
  }

  /**
   * The indices of the next anomaly batch.
   *
   * @param epochStart Whether this is the first step of an epoch (with `'every-epoch'`, the
   *   moment a new permutation is drawn; ignored with `'every-pass'`).
   */
  next(epochStart = false): number[] {
    const used = this.position >= this.order.length;
    if (this.shuffle === 'every-epoch' ? epochStart || this.order.length === 0 : used) {
      this.order = this.rng.shuffle(Array.from({ length: this.size }, (_, i) => i));
      this.position = 0;
    } else if (used) {
      this.position = 0; // 'every-epoch': the epoch's pass again, in the same order
    }
    const batch = this.order.slice(this.position, this.position + this.batchSize);
    this.position += batch.length;
    return batch;
  }

  /** A copy of the cycler's state, enough to continue the same stream later. */
  state(): AnomalyCyclerState {
    return { order: [...this.order], position: this.position, rng: this.rng.state() };
  }

  /** An independent cycler that continues exactly where `state` was taken. */
  static fromState(size: number, batchSize: number, state: AnomalyCyclerState, shuffle: AnomalyShuffle = 'every-pass'): AnomalyCycler {
    const cycler = new AnomalyCycler(size, batchSize, Rng.fromState(state.rng), shuffle);
    cycler.order = [...state.order];
    cycler.position = state.position;
    return cycler;
  }

  /** An independent copy of this cycler (same settings, same state). */
  copy(): AnomalyCycler {
    return AnomalyCycler.fromState(this.size, this.batchSize, this.state(), this.shuffle);
  }
}
