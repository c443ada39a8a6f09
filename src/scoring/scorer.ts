/**
 * The test-time pipeline of paper eq. 14 over a stream of image batches:
 * features F = extractor(images), reconstructions F̃ = G(F), per-layer 1 − cos maps upsampled
 * and summed ({@link anomalyMaps}), Gaussian smoothing σ = 4 ({@link gaussianBlur}), image
 * score = mean of the top-k pixels ({@link imageScores}). Results come back as plain typed
 * arrays, ready for the metrics; every intermediate tensor is disposed.
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { checkSigma, checkTopK } from '../validate.js';
import { describe } from '../losses/checks.js';
import { anomalyMap } from './anomaly-map.js';
import { imageScores } from './image-scores.js';

/** Anything that turns preprocessed images into feature maps (e.g. a `FeatureExtractor`). */
export interface MapExtractor {
  /** [N, H, W, 3] preprocessed images → NHWC feature maps, shallow → deep; caller disposes. */
  extract(images: tf.Tensor4D): tf.Tensor4D[];
}

/** Anything that reconstructs feature maps (e.g. a `FeatureAutoEncoder`). */
export interface MapReconstructor {
  /** Feature maps → reconstructions of the same shapes and order; caller disposes. */
  reconstruct(maps: tf.Tensor4D[]): tf.Tensor4D[];
}

/** Options of {@link Scorer}. */
export interface ScorerOptions {
  /** Frozen feature extractor (not owned: the Scorer never disposes it). */
  extractor: MapExtractor;
  /** Trained auto-encoder (not owned). */
  autoencoder: MapReconstructor;
  /** σ of the Gaussian smoothing in pixels; 0 disables it. Default 4. */
  sigma?: number;
  /** Image score: mean of the top-k map values (integer ≥ 1), or `'mean'` of all pixels. Default 100. */
  topK?: number | 'mean';
  /**
   * Keep the maps of every batch in the result of {@link Scorer.score}. Default true. Set it
   * to false when only image scores are needed: a 256×256 map costs 256 KiB per image.
   * `onBatch` always receives the batch's maps.
   */
  keepMaps?: boolean;
}

/** Scores of a set of images, as flat typed arrays. */
export interface ScoreResult {
  /** [count] image scores S_img. */
  scores: Float32Array;
  /** [count·height·width] smoothed anomaly maps S_map, row-major per image (empty when `keepMaps` is false). */
  maps: Float32Array;
  /** Number of images. */
  count: number;
  /** Map height (= image height); 0 for an empty result. */
  height: number;
  /** Map width (= image width); 0 for an empty result. */
  width: number;
}

/**
 * Streams image batches through extractor → auto-encoder → anomaly maps → Gaussian
 * smoothing → top-k image scores (paper eq. 14 and §Testing).
 *
 * Input batches are not disposed: the caller owns them. A generator can release each batch
 * after the Scorer is done with it, because it resumes only when the next batch is requested:
 * `function* batches() { for (...) { const x = load(); yield x; x.dispose(); } }`.
 *
 * @example
 * ```ts
 * const scorer = new Scorer({ extractor, autoencoder });        // σ = 4, top-100
 * const { scores, maps, height, width } = await scorer.score(testBatches(), (r, i) => {
 *   console.log(`batch ${i}: ${r.count} images`);
 * });
 * ```
 */
export class Scorer {
  private readonly extractor: MapExtractor;
  private readonly autoencoder: MapReconstructor;
  /** σ of the Gaussian smoothing. */
  readonly sigma: number;
  /** k of the top-k image score, or `'mean'`. */
  readonly topK: number | 'mean';
  /** Whether {@link Scorer.score} returns the maps. */
  readonly keepMaps: boolean;

  constructor(options: ScorerOptions) {
    const { extractor, autoencoder, sigma = 4, topK = 100, keepMaps = true } = options;
    if (typeof extractor?.extract !== 'function') {
      throw new InvalidArgumentError('options.extractor', 'an object with an extract(images) method', describe(extractor));
    }
    if (typeof autoencoder?.reconstruct !== 'function') {
      throw new InvalidArgumentError('options.autoencoder', 'an object with a reconstruct(maps) method', describe(autoencoder));
    }
    checkSigma(sigma, 'options.sigma');
    checkTopK(topK, 'options.topK');
    this.extractor = extractor;
    this.autoencoder = autoencoder;
    this.sigma = sigma;
    this.topK = topK;
    this.keepMaps = keepMaps;
  }

  /**
   * Scores one batch synchronously.
   *
   * @param images - preprocessed images [N, H, W, 3] (not disposed).
   * @returns scores and smoothed maps of the batch as typed arrays.
   * @throws InvalidArgumentError if `images` is not [N ≥ 1, H, W, C] or H·W < topK.
   */
  scoreBatch(images: tf.Tensor4D): ScoreResult {
    const { scores, maps } = this.compute(images);
    try {
      return toResult(scores.dataSync(), maps.dataSync(), maps.shape);
    } finally {
      scores.dispose();
      maps.dispose();
    }
  }

