/**
 * The feature auto-encoder G = D(E(·)) of CKAAD (paper eq. 1, docs/reference-implementation.md §2): it reconstructs
 * the frozen backbone's feature maps through a bottleneck. All norms are affine
 * InstanceNorm, convs have no bias; convs are kaiming-normal (fan_out, relu) and
 * transposed convs keep PyTorch's default init.
 */

import * as tf from '@tensorflow/tfjs-core';
import { RESNET_CONFIGS, stageChannels, type LayerName, type ResNetName } from '../backbone/configs.js';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { BaseModule } from '../nn/module.js';
import { Rng } from '../nn/random.js';
import { DeResNetDecoder } from './deresnet-decoder.js';
import { FusionEncoder } from './fusion-encoder.js';
import { checkLayers, minimumInputSize, validateInputSize } from './input-size.js';

/** Options of {@link FeatureAutoEncoder}. */
export interface FeatureAutoEncoderOptions {
  /** Backbone whose features are reconstructed; fixes block type, block counts and channels. */
  backbone: ResNetName;
  /** Reconstructed layers: consecutive, increasing, e.g. `['layer2', 'layer3']`. */
  layers: LayerName[];
  /** Seed of the weight initialisation. Default 0. */
  seed?: number;
}

/**
 * Feature auto-encoder: fusion encoder + de-ResNet decoder. Parameter names are the
 * `state_dict` keys of the authors' `ED` module (`encoder.fusion_layer.…`,
 * `decoder.backbone.layers.…`), with tfjs weight layouts (conv HWIO, transposed conv
 * [kh, kw, out, in]).
 *
 * @example
 * ```ts
 * const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'] });
 * const recon = tf.tidy(() => ae.reconstruct(maps)); // maps: [[N,32,32,128], [N,16,16,256]] at 256×256
 * ae.parameterCount(); // 13_526_272
 * ```
 */
export class FeatureAutoEncoder extends BaseModule {
  /** The options with defaults filled in (frozen). */
  readonly options: Required<FeatureAutoEncoderOptions>;
  /** Channels of each reconstructed map, in the order of `options.layers`. */
  readonly channels: readonly number[];
  private readonly encoder: FusionEncoder;
  private readonly decoder: DeResNetDecoder;

  constructor(options: FeatureAutoEncoderOptions) {
    super();
    const { backbone, layers, seed = 0 } = options;
    const config = RESNET_CONFIGS[backbone];
    if (config === undefined || !Object.hasOwn(RESNET_CONFIGS, backbone)) {
      throw new InvalidArgumentError('options.backbone', `one of ${Object.keys(RESNET_CONFIGS).join(', ')}`, String(backbone));
    }
    checkLayers(layers);
    const rng = new Rng(seed);
    this.options = Object.freeze({ backbone, layers: Object.freeze([...layers]) as LayerName[], seed });
    this.channels = Object.freeze(layers.map((l) => stageChannels(config, l)));
    this.encoder = this.addModule(
      'encoder.fusion_layer',
      new FusionEncoder({
        block: config.block,
        channels: this.channels,
        blocks: backbone === 'resnet18' ? 2 : 3,
        widthPerGroup: config.widthPerGroup,
        rng,
      }),
    );
    this.decoder = this.addModule(
      'decoder.backbone',
      new DeResNetDecoder({
        block: config.block,
        channels: this.channels,
        blocks: config.blocks,
        widthPerGroup: config.widthPerGroup,
        rng,
      }),
    );
  }

  /** Smallest square input image size (pixels) the encoder supports for these layers (docs/reference-implementation.md §9): 64 for layer3. */
  static minimumInputSize(layers: LayerName[]): number {
    return minimumInputSize(layers);
  }

  /**
   * Throws {@link InvalidArgumentError} naming the smallest valid size unless a
   * `size`×`size` input image gives maps this auto-encoder can reconstruct.
   */
  static validateInputSize(size: number, layers: LayerName[], argument = 'size'): void {
    validateInputSize(size, layers, argument);
  }

  /**
   * Paper eq. 1: F̃ = D(E(F)). `maps` are NHWC features in the order of `options.layers`;
   * returns reconstructions of the same shapes in the same order. Does not dispose
   * `maps`; the caller owns the results.
   *
   * @throws {ShapeMismatchError} wrong number of maps, channels, batch or relative sizes.
   * @throws {InvalidArgumentError} maps so small that the bottleneck would be 1×1.
   */
  reconstruct(maps: tf.Tensor4D[]): tf.Tensor4D[] {
    this.assertAlive();
    this.checkMaps(maps);
    return tf.tidy(() => this.decoder.decode(this.encoder.encode(maps)));
  }

  private checkMaps(maps: readonly tf.Tensor4D[]): void {
    const { layers } = this.options;
    const shape = (t: tf.Tensor) => `[${t.shape.join(', ')}]`;
    if (!Array.isArray(maps) || maps.length !== layers.length) {
      throw new ShapeMismatchError('reconstruct(maps)', `${layers.length} maps (${layers.join(', ')})`, `${Array.isArray(maps) ? maps.length : typeof maps}`);
    }
    maps.forEach((m, i) => {
      if (m.rank !== 4 || m.shape[3] !== this.channels[i]) {
        throw new ShapeMismatchError(`maps[${i}] (${layers[i]})`, `[N, H, W, ${this.channels[i]}]`, shape(m));
      }
      if (m.shape[0] !== maps[0].shape[0]) {
        throw new ShapeMismatchError(`maps[${i}] (${layers[i]}) batch size`, String(maps[0].shape[0]), String(m.shape[0]));
      }
    });
    const last = maps.length - 1;
    const [, h, w] = maps[last].shape;
    if (Math.ceil(h / 2) * Math.ceil(w / 2) <= 1) {
      const minimum = minimumInputSize(layers);
      throw new InvalidArgumentError(
        'maps',
        `feature maps of an input image of at least ${minimum}×${minimum} for layers [${layers.join(', ')}] ` +
          `(deepest map at least 4×4: the bottleneck is half of it and instance norm needs more than one spatial element)`,
        `a ${h}×${w} ${layers[last]} map, giving a 1×1 bottleneck`,
      );
    }
    if (h % 2 !== 0 || w % 2 !== 0) {
      throw new ShapeMismatchError(`maps[${last}] (${layers[last]})`, 'even height and width (the decoder doubles the bottleneck)', shape(maps[last]));
    }
    maps.forEach((m, i) => {
      const scale = 2 ** (last - i);
      if (m.shape[1] !== h * scale || m.shape[2] !== w * scale) {
        throw new ShapeMismatchError(`maps[${i}] (${layers[i]})`, `[N, ${h * scale}, ${w * scale}, ${this.channels[i]}] (${scale}× the deepest map)`, shape(m));
      }
    });
  }
}
