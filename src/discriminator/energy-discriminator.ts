/**
 * CKAAD's patch-level energy discriminator (CKAPatch, docs/reference-implementation.md §3, paper eqs. 11–12): one head
 * per layer scoring every position of the feature map. The map is L2-normalised over
 * channels at each position, then 1×1 conv c→c, LeakyReLU(0.1), 1×1 conv c→c,
 * LeakyReLU(0.1), 1×1 conv c→1, no biases; the energy of a patch is |output| ≥ 0.
 * The authors' reference also allocates per-layer positional embeddings it never uses;
 * ckaad does not.
 */

import * as tf from '@tensorflow/tfjs-core';
import { leakyRelu } from '../nn/activations.js';
import { Conv2d } from '../nn/conv2d.js';
import { BaseModule, Sequential } from '../nn/module.js';
import { Rng } from '../nn/random.js';
import { checkChannels, checkMaps, type Discriminator } from './discriminator.js';

/** Options of {@link EnergyDiscriminator}. */
export interface EnergyDiscriminatorOptions {
  /** Channels of each input map, e.g. [128, 256] for resnet18 layers 2–3. */
  channels: number[];
  /** Seed of the weight initialisation (PyTorch's default conv init). Default 0. */
  seed?: number;
}

/** `F.normalize(x, dim=channels, eps=1e-12)` in NHWC: x / max(‖x‖₂, eps) at each position. */
export function l2NormalizeChannels(x: tf.Tensor4D, eps = 1e-12): tf.Tensor4D {
  return tf.tidy(() => {
    const sumSquares = tf.sum(tf.square(x), 3, true); // [N, H, W, 1]
    // sqrt(max(s, eps²)) = max(‖x‖, eps), with a zero (not NaN) gradient at all-zero positions.
    const norm = tf.sqrt(tf.maximum(sumSquares, eps * eps));
    return tf.div(x, norm) as tf.Tensor4D;
  });
}

/**
 * Patch-level energy discriminator. `forward` returns one energy map [N, h, w, 1] (≥ 0)
 * per input map. Parameters: `layers.<i>.{0,2,4}.weight` (1×1 convs, [1, 1, in, out]).
 *
 * @example
 * ```ts
 * const d = new EnergyDiscriminator({ channels: [128, 256] });
 * const [e2, e3] = d.forward([f2, f3]); // [N,32,32,1], [N,16,16,1]
 * ```
 */
export class EnergyDiscriminator extends BaseModule implements Discriminator {
  /** The options with defaults filled in. */
  readonly options: Readonly<Required<EnergyDiscriminatorOptions>>;
  private readonly heads: Sequential[] = [];

  constructor(options: EnergyDiscriminatorOptions) {
    super();
    const { channels, seed = 0 } = options;
    checkChannels(channels);
    const rng = new Rng(seed);
    this.options = Object.freeze({ channels: Object.freeze([...channels]) as number[], seed });
    channels.forEach((c, i) => {
      const pointwise = (outChannels: number) => new Conv2d({ inChannels: c, outChannels, kernelSize: 1, rng });
      this.heads.push(this.addModule(`layers.${i}`, new Sequential([pointwise(c), leakyRelu, pointwise(c), leakyRelu, pointwise(1)])));
    });
  }

  /** The patch energies D^(h,w)(p) of paper eqs. 11–12: maps [N, h, w, c] → energies [N, h, w, 1], each ≥ 0. */
  forward(maps: tf.Tensor4D[]): tf.Tensor4D[] {
    this.assertAlive();
    checkMaps('EnergyDiscriminator', maps, this.options.channels);
    return tf.tidy(() => maps.map((x, i) => tf.abs(this.heads[i].apply(l2NormalizeChannels(x)))));
  }
}
