/**
 * What the trainer checks of its data before the first step, so that a bad dataset fails at
 * once with an error naming it — not after hours of training, and not only when the saved
 * model is later used to score.
 */

import * as tf from '@tensorflow/tfjs-core';

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import type { LayerName } from '../backbone/configs.js';
import type { FeatureExtractor } from '../backbone/extractor.js';
import { probeImageSize, probeImageSizeIfAny } from '../data/image-dataset.js';
import type { ImageDataset, ValidationSet } from '../data/image-dataset.js';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { MapShape } from '../features/cache.js';
import { checkTopK } from '../validate.js';

/** The data of one training run. */
export interface TrainingData {
  /** Normal training images. Needs at least `batchSize` images (incomplete batches are dropped). */
  normal: ImageDataset;
  /** Labelled anomalous training images (image labels only). Optional: without them, pure Recon. */
  anomalies?: ImageDataset;
  /** Held-out labelled split for model selection by image AUROC (never the test set). */
  validation?: ValidationSet;
}

/**
 * Validates the datasets for an auto-encoder on `layers` trained in batches of `batchSize`
 * and scored with `topK`; returns the image size [H, W].
 *
 * @throws InvalidArgumentError / ShapeMismatchError naming the dataset (or `options.topK`).
 */
export function checkTrainingData(data: TrainingData, layers: LayerName[], batchSize: number, topK: number | 'mean'): [number, number] {
  if (typeof data !== 'object' || data === null) {
    throw new InvalidArgumentError('data', 'an object { normal, anomalies?, validation? }', String(data));
  }
  const size = probeImageSize(data.normal, 'data.normal', batchSize);
  const minimum = FeatureAutoEncoder.minimumInputSize(layers);
  if (Math.min(size[0], size[1]) < minimum) {
    throw new InvalidArgumentError(
      'data.normal',
      `images of at least ${minimum}×${minimum} pixels for layers [${layers.join(', ')}] ` +
        '(smaller inputs leave a 1×1 bottleneck, on which instance norm is undefined)',
      `${size[0]}×${size[1]}`,
    );
  }
  if (size[0] === size[1]) FeatureAutoEncoder.validateInputSize(size[0], layers, 'data.normal');
  // Validation and the saved model score with top-k over the image's pixels.
  checkTopK(topK, 'options.topK', size);
  const same = (name: string, other: [number, number]) => {
    if (other[0] !== size[0] || other[1] !== size[1]) {
      throw new ShapeMismatchError(`${name} image size`, `${size[0]}×${size[1]} (as data.normal)`, `${other[0]}×${other[1]}`);
    }
  };
  if (data.anomalies !== undefined) {
    const anomalySize = probeImageSizeIfAny(data.anomalies, 'data.anomalies');
    if (anomalySize !== null) same('data.anomalies', anomalySize);
  }
  if (data.validation !== undefined) {
    const v = data.validation;
    if (typeof v !== 'object' || v === null || !(v.labels instanceof Uint8Array)) {
      throw new InvalidArgumentError('data.validation', '{ images: ImageDataset, labels: Uint8Array }');
    }
    same('data.validation.images', probeImageSize(v.images, 'data.validation.images'));
    if (v.labels.length !== v.images.size) {
      throw new ShapeMismatchError('data.validation.labels', `${v.images.size} labels (one per image)`, String(v.labels.length));
    }
    if (v.labels.some((l) => l !== 0 && l !== 1)) {
      throw new InvalidArgumentError('data.validation.labels', 'only 0 (normal) and 1 (anomalous)');
    }
    if (!v.labels.includes(0) || !v.labels.includes(1)) {
      throw new InvalidArgumentError('data.validation.labels', 'both normal (0) and anomalous (1) images (AUROC needs both)');
    }
  }
  return size;
}

/** Throws unless the extractor's channels are those the auto-encoder reconstructs. */
export function checkChannels(autoencoder: FeatureAutoEncoder, extractor: FeatureExtractor): void {
  const expected = autoencoder.channels.join(', ');
  const found = extractor.channels.join(', ');
  if (expected !== found) {
    const { backbone, layers } = autoencoder.options;
    throw new ShapeMismatchError(`extractor channels for a ${backbone} auto-encoder on [${layers.join(', ')}]`, `[${expected}]`, `[${found}]`);
  }
}

/** Per-image [h, w, c] of every feature map, read from one extracted image of `dataset`. */
export function mapShapes(extractor: FeatureExtractor, dataset: ImageDataset): MapShape[] {
  const images = dataset.batch([0]);
  const maps = extractor.extract(images);
  images.dispose();
  const shapes = maps.map((m): MapShape => [m.shape[1], m.shape[2], m.shape[3]]);
  tf.dispose(maps);
  return shapes;
}
