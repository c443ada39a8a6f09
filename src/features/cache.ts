/**
 * A store of frozen-backbone features, per dataset and image index, so that the features of
 * images that never change (normal images, real labelled anomalies) are computed once per
 * run instead of once per epoch.
 *
 * Each image's maps (one per reconstructed layer, [h, w, c] each) are stored flat, in
 * float32 (exact) or float16 (half the memory; IEEE half, round to nearest even, decoded
 * back to float32 per batch). A {@link CacheBudget} shared by all stores of a run bounds the
 * bytes held in memory; beyond it an image's features go to a spill file on disk (one file
 * per store, fixed-size records, read back with positioned reads) when a spill directory is
 * set, and are otherwise not cached at all (the trainer recomputes them when needed).
 *
 * The store lives in JavaScript memory, outside the backend's (e.g. the 4 GB wasm heap).
 */

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { decodeHalves, encodeHalves } from '../io/float16.js';
import type { SpillFile } from '../platform.js';

/** Storage precision of cached features. */
export type FeatureDtype = 'float32' | 'float16';

/** Options of the trainer's feature cache (`TrainerOptions.featureCache`). */
export interface FeatureCacheOptions {
  /**
   * Storage precision: `'float32'` keeps features exactly (training gives the same losses
   * as without the cache), `'float16'` halves the memory (values rounded to 11 significant
   * bits; losses agree to ~1e-3 relative). Default `'float32'`.
   */
  dtype?: FeatureDtype;
  /** Most bytes of features kept in memory, all datasets together. Default 1 GiB. */
  maxMemoryBytes?: number;
  /**
   * Directory for the features that do not fit in `maxMemoryBytes`: one temporary file per
   * dataset, deleted when training ends. Default: none (features beyond the memory bound
   * are not cached and are recomputed whenever their image is drawn).
   */
  spillDir?: string;
}

/** {@link FeatureCacheOptions} with defaults filled in. */
export interface ResolvedFeatureCacheOptions {
  readonly dtype: FeatureDtype;
  readonly maxMemoryBytes: number;
  readonly spillDir: string | null;
}

/** Default of {@link FeatureCacheOptions.maxMemoryBytes}: 1 GiB. */
export const DEFAULT_CACHE_MEMORY_BYTES = 2 ** 30;

/**
 * Fills in defaults and validates; `false` stays `false` (no cache).
 *
 * @throws InvalidArgumentError naming the bad field (`options.featureCache.dtype`, …).
 */
export function resolveFeatureCacheOptions(options: FeatureCacheOptions | false | undefined): ResolvedFeatureCacheOptions | false {
  if (options === false) return false;
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new InvalidArgumentError('options.featureCache', 'false or { dtype?, maxMemoryBytes?, spillDir? }', String(o));
  }
  const dtype = o.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new InvalidArgumentError('options.featureCache.dtype', "'float32' or 'float16'", String(dtype));
  }
  const maxMemoryBytes = o.maxMemoryBytes ?? DEFAULT_CACHE_MEMORY_BYTES;
  if (typeof maxMemoryBytes !== 'number' || !Number.isFinite(maxMemoryBytes) || maxMemoryBytes < 0) {
    throw new InvalidArgumentError('options.featureCache.maxMemoryBytes', 'a finite number of bytes ≥ 0', String(maxMemoryBytes));
  }
  const spillDir = o.spillDir ?? null;
  if (spillDir !== null && (typeof spillDir !== 'string' || spillDir.length === 0)) {
    throw new InvalidArgumentError('options.featureCache.spillDir', 'a non-empty directory path', String(spillDir));
  }
  return { dtype, maxMemoryBytes, spillDir };
}

// -----------------------------------------------------------------------------------------
// budget and spill files

/** The memory bound shared by the stores of one run. */
export class CacheBudget {
  private used = 0;

  /** @param maxBytes Most bytes all stores together may hold in memory. */
  constructor(readonly maxBytes: number) {}

  /** Bytes currently held in memory. */
  get usedBytes(): number {
    return this.used;
  }

  /** Reserves `bytes` if they fit; returns whether they did. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  /** Returns `bytes` reserved earlier. */
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}

/** Opens the spill file of a store on first use (the platform's `createSpillFile`, bound to a folder and a name). */
export type SpillTarget = () => SpillFile;

// -----------------------------------------------------------------------------------------
// the store

/** Shape of one image's map of one layer: [h, w, c]. */
export type MapShape = readonly [number, number, number];

/** Counts of a store's contents. */
export interface FeatureStoreStats {
  /** Images whose features are held in memory. */
  inMemory: number;
  /** Images whose features are in the spill file. */
  onDisk: number;
  /** Bytes of features held in memory. */
  memoryBytes: number;
  /** Bytes of features written to the spill file. */
  diskBytes: number;
}

/**
 * Cached features of one dataset: for each image index, its maps of every layer.
 *
 * @example
 * ```ts
 * const store = new FeatureStore('normal', 100, [[32, 32, 128], [16, 16, 256]], 'float16', new CacheBudget(2 ** 30));
 * store.put(7, [map2, map3]);              // Float32Array per layer, [h·w·c] each
 * const [f2, f3] = store.read([7, 7]);     // [2·32·32·128], [2·16·16·256]
 * ```
 */
export class FeatureStore {
  /** Floats per image per layer. */
  readonly layerSizes: readonly number[];
  /** Floats per image, all layers. */
  readonly imageFloats: number;
  /** Bytes per image in storage. */
  readonly imageBytes: number;
  private readonly memory = new Map<number, Float32Array | Uint16Array>();
  private readonly onDisk = new Set<number>();
  private file: SpillFile | null = null;
  private disposed = false;

