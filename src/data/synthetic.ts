/**
 * A seeded procedural generator of fine-grained defects, for tests, demos and benchmarks that
 * need realistic images but not a 5 GB download: images and exact masks in memory (any
 * platform); ckaad/node's `generateSyntheticDefects` writes them as a set in the MVTec AD
 * layout.
 *
 * Classes: `weave`, a woven texture of warp and weft threads with random phase and
 * colour; `disc`, a toothed washer at a random rotation and position. Every image has
 * per-pixel noise, so normal images vary. Defects are small (well under 2 % of the image):
 * `scratch` (a thin line of shifted brightness), `hole` (a small dark disc), `stain` (a
 * brownish blob of overlapping discs), `missing` (a broken thread of the weave, a missing
 * tooth of the disc). Masks are exact: a mask pixel is 1 exactly where the defect changed
 * the image, and the same seed gives byte-identical images.
 */

import { InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';

/** Object classes the generator can draw. */
export type SyntheticClass = 'weave' | 'disc';
/** Defect kinds the generator can draw. */
export type SyntheticDefect = 'scratch' | 'hole' | 'stain' | 'missing';

/** Every synthetic class, in generation order. */
export const SYNTHETIC_CLASSES: readonly SyntheticClass[] = ['weave', 'disc'];
/** Every synthetic defect kind, in generation order. */
export const SYNTHETIC_DEFECTS: readonly SyntheticDefect[] = ['scratch', 'hole', 'stain', 'missing'];

/** One rendered sample: RGB pixels and its defect mask. */
export interface SyntheticSample {
  /** RGB pixels `[size, size, 3]`. */
  image: Uint8Array;
  /** 1 where the defect changed the image, 0 elsewhere `[size, size]` (all 0 for a normal sample). */
  mask: Uint8Array;
}

// -----------------------------------------------------------------------------------------
// Scenes: a clean (noise-free) colour per pixel, with an optional structural defect.

type Rgb = [number, number, number];

interface Scene {
  /** Clean colour at pixel (x, y); `missing` removes a structural part. */
  colour(x: number, y: number, missing: boolean): Rgb;
  /** True where surface defects (scratch, hole, stain) may be drawn. */
  surface(x: number, y: number): boolean;
}

function jitter(rng: Rng, c: Rgb, amount: number): Rgb {
  return [c[0] + rng.uniform(-amount, amount), c[1] + rng.uniform(-amount, amount), c[2] + rng.uniform(-amount, amount)];
}

function scale(c: Rgb, f: number): Rgb {
  return [c[0] * f, c[1] * f, c[2] * f];
}

/** Woven texture: horizontal (warp) and vertical (weft) threads crossing over/under. */
function weaveScene(size: number, rng: Rng): Scene {
  const period = Math.max(4, size / 16);
  const thread = 0.72 * period;
  const px = rng.uniform(0, period);
  const py = rng.uniform(0, period);
  const warp = jitter(rng, [196, 170, 120], 8);
  const weft = jitter(rng, [150, 122, 86], 8);
  const gap = jitter(rng, [46, 38, 30], 4);
  // Broken warp thread: one row of cells, a span of x.
  const rows = Math.ceil((size + period) / period);
  const brokenRow = 1 + rng.int(Math.max(1, rows - 2));
  const brokenLength = size * rng.uniform(0.12, 0.22);
  const brokenStart = rng.uniform(0, size - brokenLength);
  const shade = (offset: number) => 0.8 + 0.2 * Math.cos((Math.PI / 2) * (offset / (thread / 2)));
  return {
    colour(x, y, missing) {
      const u = (x + px) % period;
      const v = (y + py) % period;
      const cx = Math.floor((x + px) / period);
      const cy = Math.floor((y + py) / period);
      const offH = v - period / 2;
      const offV = u - period / 2;
      let inH = Math.abs(offH) < thread / 2;
      const inV = Math.abs(offV) < thread / 2;
      if (missing && cy === brokenRow && x >= brokenStart && x < brokenStart + brokenLength) inH = false;
      const hOnTop = (cx + cy) % 2 === 0;
      if (inH && (!inV || hOnTop)) return scale(warp, shade(offH));
      if (inV) return scale(weft, shade(offV));
      return gap;
    },
    surface: () => true,
  };
}

/** Toothed washer on a dark background. */
function discScene(size: number, rng: Rng): Scene {
  const cx = size / 2 + rng.uniform(-0.02, 0.02) * size;
  const cy = size / 2 + rng.uniform(-0.02, 0.02) * size;
  const outer = 0.3 * size;
  const inner = 0.11 * size;
  const toothLength = 0.07 * size;
  const teeth = 8;
  const halfAngle = (0.045 * size) / outer;
  const rotation = rng.uniform(0, (2 * Math.PI) / teeth);
  const missingTooth = rng.int(teeth);
  const metal = jitter(rng, [170, 173, 180], 6);
  const background = jitter(rng, [38, 42, 48], 4);
  const toothAt = (angle: number): number => {
    const step = (2 * Math.PI) / teeth;
    const k = Math.round((angle - rotation) / step);
    const d = Math.abs(angle - rotation - k * step);
    return d <= halfAngle ? ((k % teeth) + teeth) % teeth : -1;
  };
  const polar = (x: number, y: number) => {
    const dx = x + 0.5 - cx;
    const dy = y + 0.5 - cy;
    return { r: Math.hypot(dx, dy), a: Math.atan2(dy, dx) };
  };
  return {
    colour(x, y, missing) {
      const { r, a } = polar(x, y);
      const body = r >= inner && r <= outer;
      const tooth = r > outer && r <= outer + toothLength ? toothAt(a) : -1;
      if (body || (tooth >= 0 && !(missing && tooth === missingTooth))) {
        return scale(metal, 0.82 + 0.14 * Math.cos(a + Math.PI / 4) * (r / outer) + 0.04 * Math.cos(r / 3));
      }
      return background;
    },
    surface(x, y) {
      const { r } = polar(x, y);
      return r >= inner + 0.02 * size && r <= outer - 0.02 * size;
    },
  };
}

// -----------------------------------------------------------------------------------------
// Rendering.

function quantise(c: number): number {
  return c < 0 ? 0 : c > 255 ? 255 : Math.round(c);
}

/** Render the scene with per-pixel noise (same noise for every call with equal `noise`). */
function render(scene: Scene, size: number, noise: Float32Array, missing: boolean): Uint8Array {
  const img = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const c = scene.colour(x, y, missing);
      const p = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) img[p + ch] = quantise(c[ch] + noise[p + ch]);
    }
  }
  return img;
}

