/**
 * Entry point of the feature worker thread (built to dist/feature-worker.js; see
 * client.ts for the main thread's side).
 *
 * It rebuilds the frozen extractor and the datasets from their recipes, then answers each
 * `features` request, in order, with the feature maps of the requested images: reading or
 * synthesising the images (elastic anomalies: the draw of the request's key, the same as the
 * main thread's), preprocessing and running the backbone on
 * the worker's own tfjs engine and backend — i.e. on the second core while the main thread
 * trains. The maps' buffers are transferred, not copied.
 */

import { parentPort } from 'node:worker_threads';

import * as tf from '@tensorflow/tfjs-core';

import { createResNetExtractor } from '../../backbone/extractor.js';
import type { FeatureExtractor } from '../../backbone/extractor.js';
import { useBackend } from '../../backend/select.js';
import { elasticDataset, pixelDataset } from '../../data/pixel-dataset.js';
import { CkaadError, ShapeMismatchError } from '../../errors.js';
import type { ImageDataset } from '../../data/image-dataset.js';
import type { DatasetName, DatasetRecipe, FromWorker, ToWorker } from './messages.js';
import { installNodePlatform } from '../platform.js';

installNodePlatform();

const port = parentPort;
if (port === null) throw new CkaadError('internal', 'feature-worker.js must run in a worker thread.');

let extractor: FeatureExtractor | null = null;
const datasets: Partial<Record<DatasetName, ImageDataset>> = {};
let imageSize: [number, number] = [0, 0];
// Requests are served strictly one after the other, in arrival order.
let queue: Promise<void> = Promise.resolve();

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  (port as NonNullable<typeof port>).postMessage(message, transfer);
}

function rebuild(recipe: DatasetRecipe): ImageDataset {
  return recipe.kind === 'pixels' ? pixelDataset(recipe.stack) : elasticDataset(recipe.stack, recipe.options ?? {});
}

async function init(message: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  const backend = await useBackend(message.backend, message.backend === 'wasm' ? { threads: message.threads } : {});
  extractor = await createResNetExtractor(message.extractor);
  for (const name of Object.keys(message.datasets) as DatasetName[]) {
    const recipe = message.datasets[name];
    if (recipe !== undefined) datasets[name] = rebuild(recipe);
  }
  imageSize = message.imageSize;
  post({ type: 'ready', backend });
}

async function features(message: Extract<ToWorker, { type: 'features' }>): Promise<void> {
  const dataset = datasets[message.dataset];
  if (extractor === null || dataset === undefined) {
    throw new CkaadError('internal', `The feature worker has no dataset '${message.dataset}' (not initialised).`);
  }
  const images = dataset.batch(message.indices, message.key ?? undefined);
  let maps: tf.Tensor4D[] = [];
  try {
    const [n, h, w, c] = images.shape;
    if (n !== message.indices.length || h !== imageSize[0] || w !== imageSize[1] || c !== 3) {
      throw new ShapeMismatchError(
        `data.${message.dataset}.batch(…) in the feature worker`,
        `[${message.indices.length}, ${imageSize[0]}, ${imageSize[1]}, 3]`,
        `[${images.shape.join(', ')}]`,
      );
    }
    maps = extractor.extract(images);
    // Own copies: the cpu backend hands out its storage itself, which must not be transferred.
    const arrays = await Promise.all(maps.map(async (m) => new Float32Array(await m.data<'float32'>())));
    post(
      { type: 'features', id: message.id, maps: arrays, shapes: maps.map((m) => [...m.shape]) },
      arrays.map((a) => a.buffer as ArrayBuffer),
    );
  } finally {
    images.dispose();
    tf.dispose(maps);
  }
}

function fail(id: number | null, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'error', id, name: e.name, message: e.message });
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'init':
      queue = queue.then(() => init(message)).catch((err: unknown) => fail(null, err));
      break;
    case 'features':
      queue = queue.then(() => features(message)).catch((err: unknown) => fail(message.id, err));
      break;
    case 'close':
      queue = queue.then(() => {
        extractor?.dispose();
        extractor = null;
        port.close();
      });
      break;
  }
});
