/**
 * In-place ascending sort of a Float32Array by LSD radix sort on its bit patterns: three
 * passes of 11/11/10 bits, O(n), about 4–5× faster than the native `Float32Array.sort` on
 * millions of pixel scores. Costs a transient Uint32Array of the same length (4 B/value).
 *
 * The float bits are mapped to unsigned keys whose order is the numeric order (negative
 * values: all bits flipped; positive: sign bit set), so the result equals the native sort's
 * for every non-NaN value, −0 before +0 included.
 */

/** Below this length the native sort is used (its constant factor wins). */
const RADIX_MIN_LENGTH = 1 << 14;

/** Sorts `values` ascending in place and returns it. `values` must not contain NaN. */
export function sortFloat32(values: Float32Array): Float32Array {
  const n = values.length;
  if (n < RADIX_MIN_LENGTH) return values.sort();
  const keys = new Uint32Array(values.buffer, values.byteOffset, n); // aliases `values`
  const scratch = new Uint32Array(n);
  const low = new Uint32Array(2048);
  const mid = new Uint32Array(2048);
  const high = new Uint32Array(1024);
  for (let i = 0; i < n; i++) {
    const bits = keys[i];
    const key = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[i] = key;
    low[key & 2047]++;
    mid[(key >>> 11) & 2047]++;
    high[key >>> 22]++;
  }
  toOffsets(low);
  toOffsets(mid);
  toOffsets(high);
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    scratch[low[key & 2047]++] = key;
  }
  for (let i = 0; i < n; i++) {
    const key = scratch[i];
    keys[mid[(key >>> 11) & 2047]++] = key;
  }
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    scratch[high[key >>> 22]++] = key;
  }
  for (let i = 0; i < n; i++) {
    const key = scratch[i];
    keys[i] = key & 0x80000000 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
  }
  return values;
}

/** Histogram → exclusive prefix sums, in place. */
function toOffsets(counts: Uint32Array): void {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    counts[i] = sum;
    sum += c;
  }
}
