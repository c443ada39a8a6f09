/**
 * IEEE 754 half precision (float16): the one conversion ckaad uses for safetensors F16 tensors
 * and the feature cache's float16 records. Rounds to nearest even, as PyTorch's `.half()`.
 */

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float → IEEE half bits, round to nearest even; overflow → ±Infinity, NaN stays NaN. */
export function floatToHalf(value: number): number {
  F32[0] = value;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    // Subnormal half: shift the mantissa with its implicit bit into place, rounding to even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1) === 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? 1 : 0));
}

/** Every half's float32 value, indexed by its 16 bits (256 KiB, built on first use). */
let HALF_TABLE: Float32Array | null = null;

function halfTable(): Float32Array {
  if (HALF_TABLE !== null) return HALF_TABLE;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  HALF_TABLE = table;
  return table;
}

/** IEEE half bits → float. */
export function halfToFloat(h: number): number {
  return halfTable()[h & 0xffff];
}

/** dst[i] = half(src[i]) for every i. */
export function encodeHalves(src: Float32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = floatToHalf(src[i]);
}

/** dst[offset + i] = float(src[i]) for every i. */
export function decodeHalves(src: Uint16Array, dst: Float32Array, offset = 0): void {
  const table = halfTable();
  for (let i = 0; i < src.length; i++) dst[offset + i] = table[src[i]];
}
