/**
 * What the trainer and its feature worker (worker.ts) say to each other. The worker rebuilds
 * the extractor and the datasets from serialisable recipes (`DatasetRecipe`, data/image-dataset.ts).
 *
 * A recipe is plain data (structured-cloneable): the worker thread cannot receive the
 * main thread's objects, so it rebuilds them with ckaad's own constructors.
 */

import type { ResNetExtractorOptions } from '../../backbone/extractor.js';
import type { DatasetName, DatasetRecipe } from '../../data/image-dataset.js';

/** Main thread → worker. */
export type ToWorker =
  | {
      type: 'init';
      /** Backend the worker computes on (the main thread's, when bundled). */
      backend: 'cpu' | 'wasm';
      /** wasm: XNNPACK threads of the worker's backend. */
      threads: number;
      /** `createResNetExtractor` options (weights: a path, bytes or 'random'). */
      extractor: ResNetExtractorOptions;
      datasets: Partial<Record<DatasetName, DatasetRecipe>>;
      /** Expected [H, W] of every image batch. */
      imageSize: [number, number];
    }
  /** The features of `indices` of `dataset`; `key`: the draw key (see `ImageDataset.batch`), or null. */
  | { type: 'features'; id: number; dataset: DatasetName; indices: number[]; key: number | null }
  | { type: 'close' };

/** Worker → main thread. */
export type FromWorker =
  | { type: 'ready'; backend: string }
  | {
      type: 'features';
      id: number;
      /** One [n·h·w·c] array per layer, shallow → deep. */
      maps: Float32Array[];
      /** The [n, h, w, c] shape of each map. */
      shapes: number[][];
    }
  | { type: 'error'; id: number | null; name: string; message: string };

export type { DatasetName, DatasetRecipe };
