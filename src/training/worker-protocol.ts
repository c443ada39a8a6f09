/**
 * What the trainer and its feature worker (feature-worker.ts) say to each other, and the
 * serialisable recipes from which the worker rebuilds the extractor and the datasets.
 *
 * A recipe is plain data (structured-cloneable): the worker thread cannot receive the
 * main thread's objects, so it rebuilds them with ckaad's own constructors.
 */

import type { ResNetExtractorOptions } from '../backbone/extractor.js';
import type { ElasticOptions } from '../data/elastic.js';
import type { PixelStack } from '../data/pixel-dataset.js';

/**
 * How to rebuild a dataset in a worker thread, attached to an `ImageDataset` as its
 * `recipe`. The pixel bytes are copied to the worker once.
 *
 * - `pixels`: `pixelDataset(stack)` (decoded images, preprocessed per batch);
 * - `elastic`: `elasticDataset(stack, options)` (a fresh elastic anomaly per draw; the
 *   worker draws from its own generator seeded with `options.seed`).
 */
export type DatasetRecipe =
  | { kind: 'pixels'; stack: PixelStack }
  | { kind: 'elastic'; stack: PixelStack; options?: ElasticOptions & { seed?: number } };

/** The datasets a worker serves, by the trainer's name for them. */
export type DatasetName = 'normal' | 'anomalies';

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
  | { type: 'features'; id: number; dataset: DatasetName; indices: number[] }
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
