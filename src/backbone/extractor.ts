/**
 * The frozen feature extractor (docs/reference-implementation.md §1): the interface the rest of ckaad depends on, the
 * torchvision ResNet implementation of it, and an adapter for any other network.
 */

import * as tf from '@tensorflow/tfjs-core';

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { ensureBackend } from '../backend/select.js';
import { BYTE_SOURCE_KINDS, isByteSource } from '../io/byte-source.js';
import type { ByteSource } from '../io/byte-source.js';
import { readSafetensors } from '../io/safetensors.js';
import {
  LAYER_NAMES,
  RESNET_CONFIGS,
  STAGE_STRIDES,
  stageChannels,
  type LayerName,
  type ResNetConfig,
  type ResNetName,
} from './configs.js';
import { resnetForward } from './resnet.js';
import { loadResNetWeights, randomWeightSource, type ResNetWeights } from './resnet-weights.js';

/** A frozen network mapping preprocessed images to a few multi-scale feature maps. */
export interface FeatureExtractor {
  /** Channels of each returned map, in order (shallow → deep). */
  readonly channels: readonly number[];
  /** Downsampling factor of each returned map relative to the input image (e.g. 8, 16). */
  readonly strides: readonly number[];
  /** images: preprocessed [N, H, W, 3] float32 → one NHWC map per requested layer, [N, H/stride, W/stride, C]. Caller disposes the results. */
  extract(images: tf.Tensor4D): tf.Tensor4D[];
  dispose(): void;
}

// -----------------------------------------------------------------------------------------
// ResNet

/** Options of {@link createResNetExtractor}. */
export interface ResNetExtractorOptions {
  /** Backbone architecture, e.g. `'resnet18'` or `'wide_resnet50_2'`. */
  arch: ResNetName;
  /** Layers to return (any order, no duplicates; returned shallow → deep), e.g. `['layer2', 'layer3']`. */
  layers: readonly LayerName[];
  /**
   * `model.safetensors` with torchvision parameter names: the file's bytes, a Blob/File, an
   * http(s) URL, a path (Node), or `'random'` for torchvision's random initialisation (features
   * are then meaningless; for tests and benchmarks — use `'./random'` for a file of that name).
   * Default `'random'`.
   */
  weights?: ByteSource | 'random';
  /** Seed of the random initialisation (ignored for files). Default 0. */
  seed?: number;
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Checks a batch of preprocessed images: float32 [N ≥ 1, H ≥ 1, W ≥ 1, 3]. */
function checkImages(images: tf.Tensor4D): void {
  if (!(images instanceof tf.Tensor)) throw new InvalidArgumentError('images', 'a tf.Tensor4D [N, H, W, 3]', typeof images);
  const shape = `${images.dtype} [${images.shape.join(', ')}]`;
  if (images.rank !== 4 || images.shape[3] !== 3 || images.dtype !== 'float32' || images.shape.slice(0, 3).some((d) => d < 1)) {
    throw new InvalidArgumentError('images', 'preprocessed float32 images [N, H, W, 3] (see preprocessImages)', shape);
  }
}

/**
 * A torchvision ResNet truncated after its deepest requested layer, with BatchNorm folded
 * into the convolutions. Build one with {@link createResNetExtractor}.
 */
export class ResNetFeatureExtractor implements FeatureExtractor {
  readonly arch: ResNetName;
  /** Returned layers, shallow → deep. */
  readonly layers: readonly LayerName[];
  readonly config: ResNetConfig;
  readonly channels: readonly number[];
  readonly strides: readonly number[];
  /** Number of float parameters held: only the stem and the stages up to the deepest requested layer. */
  readonly numParameters: number;
  private weights: ResNetWeights | undefined;

  /** @internal Use {@link createResNetExtractor}. */
  constructor(config: ResNetConfig, layers: readonly LayerName[], weights: ResNetWeights) {
    this.arch = config.name;
    this.config = config;
    this.layers = layers;
    this.channels = layers.map((l) => stageChannels(config, l));
    this.strides = layers.map((l) => STAGE_STRIDES[LAYER_NAMES.indexOf(l)]);
    this.numParameters = weights.numParameters;
    this.weights = weights;
  }

