/**
 * A small seeded pseudo-random number generator (xoshiro128**, seeded through splitmix32)
 * with a Box–Muller normal sampler. Everything random in ckaad — weight init, shuffling,
 * augmentation — draws from an {@link Rng}, so a run is reproducible from its seed, and
 * the generator's state can be saved with a checkpoint and restored later.
 */

import { InvalidArgumentError } from '../errors.js';

const TWO_POW_32 = 4294967296;

/** Rotate a 32-bit word left by `k` bits. */
function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** One step of splitmix32: returns the next state and a well-mixed 32-bit output. */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [next, z];
}

/**
 * Seeded PRNG: xoshiro128** (period 2^128 − 1) for uniforms, Box–Muller for normals.
 * The state is four 32-bit words; {@link Rng.state} and {@link Rng.fromState} save and
 * restore it exactly.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.next();        // uniform in [0, 1)
 * rng.normal();      // standard normal
 * rng.shuffle([1, 2, 3, 4]);
 * const copy = Rng.fromState(rng.state()); // continues the same sequence
 * ```
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** @param seed any safe integer (negative allowed); equal seeds give equal sequences. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new InvalidArgumentError('seed', 'a safe integer', String(seed));
    }
    // Split the seed into two 32-bit halves and run two splitmix32 streams over them.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    let a = lo;
    let b = (hi ^ 0x5bd1e995) >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      let x: number;
      let y: number;
      [a, x] = splitmix32(a);
      [b, y] = splitmix32(b);
      words.push((x ^ rotl(y, 16)) >>> 0);
    }
    this.setState(words);
  }

  /** Restore a generator from {@link Rng.state} output. */
  static fromState(state: readonly number[]): Rng {
    const valid =
      Array.isArray(state) &&
      state.length === 4 &&
      state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      state.some((w) => w !== 0);
    if (!valid) {
      throw new InvalidArgumentError(
        'state',
        'four unsigned 32-bit integers, not all zero (from Rng.state())',
        JSON.stringify(state),
      );
    }
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  /** The generator's state: four unsigned 32-bit integers (JSON-serialisable). */
  state(): number[] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** Next raw 32-bit output (xoshiro128**), an integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /**
   * Standard normal sample (Box–Muller, cosine branch; each call consumes two uniforms so
   * that the state alone determines the sequence).
   */
  normal(): number {
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /**
   * Fill `out` with normal samples of the given mean and standard deviation, using both
   * Box–Muller branches (twice as fast as calling {@link Rng.normal} per element).
   */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.next()));
      const theta = 2 * Math.PI * this.next();
      out[i] = mean + std * r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(theta);
    }
    return out;
  }

  /** Fill `out` with uniform samples in [low, high). */
  fillUniform(out: Float32Array, low: number, high: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.next();
    return out;
  }

  /** Uniform integer in [0, n) without modulo bias; `n` must be an integer in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new InvalidArgumentError('n', 'an integer in [1, 2^32]', String(n));
    }
    // Rejection sampling: accept only draws below the largest multiple of n.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher–Yates shuffle of `a` in place; returns `a`. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /**
   * A new, independent generator seeded from this one's next outputs (advances this one).
   * Use it to give each component its own stream without coupling their draw counts.
   */
  fork(): Rng {
    const words = [this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32()];
    const child = new Rng(0);
    child.setState(words);
    return child;
  }

  private setState(words: readonly number[]): void {
    this.s0 = words[0] >>> 0;
    this.s1 = words[1] >>> 0;
    this.s2 = words[2] >>> 0;
    this.s3 = words[3] >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // xoshiro's one bad state
  }
}