/** A random point where `scene.surface` holds (rejection sampling). */
function surfacePoint(scene: Scene, size: number, margin: number, rng: Rng): [number, number] {
  for (let tries = 0; tries < 10_000; tries++) {
    const x = rng.uniform(margin, size - margin);
    const y = rng.uniform(margin, size - margin);
    if (scene.surface(Math.floor(x), Math.floor(y))) return [x, y];
  }
  throw new InvalidArgumentError('options.size', 'a size large enough to place defects', String(size));
}

/** Distance from (x, y) to the segment a–b. */
function segmentDistance(x: number, y: number, ax: number, ay: number, bx: number, by: number): number {
  const vx = bx - ax;
  const vy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(x - ax - t * vx, y - ay - t * vy);
}

/** Paint a surface defect on `img` (in place); returns its coverage mask. */
function paintSurfaceDefect(kind: 'scratch' | 'hole' | 'stain', scene: Scene, img: Uint8Array, size: number, rng: Rng): Uint8Array {
  const mask = new Uint8Array(size * size);
  let inside: (x: number, y: number) => boolean;
  let paint: (c: Rgb) => Rgb;
  if (kind === 'scratch') {
    const [mx, my] = surfacePoint(scene, size, 0.15 * size, rng);
    const length = size * rng.uniform(0.08, 0.16);
    const angle = rng.uniform(0, Math.PI);
    const ax = mx - (Math.cos(angle) * length) / 2;
    const ay = my - (Math.sin(angle) * length) / 2;
    const bx = mx + (Math.cos(angle) * length) / 2;
    const by = my + (Math.sin(angle) * length) / 2;
    const halfWidth = Math.max(0.75, 0.004 * size);
    inside = (x, y) => segmentDistance(x + 0.5, y + 0.5, ax, ay, bx, by) <= halfWidth;
    paint = (c) => {
      const delta = (c[0] + c[1] + c[2]) / 3 > 110 ? -75 : 75;
      return [c[0] + delta, c[1] + delta, c[2] + delta];
    };
  } else if (kind === 'hole') {
    const radius = Math.max(1.6, size * rng.uniform(0.015, 0.025));
    const [hx, hy] = surfacePoint(scene, size, radius + 2, rng);
    inside = (x, y) => Math.hypot(x + 0.5 - hx, y + 0.5 - hy) <= radius;
    paint = () => [12 + rng.uniform(-2, 2), 10 + rng.uniform(-2, 2), 9 + rng.uniform(-2, 2)];
  } else {
    const spread = Math.max(2, size * rng.uniform(0.02, 0.035));
    const [sx, sy] = surfacePoint(scene, size, 2 * spread + 2, rng);
    const blobs = Array.from({ length: 3 + rng.int(3) }, () => ({
      x: sx + rng.uniform(-spread, spread),
      y: sy + rng.uniform(-spread, spread),
      r: spread * rng.uniform(0.4, 0.8),
    }));
    inside = (x, y) => blobs.some((b) => Math.hypot(x + 0.5 - b.x, y + 0.5 - b.y) <= b.r);
    paint = (c) => [0.45 * c[0] + 0.55 * 110, 0.45 * c[1] + 0.55 * 70, 0.45 * c[2] + 0.55 * 25];
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!inside(x, y) || !scene.surface(x, y)) continue;
      const p = (y * size + x) * 3;
      const out = paint([img[p], img[p + 1], img[p + 2]]);
      for (let ch = 0; ch < 3; ch++) img[p + ch] = quantise(out[ch]);
      mask[y * size + x] = 1;
    }
  }
  return mask;
}