  /**
   * Feature maps of the requested layers for a batch of preprocessed images. Sizes follow
   * PyTorch's rounding: exactly H/stride × W/stride when H and W are multiples of 32.
   */
  extract(images: tf.Tensor4D): tf.Tensor4D[] {
    if (this.weights === undefined) throw new InvalidArgumentError('extractor', 'an extractor that has not been disposed');
    checkImages(images);
    return resnetForward(images, this.weights, this.layers);
  }

  /** Frees the weights. The extractor cannot be used afterwards. */
  dispose(): void {
    this.weights?.dispose();
    this.weights = undefined;
  }
}

/**
 * Builds a frozen torchvision ResNet feature extractor. Only the stem and the stages up to the
 * deepest requested layer are read, held and run (layer4 is skipped for `['layer2', 'layer3']`).
 * Throws {@link InvalidArgumentError} for unknown architectures or layers,
 * {@link WeightsMismatchError} (listing every bad tensor) if the file does not match the
 * architecture, and {@link FileFormatError} if it is not a valid safetensors file.
 *
 * @example
 * ```ts
 * const extractor = await createResNetExtractor({ arch: 'wide_resnet50_2', layers: ['layer1', 'layer2', 'layer3'], weights: 'wide_resnet50_2.safetensors' });
 * const maps = extractor.extract(preprocessImages(images)); // [N,64,64,256], [N,32,32,512], [N,16,16,1024]
 * maps.forEach((m) => m.dispose());
 * extractor.dispose();
 * ```
 */
export async function createResNetExtractor(options: ResNetExtractorOptions): Promise<ResNetFeatureExtractor> {
  const { arch, layers, weights = 'random', seed = 0 } = options;
  if (typeof arch !== 'string' || !Object.prototype.hasOwnProperty.call(RESNET_CONFIGS, arch)) {
    throw new InvalidArgumentError('options.arch', `one of ${Object.keys(RESNET_CONFIGS).join(', ')}`, describe(arch));
  }
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new InvalidArgumentError('options.layers', `a non-empty array of ${LAYER_NAMES.join(', ')}`, describe(layers));
  }
  for (const l of layers) {
    if (!LAYER_NAMES.includes(l)) throw new InvalidArgumentError('options.layers', `names among ${LAYER_NAMES.join(', ')}`, describe(l));
  }
  if (new Set(layers).size !== layers.length) {
    throw new InvalidArgumentError('options.layers', 'no duplicate layer', `[${layers.join(', ')}]`);
  }
  if (!Number.isInteger(seed)) throw new InvalidArgumentError('options.seed', 'an integer', describe(seed));

  if (weights !== 'random' && !isByteSource(weights)) {
    throw new InvalidArgumentError('options.weights', `'random' or ${BYTE_SOURCE_KINDS}`, describe(weights));
  }
  const config = RESNET_CONFIGS[arch];
  const sorted = [...layers].sort((a, b) => LAYER_NAMES.indexOf(a) - LAYER_NAMES.indexOf(b));
  const depth = LAYER_NAMES.indexOf(sorted[sorted.length - 1]) + 1;
  await ensureBackend();
  if (weights === 'random') {
    return new ResNetFeatureExtractor(config, sorted, await loadResNetWeights(config, depth, randomWeightSource(config, seed)));
  }
  const bytes = weights instanceof Uint8Array || weights instanceof ArrayBuffer;
  const reader = await readSafetensors(weights, bytes ? '<weights bytes>' : undefined);
  try {
    return new ResNetFeatureExtractor(config, sorted, await loadResNetWeights(config, depth, reader));
  } finally {
    await reader.close();
  }
}

// -----------------------------------------------------------------------------------------
// any other network

/** A plain function from preprocessed images to feature maps (one tensor or several). */
export type FeatureFunction = (images: tf.Tensor4D) => tf.Tensor | tf.Tensor[];

/** Anything with a synchronous `execute`, such as a tfjs-converter GraphModel. */
export interface ExecutableModel {
  execute(inputs: tf.Tensor, outputs?: string | string[]): tf.Tensor | tf.Tensor[];
}

