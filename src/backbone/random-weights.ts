/**
 * A small seeded PRNG for the backbone's random initialisation (private to src/backbone).
 * mulberry32 for uniforms, Box–Muller for normals: deterministic for a given seed on every
 * platform, which is all a reproducible random backbone needs.
 */

/** Returns a function drawing uniform floats in [0, 1) from a 32-bit seed (mulberry32). */
export function uniformSampler(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a function drawing standard normal floats (Box–Muller on {@link uniformSampler}). */
export function normalSampler(seed: number): () => number {
  const uniform = uniformSampler(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u1 = 1 - uniform(); // (0, 1]: log is finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}
