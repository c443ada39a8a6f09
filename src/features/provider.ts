/**
 * Where a training step's backbone features come from (docs/reference-implementation.md §4 "F(N), F(A)"): the
 * {@link FeatureProvider} hands the trainer the feature maps of a step's normal and anomaly
 * batches, computing each image's features at most once per run when its dataset is fixed
 * (cached in {@link FeatureStore}s) and fresh on every draw when it is random (elastic
 * anomalies). Features are computed on the main thread, or — for datasets with a recipe —
 * in a {@link FeatureWorker} on another core, one step ahead of the training (`prefetch`).
 *
 * The backbone is frozen and per image (BatchNorm in eval mode), so an image's features do
 * not depend on the batch it is computed in: cached, prefetched and directly computed
 * features are the same numbers (float16 storage rounds them).
 */

import * as tf from '@tensorflow/tfjs-core';

import type { ResNetExtractorOptions } from '../backbone/extractor.js';
import type { FeatureExtractor } from '../backbone/extractor.js';
import { BackendError, InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { CacheBudget, FeatureStore } from './cache.js';
import type { FeatureStoreStats, MapShape, ResolvedFeatureCacheOptions, SpillTarget } from './cache.js';
import type { DatasetName, DatasetRecipe, ImageDataset } from '../data/image-dataset.js';
import { platform } from '../platform.js';
import type { FeatureWorkerHandle } from '../platform.js';

/** Features of a batch of images as the worker returns them: one [n·h·w·c] array per layer and its shape. */
type WorkerFeatures = { maps: Float32Array[]; shapes: number[][] };

/** The trainer's `worker` option: `'auto'`, on, off, or on with an explicit worker script. */
export type WorkerOption = 'auto' | boolean | { file: string };

/** Feature maps of one step: per layer [n, h, w, c], shallow → deep. The caller disposes them. */
export interface BatchFeatures {
  normal: tf.Tensor4D[];
  anomalies: tf.Tensor4D[] | null;
}

/** What a {@link FeatureProvider} did so far (for logs and benchmarks). */
export interface FeatureProviderStats {
  /** Images whose features were computed (on either thread), per dataset. */
  computed: Record<DatasetName, number>;
  /** Draws served from features cached by an earlier draw, per dataset. */
  cached: Record<DatasetName, number>;
  /** Whether a worker thread computes features (and on which backend), else null. */
  worker: string | null;
  /** The cache's contents per dataset (null: the dataset is not cached). */
  stores: Record<DatasetName, FeatureStoreStats | null>;
}

/** Options of {@link createFeatureProvider}. */
export interface FeatureProviderOptions {
  /** The frozen extractor (main thread). */
  extractor: FeatureExtractor;
  normal: ImageDataset;
  /** Anomalies, or null when the step uses none. */
  anomalies: ImageDataset | null;
  /** [H, W] of every image. */
  imageSize: [number, number];
  /** Per-image [h, w, c] of every map, shallow → deep. */
  mapShapes: MapShape[];
  /** Cache settings, or false for no cache. */
  cache: ResolvedFeatureCacheOptions | false;
  /** Whether to compute features in a worker thread. */
  worker: WorkerOption;
  /** How to rebuild the extractor in a worker (required for one). */
  extractorOptions: ResNetExtractorOptions | null;
  /** Which datasets draw new images on every call (never cached); see `isRandomDataset`. */
  random: { normal: boolean; anomalies: boolean };
}

/** One dataset's part of a step. */
class Part {
  computed = 0;
  cached = 0;
  /** Features computed for images the store could not take, until a batch uses them. */
  private readonly staged = new Map<number, Float32Array[]>();
  /** Indices with a cache-filling worker request in flight, and those requests. */
  private readonly inflight = new Set<number>();
  /** Indices a worker computed ahead of their first draw (not cache hits when drawn). */
  private readonly ahead = new Set<number>();
  private readonly filling: Promise<void>[] = [];
  /** Prefetched fresh batches (random datasets), in request order. */
  private readonly prefetched: { key: string; result: Promise<WorkerFeatures> }[] = [];

  constructor(
    readonly name: DatasetName,
    private readonly dataset: ImageDataset,
    private readonly store: FeatureStore | null,
    private readonly worker: FeatureWorkerHandle | null,
    private readonly extractor: FeatureExtractor,
    private readonly imageSize: [number, number],
    private readonly mapShapes: MapShape[],
  ) {}

  stats(): FeatureStoreStats | null {
    return this.store?.stats() ?? null;
  }

  /** Starts computing, in the worker, what {@link features} will need for `indices` in draw `key`. */
  prefetch(indices: readonly number[], key: number): void {
    if (this.worker === null) return;
    if (this.store === null) {
      const result = this.worker.request(this.name, indices, key);
      result.catch(() => undefined); // awaited (or discarded) by features()
      this.prefetched.push({ key: drawName(indices, key), result });
      return;
    }
    const missing = unique(indices).filter((i) => !this.store?.has(i) && !this.staged.has(i) && !this.inflight.has(i));
    if (missing.length === 0) return;
    for (const i of missing) this.inflight.add(i);
    const fill = this.worker.request(this.name, missing).then(
      (result) => {
        this.keep(missing, splitImages(result.maps, missing.length));
        this.computed += missing.length;
        for (const i of missing) {
          this.inflight.delete(i);
          this.ahead.add(i);
        }
      },
      (err: unknown) => {
        for (const i of missing) this.inflight.delete(i);
        throw err;
      },
    );
    fill.catch(() => undefined); // awaited by features()
    this.filling.push(fill);
  }

  /** The feature maps of images `indices` in draw `key`: per layer [n, h, w, c]. */
  async features(indices: readonly number[], key: number): Promise<tf.Tensor4D[]> {
    if (this.store === null) return this.fresh(indices, key);
    // Cache-filling requests first: they may hold some of these images.
    const filling = this.filling.splice(0);
    await Promise.all(filling);
    const missing = unique(indices).filter((i) => !this.store?.has(i) && !this.staged.has(i));
    const fresh = new Set(missing);
    for (const i of indices) {
      if (this.ahead.delete(i)) fresh.add(i);
      else if (!fresh.has(i)) this.cached += 1;
    }
    if (missing.length > 0) {
      const maps =
        this.worker !== null ? (await this.worker.request(this.name, missing)).maps : await this.extractHere(missing);
      this.keep(missing, splitImages(maps, missing.length));
      this.computed += missing.length;
    }
    const out = this.mapShapes.map(([h, w, c]) => new Float32Array(indices.length * h * w * c));
    indices.forEach((index, n) => {
      const staged = this.staged.get(index);
      if (staged === undefined) {
        (this.store as FeatureStore).readInto(index, out, n);
        return;
      }
      staged.forEach((m, l) => out[l].set(m, n * m.length));
    });
    for (const index of indices) this.staged.delete(index);
    return out.map((data, l) => tf.tensor4d(data, [indices.length, ...this.mapShapes[l]]));
  }

  /** Drops prefetched results and waits for the worker's outstanding work. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.filling.splice(0), ...this.prefetched.splice(0).map((p) => p.result)]);
  }

  dispose(): void {
    this.staged.clear();
    this.store?.dispose();
  }

  /** A random (or uncached) dataset: computed for this draw, never stored. */
  private async fresh(indices: readonly number[], key: number): Promise<tf.Tensor4D[]> {
    this.computed += indices.length;
    if (this.worker === null) return this.extractTensors(indices, key);
    const name = drawName(indices, key);
    let result: WorkerFeatures;
    const head = this.prefetched.shift();
    if (head !== undefined && head.key === name) {
      result = await head.result;
    } else {
      // Not what was prefetched (not expected in training): drop every prefetch and ask anew.
      if (head !== undefined) this.prefetched.unshift(head);
      await this.drain();
      result = await this.worker.request(this.name, indices, key);
    }
    return result.maps.map((data, l) => tf.tensor4d(data, result.shapes[l] as [number, number, number, number]));
  }

  /** Stores each image's maps, or stages them when the store cannot take them. */
  private keep(indices: readonly number[], perImage: Float32Array[][]): void {
    indices.forEach((index, k) => {
      if (this.store?.has(index) === true) return;
      if (this.store?.put(index, perImage[k]) !== true) this.staged.set(index, perImage[k].map((m) => m.slice()));
    });
  }

  /** Backbone features of `indices` (draw `key`) on this thread, as tensors. */
  private extractTensors(indices: readonly number[], key?: number): tf.Tensor4D[] {
    const images = this.dataset.batch(indices, key);
    try {
      const [n, h, w, c] = images.shape;
      if (images.rank !== 4 || n !== indices.length || h !== this.imageSize[0] || w !== this.imageSize[1] || c !== 3) {
        throw new ShapeMismatchError(
          `data.${this.name}.batch(…)`,
          `[${indices.length}, ${this.imageSize[0]}, ${this.imageSize[1]}, 3]`,
          `[${images.shape.join(', ')}]`,
        );
      }
      return this.extractor.extract(images);
    } finally {
      images.dispose();
    }
  }

  /** Backbone features of `indices` on this thread, downloaded: one array per layer. */
  private async extractHere(indices: readonly number[]): Promise<Float32Array[]> {
    const maps = this.extractTensors(indices);
    try {
      return await Promise.all(maps.map(async (m) => new Float32Array(await m.data<'float32'>())));
    } finally {
      tf.dispose(maps);
    }
  }
}

/** What identifies a draw: its indices and key. */
function drawName(indices: readonly number[], key: number): string {
  return `${key}:${indices.join(',')}`;
}

function unique(indices: readonly number[]): number[] {
  return [...new Set(indices)];
}

/** Per-layer batch arrays [n·size] → per-image arrays (views) [n][layer]. */
function splitImages(maps: readonly Float32Array[], n: number): Float32Array[][] {
  return Array.from({ length: n }, (_, k) =>
    maps.map((m) => {
      const size = m.length / n;
      return m.subarray(k * size, (k + 1) * size);
    }),
  );
}

/**
 * The source of a run's backbone features; see the module comment. Build one with
 * {@link createFeatureProvider}; dispose it (it owns the cache and the worker).
 */
export class FeatureProvider {
  private readonly parts: { normal: Part; anomalies: Part | null };
  private readonly worker: FeatureWorkerHandle | null;

  /** @internal Use {@link createFeatureProvider}. */
  constructor(
    parts: { normal: Part; anomalies: Part | null },
    worker: FeatureWorkerHandle | null,
    /** [H, W] of every image. */
    readonly imageSize: [number, number],
  ) {
    this.parts = parts;
    this.worker = worker;
  }

  /**
   * Feature maps of a step's normal and anomaly batches (anomalies: null for none). `key`
   * identifies the draw (the step number): random datasets draw the images of that key.
   */
  async batch(normal: readonly number[], anomalies: readonly number[] | null, key: number): Promise<BatchFeatures> {
    const fN = await this.parts.normal.features(normal, key);
    if (anomalies === null || this.parts.anomalies === null) return { normal: fN, anomalies: null };
    try {
      return { normal: fN, anomalies: await this.parts.anomalies.features(anomalies, key) };
    } catch (err) {
      tf.dispose(fN);
      throw err;
    }
  }

  /** Starts computing (in the worker, if any) what the next {@link batch} call (draw `key`) will need. */
  prefetch(normal: readonly number[], anomalies: readonly number[] | null, key: number): void {
    this.parts.normal.prefetch(normal, key);
    if (anomalies !== null) this.parts.anomalies?.prefetch(anomalies, key);
  }

  /** Counts of computed and cached images, and the cache's contents. */
  stats(): FeatureProviderStats {
    const { normal, anomalies } = this.parts;
    return {
      computed: { normal: normal.computed, anomalies: anomalies?.computed ?? 0 },
      cached: { normal: normal.cached, anomalies: anomalies?.cached ?? 0 },
      worker: this.worker?.backend ?? null,
      stores: { normal: normal.stats(), anomalies: anomalies?.stats() ?? null },
    };
  }

  /** Stops the worker and frees the cache (memory and spill files). */
  async dispose(): Promise<void> {
    try {
      await this.worker?.close();
      await this.parts.normal.drain();
      await this.parts.anomalies?.drain();
    } finally {
      this.parts.normal.dispose();
      this.parts.anomalies?.dispose();
    }
  }
}

/** Where the store of dataset `name` spills (lazily created), or null without a spill folder. */
function spillTarget(dir: string | null, name: DatasetName): SpillTarget | null {
  if (dir === null) return null;
  const create = platform().createSpillFile;
  if (create === null) throw new InvalidArgumentError('options.featureCache.spillDir', 'to be used only where there is a file system (Node: import ckaad/node)', dir);
  return () => create(dir, name);
}

/**
 * Builds the feature provider of a run: decides which datasets are cached (the fixed ones,
 * when the cache is on) and which are computed in a worker thread (those with a recipe,
 * when the worker is on and possible), and starts the worker.
 *
 * @throws BackendError / InvalidArgumentError naming `options.worker` when `worker` is
 *   true (or a file) but a worker cannot be used.
 */
export async function createFeatureProvider(options: FeatureProviderOptions): Promise<FeatureProvider> {
  const { extractor, normal, anomalies, imageSize, mapShapes, cache } = options;
  const datasets: [DatasetName, ImageDataset][] = [['normal', normal]];
  if (anomalies !== null) datasets.push(['anomalies', anomalies]);

  const worker = await startWorker(options, datasets);
  const budget = cache === false ? null : new CacheBudget(cache.maxMemoryBytes);
  const stores: FeatureStore[] = [];
  try {
    const part = async (name: DatasetName, dataset: ImageDataset): Promise<Part> => {
      let store: FeatureStore | null = null;
      if (cache !== false && budget !== null && !options.random[name]) {
        const spill = spillTarget(cache.spillDir, name);
        store = new FeatureStore(name, dataset.size, mapShapes, cache.dtype, budget, spill);
        stores.push(store);
      }
      const viaWorker = worker !== null && dataset.recipe !== undefined ? worker : null;
      return new Part(name, dataset, store, viaWorker, extractor, imageSize, mapShapes);
    };
    const parts = { normal: await part('normal', normal), anomalies: anomalies === null ? null : await part('anomalies', anomalies) };
    return new FeatureProvider(parts, worker, imageSize);
  } catch (err) {
    for (const s of stores) s.dispose();
    await worker?.close();
    throw err;
  }
}

/** Starts the worker if the options ask for one and it is possible; null otherwise. */
async function startWorker(options: FeatureProviderOptions, datasets: [DatasetName, ImageDataset][]): Promise<FeatureWorkerHandle | null> {
  const wanted = options.worker;
  if (wanted === false) return null;
  const forced = wanted !== 'auto';
  const refuse = (why: string): null => {
    if (forced) throw new InvalidArgumentError('options.worker', `a setting under which a feature worker can run (${why})`, JSON.stringify(wanted));
    return null;
  };
  const recipes: Partial<Record<DatasetName, DatasetRecipe>> = {};
  for (const [name, dataset] of datasets) if (dataset.recipe !== undefined) recipes[name] = dataset.recipe;
  if (Object.keys(recipes).length === 0) return refuse('no dataset has a recipe to rebuild it in the worker');
  if (options.extractorOptions === null) return refuse('TrainerModel.extractorOptions is missing');
  const backend = tf.getBackend();
  if (backend !== 'cpu' && backend !== 'wasm') return refuse(`the worker runs the bundled cpu or wasm backend, not '${backend}'`);
  const start = platform().startFeatureWorker;
  if (start === null) return refuse('this platform has no worker threads (Node: import ckaad/node)');
  if (!forced && platform().cores() < 2) return null;
  try {
    return await start({
      backend,
      extractor: options.extractorOptions,
      datasets: recipes,
      imageSize: options.imageSize,
      file: typeof wanted === 'object' ? wanted.file : undefined,
    });
  } catch (err) {
    if (forced || !(err instanceof BackendError) || !/No feature worker script/.test(err.message)) throw err;
    return null;
  }
}