/** Anything with a `predict`, such as a tfjs-layers LayersModel. */
export interface PredictableModel {
  predict(inputs: tf.Tensor): tf.Tensor | tf.Tensor[];
}

/** Options of {@link extractorFromFunction}. */
export interface FunctionExtractorOptions {
  /** Channels of the maps `fn` returns, in its output order (shallow → deep). */
  channels: readonly number[];
  /** Downsampling factor of each returned map relative to the input. */
  strides: readonly number[];
  /** The network: a function, or a model with `execute` (GraphModel) or `predict` (LayersModel). */
  fn: FeatureFunction | ExecutableModel | PredictableModel;
  /** Output node names passed to `execute` (GraphModel only). Default: the model's outputs. */
  outputs?: string | string[];
  /** Called by the extractor's `dispose()` (e.g. `() => model.dispose()`). Default: nothing — the caller keeps ownership of `fn`. */
  dispose?: () => void;
}

function checkPositiveIntegers(name: string, v: readonly number[]): void {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x > 0)) {
    throw new InvalidArgumentError(name, 'a non-empty array of positive integers', describe(v));
  }
}

/**
 * Wraps any network as a {@link FeatureExtractor}. Every call's outputs are checked against
 * `channels` and `strides` (count, batch, channels, spatial size within rounding) and a
 * {@link ShapeMismatchError} is thrown on disagreement; intermediate tensors the network
 * creates are freed (the call runs inside `tf.tidy`). Models needing `executeAsync` are not
 * supported.
 *
 * @example
 * ```ts
 * const model = await tfconv.loadGraphModel('efficientnet/model.json');
 * const extractor = extractorFromFunction({ channels: [40, 112], strides: [8, 16], fn: model, outputs: ['block3', 'block5'] });
 * ```
 */
export function extractorFromFunction(options: FunctionExtractorOptions): FeatureExtractor {
  const { fn, outputs, dispose } = options;
  checkPositiveIntegers('options.channels', options.channels);
  checkPositiveIntegers('options.strides', options.strides);
  if (options.strides.length !== options.channels.length) {
    throw new InvalidArgumentError('options.strides', `${options.channels.length} entries, one per entry of options.channels`, `${options.strides.length}`);
  }
  let run: (images: tf.Tensor4D) => tf.Tensor | tf.Tensor[];
  if (typeof fn === 'function') run = fn;
  else if (fn !== null && typeof fn === 'object' && typeof (fn as ExecutableModel).execute === 'function') {
    const model = fn as ExecutableModel;
    run = (images) => (outputs === undefined ? model.execute(images) : model.execute(images, outputs));
  } else if (fn !== null && typeof fn === 'object' && typeof (fn as PredictableModel).predict === 'function') {
    const model = fn as PredictableModel;
    run = (images) => model.predict(images);
  } else {
    throw new InvalidArgumentError('options.fn', 'a function, or an object with an execute() or predict() method', describe(fn));
  }
  const channels = [...options.channels];
  const strides = [...options.strides];
  let disposed = false;

  return {
    channels,
    strides,
    extract(images: tf.Tensor4D): tf.Tensor4D[] {
      if (disposed) throw new InvalidArgumentError('extractor', 'an extractor that has not been disposed');
      checkImages(images);
      const [n, h, w] = images.shape;
      const result = tf.tidy(() => {
        const out = run(images);
        return Array.isArray(out) ? out : [out];
      });
      const expected = channels.map((c, i) => `[${n}, ${h / strides[i]}, ${w / strides[i]}, ${c}] float32`);
      const found = result.map((t) => `[${t.shape.join(', ')}] ${t.dtype}`);
      const ok =
        result.length === channels.length &&
        result.every((t, i) => {
          const [tn, th, tw, tc] = t.shape;
          return (
            t.rank === 4 && t.dtype === 'float32' && tn === n && tc === channels[i] &&
            Math.abs(h / strides[i] - th) < 1 && Math.abs(w / strides[i] - tw) < 1
          );
        });
      if (!ok) {
        for (const t of result) if (t !== images) t.dispose();
        throw new ShapeMismatchError('the feature maps returned by the wrapped network', expected.join(', '), found.join(', '));
      }
      return result as tf.Tensor4D[];
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      dispose?.();
    },
  };
}
