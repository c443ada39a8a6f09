/**
 * The image-level head of the authors' code (docs/reference-implementation.md §3), shared by the image-level energy
 * discriminator and the GAN ablation. Each map is brought to the smallest map's size by
 * [3×3 conv s2 (c → 2c), InstanceNorm, LeakyReLU(0.1)] steps; the maps are concatenated;
 * [3×3 conv s2 → c_last, InstanceNorm, LeakyReLU(0.1)] steps reduce to 2×2; a 2×2 conv
 * (stride 2) gives one c_last-vector per image; then Linear(c_last, c_last/4) →
 * InstanceNorm1d → LeakyReLU(0.1) → Linear(c_last/4, 1). As in the reference all
 * InstanceNorms here are non-affine, no layer has a bias, and weights keep PyTorch's
 * default init (the reference has no init loop for its discriminators).
 *
 * The reference's `InstanceNorm1d(c/4)` receives a 2-D [N, c/4] tensor, which PyTorch
 * treats as one unbatched sample with N channels: each image's hidden vector is
 * normalised over its own c/4 features (see {@link instanceNorm1dRows}). We reproduce that.
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';
import { leakyRelu } from '../nn/activations.js';
import { Conv2d } from '../nn/conv2d.js';
import { InstanceNorm2d, instanceNorm1dRows } from '../nn/instance-norm.js';
import { Linear } from '../nn/linear.js';
import { BaseModule, type Layer4D, Sequential } from '../nn/module.js';
import { Rng } from '../nn/random.js';
import { checkChannels, checkMaps } from './discriminator.js';

/** Options of the image-level discriminators. */
export interface ImageDiscriminatorOptions {
  /** Channels of each input map, shallow → deep. */
  channels: number[];
  /** Spatial size (square) of each input map, e.g. [32, 16] for layers 2–3 at 256×256. */
  sizes: number[];
  /** Seed of the weight initialisation. Default 0. */
  seed?: number;
}

/** Output size of a 3×3 conv with stride 2 and padding 1. */
const halve = (s: number) => Math.ceil(s / 2);

/** A [3×3 conv s2 p1, InstanceNorm (non-affine), LeakyReLU(0.1)] step. */
function downStep(inChannels: number, outChannels: number, rng: Rng): Sequential {
  return new Sequential([
    new Conv2d({ inChannels, outChannels, kernelSize: 3, stride: 2, padding: 1, rng }),
    new InstanceNorm2d({ channels: outChannels }),
    leakyRelu,
  ]);
}

/**
 * Base of the image-level discriminators: maps → one raw score per image [N].
 * Parameters (the reference's names):
 * `layers.<i>.<j>.0.weight`, `layer1.<k>.0.weight`, `layer1.<K>.weight` (2×2 conv),
 * `cls_layer.0.weight`, `cls_layer.3.weight`.
 */
export abstract class ImageHead extends BaseModule {
  /** The options with defaults filled in. */
  readonly options: Readonly<Required<ImageDiscriminatorOptions>>;
  private readonly branches: Sequential[] = [];
  private readonly trunk: Sequential;
  private readonly hidden: Linear;
  private readonly output: Linear;

  protected constructor(options: ImageDiscriminatorOptions, owner: string) {
    super();
    const { channels, sizes, seed = 0 } = options;
    checkChannels(channels);
    if (!Array.isArray(sizes) || sizes.length !== channels.length || !sizes.every((s) => Number.isInteger(s) && s > 0)) {
      throw new InvalidArgumentError('options.sizes', `${Array.isArray(channels) ? channels.length : 'one'} positive integer sizes (one per map)`, JSON.stringify(sizes));
    }
    const smallest = sizes[sizes.length - 1];
    if (smallest < 2) {
      throw new InvalidArgumentError('options.sizes', `the last (smallest) map to be at least 2×2 for ${owner}'s 2×2 conv`, JSON.stringify(sizes));
    }
    const lastChannels = channels[channels.length - 1];
    if (lastChannels < 4) {
      throw new InvalidArgumentError('options.channels', `at least 4 channels in the last map (its head has c/4 hidden units)`, JSON.stringify(channels));
    }
    const rng = new Rng(seed);
    this.options = Object.freeze({ channels: Object.freeze([...channels]) as number[], sizes: Object.freeze([...sizes]) as number[], seed });

    // Per-map branches down to the smallest size; channels double per step.
    let fusedChannels = 0;
    channels.forEach((c, i) => {
      const steps: Layer4D[] = [];
      let size = sizes[i];
      let ch = c;
      while (size > smallest) {
        steps.push(downStep(ch, ch * 2, rng));
        size = halve(size);
        ch *= 2;
      }
      if (size !== smallest) {
        throw new InvalidArgumentError('options.sizes', `each map to reach the last map's size ${smallest} by repeated halving`, JSON.stringify(sizes));
      }
      fusedChannels += ch;
      this.branches.push(this.addModule(`layers.${i}`, new Sequential(steps)));
    });

    // Trunk: down to 2×2, then a 2×2 conv with stride 2 → 1×1.
    const trunkSteps: Layer4D[] = [];
    let inChannels = fusedChannels;
    for (let size = smallest; size > 2; size = halve(size)) {
      trunkSteps.push(downStep(inChannels, lastChannels, rng));
      inChannels = lastChannels;
    }
    trunkSteps.push(new Conv2d({ inChannels, outChannels: lastChannels, kernelSize: 2, stride: 2, rng }));
    this.trunk = this.addModule('layer1', new Sequential(trunkSteps));

    const hiddenUnits = Math.floor(lastChannels / 4);
    this.hidden = this.addModule('cls_layer.0', new Linear({ inFeatures: lastChannels, outFeatures: hiddenUnits, rng }));
    this.output = this.addModule('cls_layer.3', new Linear({ inFeatures: hiddenUnits, outFeatures: 1, rng }));
  }

  /** maps (shallow → deep, shapes per options) → raw scores [N]. */
  protected score(maps: tf.Tensor4D[], owner: string): tf.Tensor1D {
    this.assertAlive();
    checkMaps(owner, maps, this.options.channels, this.options.sizes);
    return tf.tidy(() => {
      const reduced = maps.map((x, i) => this.branches[i].apply(x)); // each [N, s, s, ·]
      const fused = reduced.length === 1 ? reduced[0] : tf.concat(reduced, 3); // [N, s, s, Σc]
      const pooled = this.trunk.apply(fused); // [N, 1, 1, c_last]
      const n = pooled.shape[0];
      const vectors = tf.reshape(pooled, [n, pooled.shape[3]]) as tf.Tensor2D; // [N, c_last]
      const hidden = leakyRelu(instanceNorm1dRows(this.hidden.apply(vectors))); // [N, c_last/4]
      return tf.reshape(this.output.apply(hidden), [n]) as tf.Tensor1D; // [N]
    });
  }
}