  /**
   * @param name The dataset's name, for messages (e.g. `'normal'`).
   * @param size Number of images of the dataset (valid indices are [0, size)).
   * @param shapes Per-image map shape of each layer, [h, w, c].
   * @param dtype Storage precision.
   * @param budget Memory bound shared with the run's other stores.
   * @param spill Where to put what exceeds the budget; null: such images are not cached.
   */
  constructor(
    readonly name: string,
    readonly size: number,
    readonly shapes: readonly MapShape[],
    readonly dtype: FeatureDtype,
    private readonly budget: CacheBudget,
    private readonly spill: SpillTarget | null = null,
  ) {
    if (!Number.isInteger(size) || size < 0) throw new InvalidArgumentError('size', 'an integer ≥ 0', String(size));
    if (!Array.isArray(shapes) || shapes.length === 0 || !shapes.every((s: MapShape) => s.length === 3 && s.every((d: number) => Number.isInteger(d) && d > 0))) {
      throw new InvalidArgumentError('shapes', 'one [h, w, c] of positive integers per layer');
    }
    this.layerSizes = shapes.map(([h, w, c]) => h * w * c);
    this.imageFloats = this.layerSizes.reduce((a, b) => a + b, 0);
    this.imageBytes = this.imageFloats * (dtype === 'float16' ? 2 : 4);
  }

  /** True when the features of image `index` are cached (in memory or on disk). */
  has(index: number): boolean {
    return this.memory.has(index) || this.onDisk.has(index);
  }

  /** Counts of what is cached where. */
  stats(): FeatureStoreStats {
    return {
      inMemory: this.memory.size,
      onDisk: this.onDisk.size,
      memoryBytes: this.memory.size * this.imageBytes,
      diskBytes: this.onDisk.size * this.imageBytes,
    };
  }

  /**
   * Caches the features of image `index` (a no-op if already cached): `maps[l]` holds its
   * layer-l map, [h·w·c] floats. Goes to memory if the budget allows, else to the spill
   * file, else nowhere.
   *
   * @returns whether the features are now cached.
   */
  put(index: number, maps: readonly Float32Array[]): boolean {
    this.checkAlive();
    this.checkIndex(index);
    if (maps.length !== this.layerSizes.length || maps.some((m, l) => m.length !== this.layerSizes[l])) {
      throw new ShapeMismatchError(
        `features of ${this.name} image ${index}`,
        `${this.layerSizes.length} maps of [${this.layerSizes.join(', ')}] floats`,
        `[${maps.map((m) => m.length).join(', ')}]`,
      );
    }
    if (this.has(index)) return true;
    const toMemory = this.budget.tryReserve(this.imageBytes);
    if (!toMemory && this.spill === null) return false;
    const record = this.encode(maps);
    if (toMemory) {
      this.memory.set(index, record);
      return true;
    }
    const bytes = new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
    this.spillFile().write(bytes, index * this.imageBytes);
    this.onDisk.add(index);
    return true;
  }

  /**
   * The cached features of `indices` (all must be cached), per layer as one float32 array
   * [indices.length·h·w·c] in the order of `indices`.
   */
  read(indices: readonly number[]): Float32Array[] {
    const out = this.layerSizes.map((s) => new Float32Array(indices.length * s));
    indices.forEach((index, n) => this.readInto(index, out, n));
    return out;
  }

  /**
   * Writes the cached features of image `index` into `out[l]` at image position `position`
   * (float offset position·h·w·c of layer l), decoding float16.
   *
   * @throws InvalidArgumentError if the image is not cached.
   */
  readInto(index: number, out: readonly Float32Array[], position: number): void {
    this.checkAlive();
    let record = this.memory.get(index);
    if (record === undefined) {
      if (!this.onDisk.has(index)) {
        throw new InvalidArgumentError('indices', `images whose ${this.name} features are cached`, String(index));
      }
      const scratch = new Uint8Array(this.imageBytes);
      this.spillFile().read(scratch, index * this.imageBytes);
      record = this.dtype === 'float16' ? new Uint16Array(scratch.buffer) : new Float32Array(scratch.buffer);
    }
    let offset = 0;
    this.layerSizes.forEach((size, l) => {
      const part = record.subarray(offset, offset + size);
      if (part instanceof Uint16Array) decodeHalves(part, out[l], position * size);
      else out[l].set(part, position * size);
      offset += size;
    });
  }

  /** Frees the memory, closes and deletes the spill file. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.budget.release(this.memory.size * this.imageBytes);
    this.memory.clear();
    this.onDisk.clear();
    this.file?.remove();
    this.file = null;
  }

  private encode(maps: readonly Float32Array[]): Float32Array | Uint16Array {
    const record = this.dtype === 'float16' ? new Uint16Array(this.imageFloats) : new Float32Array(this.imageFloats);
    let offset = 0;
    maps.forEach((m) => {
      if (record instanceof Uint16Array) encodeHalves(m, record.subarray(offset, offset + m.length));
      else record.set(m, offset);
      offset += m.length;
    });
    return record;
  }

  private spillFile(): SpillFile {
    if (this.spill === null) throw new InvalidArgumentError('options.featureCache.spillDir', 'a directory (none is set)');
    this.file ??= this.spill();
    return this.file;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new InvalidArgumentError('index', `an image index in [0, ${this.size})`, String(index));
    }
  }

  private checkAlive(): void {
    if (this.disposed) throw new InvalidArgumentError('store', `a feature store that has not been disposed (${this.name})`);
  }
}