/**
 * Render one sample of `className` with `defect` (or `null` for a normal sample) at
 * `size × size`, drawing everything from `rng` — a generator (`Rng` of `ckaad/nn`), or a seed
 * (a safe integer), which is the same as `new Rng(seed)`.
 *
 * @example
 * ```ts
 * const { image, mask } = renderSyntheticSample('disc', 'missing', 128, 1);
 * ```
 */
export function renderSyntheticSample(className: SyntheticClass, defect: SyntheticDefect | null, size: number, rng: Rng | number): SyntheticSample {
  if (!Number.isInteger(size) || size < 32) throw new InvalidArgumentError('size', 'an integer ≥ 32', String(size));
  if (!SYNTHETIC_CLASSES.includes(className)) {
    throw new InvalidArgumentError('className', `one of ${SYNTHETIC_CLASSES.join(', ')}`, String(className));
  }
  if (defect !== null && !SYNTHETIC_DEFECTS.includes(defect)) {
    throw new InvalidArgumentError('defect', `null or one of ${SYNTHETIC_DEFECTS.join(', ')}`, String(defect));
  }
  if (typeof rng === 'number') {
    if (!Number.isSafeInteger(rng)) throw new InvalidArgumentError('rng', 'an Rng or a seed (a safe integer)', String(rng));
    rng = new Rng(rng);
  }
  const scene = className === 'weave' ? weaveScene(size, rng) : discScene(size, rng);
  const noise = new Float32Array(size * size * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = rng.uniform(-3, 3);
  const base = render(scene, size, noise, false);
  if (defect === null) return { image: base, mask: new Uint8Array(size * size) };

  let image: Uint8Array;
  let mask: Uint8Array;
  if (defect === 'missing') {
    image = render(scene, size, noise, true);
    mask = new Uint8Array(size * size);
  } else {
    image = base.slice();
    mask = paintSurfaceDefect(defect, scene, image, size, rng);
  }
  // The mask is exactly the set of changed pixels: mark structural changes, and nudge any
  // painted pixel that happened to keep its colour.
  for (let i = 0; i < size * size; i++) {
    const p = 3 * i;
    const changed = image[p] !== base[p] || image[p + 1] !== base[p + 1] || image[p + 2] !== base[p + 2];
    if (defect === 'missing') mask[i] = changed ? 1 : 0;
    else if (mask[i] === 1 && !changed) image[p] = base[p] > 127 ? base[p] - 24 : base[p] + 24;
  }
  return { image, mask };
}

// -----------------------------------------------------------------------------------------
// Writing the dataset.