  /**
   * Scores one batch from the frozen backbone's features of the images, e.g. features
   * computed once and reused for many models (the experiment runner's test-feature cache).
   * Gives the same result as {@link Scorer.scoreBatch} on the images themselves.
   *
   * @param features - the extractor's maps of the batch, shallow → deep, each [N, h, w, C]
   *   (not disposed).
   * @param imageSize - [H, W] of the images the features came from (the maps' size).
   * @returns scores and smoothed maps of the batch as typed arrays.
   * @throws InvalidArgumentError if `features` is not a non-empty list of [N ≥ 1, h, w, C]
   *   tensors with one N, or `imageSize` is not two positive integers.
   */
  scoreFeatureBatch(features: readonly tf.Tensor4D[], imageSize: readonly [number, number]): ScoreResult {
    const n = features[0]?.shape[0];
    if (!Array.isArray(features) || features.length === 0 || features.some((f) => f?.rank !== 4 || f.shape[0] !== n || n < 1)) {
      throw new InvalidArgumentError('features', 'one [N ≥ 1, h, w, C] tensor per layer, all with the same N', describe(features));
    }
    if (!Array.isArray(imageSize) || imageSize.length !== 2 || !imageSize.every((x) => Number.isInteger(x) && x >= 1)) {
      throw new InvalidArgumentError('imageSize', '[height, width] of the images, positive integers', JSON.stringify(imageSize));
    }
    const { scores, maps } = tf.tidy(() => this.fromFeatures([...features], imageSize[0], imageSize[1]));
    try {
      return toResult(scores.dataSync(), maps.dataSync(), maps.shape);
    } finally {
      scores.dispose();
      maps.dispose();
    }
  }

  /**
   * Scores a stream of batches (array, generator or async generator of [N, H, W, 3] tensors)
   * and concatenates the results in order. All batches must share H and W. Reads each batch's
   * results asynchronously, so non-CPU backends are not blocked.
   *
   * @param batches - the image batches (not disposed).
   * @param onBatch - called after each batch with its own result and its 0-based index.
   * @returns all scores (and maps unless `keepMaps` is false); count 0 for an empty stream.
   * @throws ShapeMismatchError if a batch's image size differs from the first batch's.
   */
  async score(
    batches: Iterable<tf.Tensor4D> | AsyncIterable<tf.Tensor4D>,
    onBatch?: (result: ScoreResult, index: number) => void,
  ): Promise<ScoreResult> {
    const scoreChunks: Float32Array[] = [];
    const mapChunks: Float32Array[] = [];
    let count = 0;
    let height = 0;
    let width = 0;
    let index = 0;
    for await (const images of batches) {
      if (index > 0 && images?.rank === 4 && (images.shape[1] !== height || images.shape[2] !== width)) {
        throw new ShapeMismatchError(
          `image size of batch ${index} vs batch 0`,
          `${height}×${width}`,
          `${images.shape[1]}×${images.shape[2]}`,
        );
      }
      const { scores, maps } = this.compute(images);
      let result: ScoreResult;
      try {
        const [s, m] = await Promise.all([scores.data(), maps.data()]);
        result = toResult(s, m, maps.shape);
      } finally {
        scores.dispose();
        maps.dispose();
      }
      height = result.height;
      width = result.width;
      count += result.count;
      scoreChunks.push(result.scores);
      if (this.keepMaps) mapChunks.push(result.maps);
      onBatch?.(result, index);
      index += 1;
    }
    return { scores: concat(scoreChunks), maps: concat(mapChunks), count, height, width };
  }

  /** Smoothed maps [N, H, W] and scores [N] of one batch, as tensors the caller disposes. */
  private compute(images: tf.Tensor4D): { scores: tf.Tensor1D; maps: tf.Tensor3D } {
    if (typeof images !== 'object' || images === null || images.rank !== 4 || images.shape[0] < 1) {
      throw new InvalidArgumentError('images', 'a batch of preprocessed images [N ≥ 1, H, W, 3]', describe(images));
    }
    const [, height, width] = images.shape;
    return tf.tidy(() => this.fromFeatures(this.extractor.extract(images), height, width));
  }

  /** Maps (paper eq. 14) and image scores from the backbone's maps (per layer [N, h, w, C]) of H×W images. */
  private fromFeatures(features: tf.Tensor4D[], height: number, width: number): { scores: tf.Tensor1D; maps: tf.Tensor3D } {
    const maps = anomalyMap(features, this.autoencoder.reconstruct(features), [height, width], this.sigma); // [N, H, W]
    return { scores: imageScores(maps, this.topK), maps };
  }
}

function toResult(scores: tf.TypedArray, maps: tf.TypedArray, shape: readonly number[]): ScoreResult {
  const [count, height, width] = shape;
  return { scores: Float32Array.from(scores), maps: Float32Array.from(maps), count, height, width };
}

function concat(chunks: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
