/**
 * A growable float array for the streaming pixel metrics: 4 (float32) or 8 (float64) bytes
 * per value, no per-value objects.
 *
 * Values go into chunks (doubling from 4096 values up to 2^20), so appending never copies
 * what is stored and the unused tail is at most one chunk. The first call
 * to {@link ScoreBuffer.contiguous} after appends joins the chunks into one array (a transient
 * second copy of the data: the peak is 2× the stored bytes, once) and keeps that array as the
 * single chunk. Pass a `capacity` hint to allocate one chunk of the right size up front and
 * skip the join entirely.
 */

import { sortFloat32 } from './radix-sort.js';
import type { ScorePrecision } from './types.js';

/** Float storage of a buffer. */
export type FloatArray = Float32Array | Float64Array;

/** Largest chunk: 2^20 values (4 MiB as float32). Chunks double from 4096 values up to it. */
const MAX_CHUNK = 1 << 20;
const MIN_CHUNK = 1 << 12;

/** Growable, chunked float32/float64 array. */
export class ScoreBuffer {
  /** Storage precision. */
  readonly precision: ScorePrecision;
  private full: FloatArray[] = [];
  private fullLength = 0;
  private current: FloatArray;
  private used = 0;
  private isSorted = true;

  /**
   * @param precision - `'float32'` (4 B/value) or `'float64'` (8 B/value).
   * @param capacity - values to allocate for up front (default 0: grow in chunks).
   */
  constructor(precision: ScorePrecision, capacity = 0) {
    this.precision = precision;
    this.current = this.allocate(capacity);
  }

  /** Number of values stored. */
  get length(): number {
    return this.fullLength + this.used;
  }

  /** Bytes currently allocated. */
  get byteLength(): number {
    let bytes = this.current.byteLength;
    for (const c of this.full) bytes += c.byteLength;
    return bytes;
  }

  /** Appends one value (rounded to float32 with precision `'float32'`). */
  push(value: number): void {
    if (this.used === this.current.length) this.grow();
    this.current[this.used++] = value;
    this.isSorted = false;
  }

  /**
   * All values, in insertion order, as one array view of exactly {@link length} values.
   * The view aliases the buffer: sorting it in place sorts the buffer.
   */
  contiguous(): FloatArray {
    if (this.full.length > 0) {
      const joined = this.allocate(this.length);
      let offset = 0;
      for (const c of this.full) {
        joined.set(c, offset);
        offset += c.length;
      }
      joined.set(this.current.subarray(0, this.used), offset);
      this.full = [];
      this.fullLength = 0;
      this.current = joined;
      this.used = joined.length;
    }
    return this.current.subarray(0, this.used);
  }

  /**
   * All values sorted ascending, in place; skipped when nothing was pushed since the last
   * call. Reorders what {@link contiguous} returns. float32: O(n) radix sort with a transient
   * 4 B/value scratch array; float64: the native typed-array sort, O(n log n), no scratch.
   */
  sorted(): FloatArray {
    const all = this.contiguous();
    if (!this.isSorted) {
      if (all instanceof Float32Array) sortFloat32(all);
      else all.sort();
      this.isSorted = true;
    }
    return all;
  }

  private grow(): void {
    if (this.used > 0) {
      this.full.push(this.current);
      this.fullLength += this.used;
    }
    this.current = this.allocate(Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.fullLength)));
    this.used = 0;
  }

  private allocate(length: number): FloatArray {
    return this.precision === 'float32' ? new Float32Array(length) : new Float64Array(length);
  }
}
