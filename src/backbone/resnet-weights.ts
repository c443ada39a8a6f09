/**
 * ResNet weights: the torchvision tensor names and shapes of an architecture, loading them
 * from a safetensors file (or generating torchvision's random initialisation), and folding
 * every eval-mode BatchNorm into the convolution before it.
 *
 * Folding (eps = 1e-5): for output channel o,
 *   scale_o = γ_o / √(running_var_o + eps)
 *   W'[o] = W[o] · scale_o,   b'_o = β_o − running_mean_o · scale_o
 * so conv(x, W') + b' = bn(conv(x, W)). Filters are stored HWIO for tfjs (PyTorch's are OIHW).
 */

import * as tf from '@tensorflow/tfjs-core';

import { FileFormatError, WeightsMismatchError, type WeightProblem } from '../errors.js';
import { STAGE_PLANES, type ResNetConfig } from './configs.js';
import { Rng } from '../nn/random.js';

/** BatchNorm epsilon of torchvision's ResNets. */
export const BN_EPS = 1e-5;

// -----------------------------------------------------------------------------------------
// layout: which convolutions exist, with their torchvision names

/** One convolution and the BatchNorm that follows it, named as in torchvision. */
export interface ConvBnSpec {
  /** Module path of the conv, e.g. `layer1.0.conv1` or `layer2.0.downsample.0`. */
  readonly conv: string;
  /** Module path of its BatchNorm, e.g. `layer1.0.bn1` or `layer2.0.downsample.1`. */
  readonly bn: string;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Square kernel size (7, 3 or 1). */
  readonly kernel: number;
  readonly stride: number;
  /** Symmetric zero padding (PyTorch `padding=`). */
  readonly pad: number;
  /** 0 for the stem (conv1/bn1), 1..4 for layer1..layer4. */
  readonly stage: number;
}

/** One residual block: its main-path convolutions in order, and the projection shortcut if any. */
export interface BlockSpec {
  readonly convs: readonly ConvBnSpec[];
  readonly downsample?: ConvBnSpec;
}

/** Every convolution of a ResNet, stem first, then blocks of layer1..layer4. */
export interface ResNetLayout {
  readonly stem: ConvBnSpec;
  /** `stages[s]` are the blocks of layer(s+1). */
  readonly stages: readonly (readonly BlockSpec[])[];
}

/**
 * The convolutions of a torchvision ResNet (v1.5: in a Bottleneck the stride sits on the 3×3
 * conv). BasicBlock: conv1 3×3 (stride), conv2 3×3. Bottleneck: conv1 1×1, conv2 3×3
 * (stride), conv3 1×1, with inner width planes × widthPerGroup / 64.
 */
export function resnetLayout(config: ResNetConfig): ResNetLayout {
  const stem: ConvBnSpec = { conv: 'conv1', bn: 'bn1', inChannels: 3, outChannels: 64, kernel: 7, stride: 2, pad: 3, stage: 0 };
  const stages: BlockSpec[][] = [];
  let inplanes = 64;
  for (let s = 0; s < 4; s++) {
    const planes = STAGE_PLANES[s];
    const out = planes * config.expansion;
    const blocks: BlockSpec[] = [];
    for (let b = 0; b < config.blocks[s]; b++) {
      const prefix = `layer${s + 1}.${b}`;
      const stride = b === 0 && s > 0 ? 2 : 1;
      const conv = (i: number, cin: number, cout: number, kernel: number, st: number): ConvBnSpec => ({
        conv: `${prefix}.conv${i}`,
        bn: `${prefix}.bn${i}`,
        inChannels: cin,
        outChannels: cout,
        kernel,
        stride: st,
        pad: kernel === 3 ? 1 : 0,
        stage: s + 1,
      });
      let convs: ConvBnSpec[];
      if (config.block === 'basic') {
        convs = [conv(1, inplanes, planes, 3, stride), conv(2, planes, planes, 3, 1)];
      } else {
        const width = (planes * config.widthPerGroup) / 64;
        convs = [conv(1, inplanes, width, 1, 1), conv(2, width, width, 3, stride), conv(3, width, out, 1, 1)];
      }
      const needsProjection = b === 0 && (stride !== 1 || inplanes !== out);
      const downsample: ConvBnSpec | undefined = needsProjection
        ? { conv: `${prefix}.downsample.0`, bn: `${prefix}.downsample.1`, inChannels: inplanes, outChannels: out, kernel: 1, stride, pad: 0, stage: s + 1 }
        : undefined;
      blocks.push(downsample ? { convs, downsample } : { convs });
      inplanes = out;
    }
    stages.push(blocks);
  }
  return { stem, stages };
}

/** All conv+BN pairs of the first `depth` stages (0 = stem only), in torchvision order. */
export function convBnSpecs(layout: ResNetLayout, depth = 4): ConvBnSpec[] {
  const out = [layout.stem];
  for (const blocks of layout.stages.slice(0, depth)) {
    for (const block of blocks) {
      out.push(...block.convs);
      if (block.downsample) out.push(block.downsample);
    }
  }
  return out;
}

/** Name, shape and stage (0 = stem, 1..4 = layerN) of one weight tensor. */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly stage: number;
  /** What the tensor is: a conv weight (OIHW) or one of the four BatchNorm vectors. */
  readonly role: 'conv' | 'bn_weight' | 'bn_bias' | 'bn_mean' | 'bn_var';
}

/**
 * The tensors a ResNet's feature stages need, in torchvision `state_dict()` order, without
 * `*.num_batches_tracked` and `fc.*` (which the extractor ignores).
 *
 * @example
 * ```ts
 * resnetWeightSpecs(RESNET_CONFIGS.resnet18)[0]; // { name: 'conv1.weight', shape: [64, 3, 7, 7], stage: 0, role: 'conv' }
 * ```
 */
export function resnetWeightSpecs(config: ResNetConfig): WeightSpec[] {
  const specs: WeightSpec[] = [];
  for (const c of convBnSpecs(resnetLayout(config))) {
    const v = [c.outChannels];
    specs.push({ name: `${c.conv}.weight`, shape: [c.outChannels, c.inChannels, c.kernel, c.kernel], stage: c.stage, role: 'conv' });
    specs.push({ name: `${c.bn}.weight`, shape: v, stage: c.stage, role: 'bn_weight' });
    specs.push({ name: `${c.bn}.bias`, shape: v, stage: c.stage, role: 'bn_bias' });
    specs.push({ name: `${c.bn}.running_mean`, shape: v, stage: c.stage, role: 'bn_mean' });
    specs.push({ name: `${c.bn}.running_var`, shape: v, stage: c.stage, role: 'bn_var' });
  }
  return specs;
}

/** Whether a tensor name is one the extractor skips: BatchNorm step counters and the classifier. */
export function isIgnoredWeight(name: string): boolean {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked') || name.startsWith('fc.');
}

// -----------------------------------------------------------------------------------------
// sources of weights

/**
 * Where named float tensors come from: a {@link SafetensorsReader} fits, and so does
 * {@link randomWeightSource}. Only the tensors actually needed are requested.
 */
export interface WeightSource {
  /** File path or description, used in error messages. */
  readonly source: string;
  readonly names: readonly string[];
  info(name: string): { readonly dtype: string; readonly shape: readonly number[] };
  float32(name: string): Promise<Float32Array>;
}

/**
 * Which generator draws random weights, recorded with models whose backbone is random (see
 * `describeExtractor`): `'rng'` is ckaad's `Rng` (xoshiro128**); models of ckaad 0.1 and
 * earlier, whose record has none, were drawn by another generator.
 */
export const RANDOM_WEIGHTS_GENERATOR = 'rng';

/**
 * The seed of tensor `index`'s own random stream (so each tensor's weights are independent of
 * the others and of the order they are asked for): a 32-bit mix of the backbone's seed and the
 * index.
 */
export function tensorSeed(seed: number, index: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * torchvision's initialisation of a ResNet, seeded: convs kaiming-normal (mode `fan_out`,
 * ReLU gain √2, so std = √(2 / (out · k · k))); BatchNorm weight 1, bias 0, running mean 0,
 * running var 1. Tensors are generated on request only, each from its own `Rng` (seeded by
 * {@link tensorSeed}), so unused stages cost nothing.
 */
export function randomWeightSource(config: ResNetConfig, seed = 0): WeightSource {
  const specs = resnetWeightSpecs(config);
  const byName = new Map(specs.map((s, i) => [s.name, { spec: s, index: i }]));
  return {
    source: `random ${config.name} (seed ${seed})`,
    names: specs.map((s) => s.name),
    info(name) {
      const entry = byName.get(name);
      if (!entry) throw new FileFormatError(this.source, `no tensor named "${name}"`);
      return { dtype: 'F32', shape: entry.spec.shape };
    },
    async float32(name) {
      const entry = byName.get(name);
      if (!entry) throw new FileFormatError(this.source, `no tensor named "${name}"`);
      const { spec, index } = entry;
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (spec.role === 'conv') {
        const [out, , kh, kw] = spec.shape;
        const std = Math.sqrt(2 / (out * kh * kw));
        new Rng(tensorSeed(seed, index)).fillNormal(data, 0, std);
      } else if (spec.role === 'bn_weight' || spec.role === 'bn_var') {
        data.fill(1);
      }
      return data;
    },
  };
}

// -----------------------------------------------------------------------------------------
// validation

/** Shapes equal element-wise. */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Checks a source against an architecture and throws one {@link WeightsMismatchError}
 * listing every problem: tensors of the first `depth` stages that are missing, tensors of
 * any stage with the wrong shape, and names the architecture does not have. Tensors of
 * stages deeper than `depth` may be absent; `num_batches_tracked` and `fc.*` are ignored.
 */
export function checkWeights(config: ResNetConfig, depth: number, source: WeightSource): void {
  const specs = resnetWeightSpecs(config);
  const known = new Set(specs.map((s) => s.name));
  const present = new Set(source.names);
  const problems: WeightProblem[] = [];
  for (const spec of specs) {
    if (!present.has(spec.name)) {
      if (spec.stage <= depth) problems.push({ name: spec.name, kind: 'missing', expected: spec.shape });
      continue;
    }
    const found = source.info(spec.name).shape;
    if (!sameShape(found, spec.shape)) problems.push({ name: spec.name, kind: 'shape', expected: spec.shape, found });
  }
  for (const name of source.names) {
    if (!known.has(name) && !isIgnoredWeight(name)) {
      problems.push({ name, kind: 'unexpected', found: source.info(name).shape });
    }
  }
  if (problems.length > 0) throw new WeightsMismatchError(`${source.source} (for ${config.name})`, problems);
}

// -----------------------------------------------------------------------------------------
// folded weights

/** A convolution with its BatchNorm folded in: `conv(x, filter) + bias`. */
export interface FoldedConv {
  /** [k, k, in, out] (HWIO). */
  readonly filter: tf.Tensor4D;
  /** [out]. */
  readonly bias: tf.Tensor1D;
  readonly stride: number;
  readonly pad: number;
}

/** A residual block's folded convolutions. */
export interface FoldedBlock {
  readonly convs: readonly FoldedConv[];
  readonly downsample?: FoldedConv;
}

/** The folded weights of a ResNet's stem and of its first `stages.length` stages. */
export interface ResNetWeights {
  readonly config: ResNetConfig;
  readonly stem: FoldedConv;
  /** `stages[s]` are the blocks of layer(s+1); only the stages that were loaded. */
  readonly stages: readonly (readonly FoldedBlock[])[];
  /** Number of float parameters held (filters + biases). */
  readonly numParameters: number;
  /** Disposes every weight tensor. */
  dispose(): void;
}

/**
 * Folds one eval-mode BatchNorm into the preceding conv and transposes the filter from
 * PyTorch's OIHW to tfjs's HWIO. Arithmetic is done in float64 and rounded once.
 */
export function foldConvBn(
  weight: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  spec: ConvBnSpec,
): { filter: Float32Array; bias: Float32Array } {
  const { outChannels: O, inChannels: I, kernel: K } = spec;
  const filter = new Float32Array(K * K * I * O);
  const bias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    const scale = gamma[o] / Math.sqrt(variance[o] + BN_EPS);
    bias[o] = beta[o] - mean[o] * scale;
    for (let i = 0; i < I; i++) {
      for (let kh = 0; kh < K; kh++) {
        for (let kw = 0; kw < K; kw++) {
          filter[((kh * K + kw) * I + i) * O + o] = weight[((o * I + i) * K + kh) * K + kw] * scale;
        }
      }
    }
  }
  return { filter, bias };
}

async function loadConvBn(spec: ConvBnSpec, source: WeightSource, held: tf.Tensor[]): Promise<FoldedConv> {
  const weight = await source.float32(`${spec.conv}.weight`);
  const gamma = await source.float32(`${spec.bn}.weight`);
  const beta = await source.float32(`${spec.bn}.bias`);
  const mean = await source.float32(`${spec.bn}.running_mean`);
  const variance = await source.float32(`${spec.bn}.running_var`);
  const bad = variance.findIndex((v) => !(v >= 0 && v < Infinity));
  if (bad >= 0) {
    throw new FileFormatError(source.source, `${spec.bn}.running_var[${bad}] = ${variance[bad]}: running variances must be finite and ≥ 0`);
  }
  const folded = foldConvBn(weight, gamma, beta, mean, variance, spec);
  const filter = tf.tensor4d(folded.filter, [spec.kernel, spec.kernel, spec.inChannels, spec.outChannels]);
  held.push(filter);
  const bias = tf.tensor1d(folded.bias);
  held.push(bias);
  return { filter, bias, stride: spec.stride, pad: spec.pad };
}

/**
 * Validates `source` against `config` (see {@link checkWeights}), then reads, folds and
 * uploads the stem and the first `depth` stages. Tensors of deeper stages are never read.
 */
export async function loadResNetWeights(config: ResNetConfig, depth: number, source: WeightSource): Promise<ResNetWeights> {
  checkWeights(config, depth, source);
  const layout = resnetLayout(config);
  const held: tf.Tensor[] = [];
  try {
    const stem = await loadConvBn(layout.stem, source, held);
    const stages: FoldedBlock[][] = [];
    for (const blocks of layout.stages.slice(0, depth)) {
      const folded: FoldedBlock[] = [];
      for (const block of blocks) {
        const convs: FoldedConv[] = [];
        for (const c of block.convs) convs.push(await loadConvBn(c, source, held));
        const downsample = block.downsample ? await loadConvBn(block.downsample, source, held) : undefined;
        folded.push(downsample ? { convs, downsample } : { convs });
      }
      stages.push(folded);
    }
    const numParameters = held.reduce((n, t) => n + t.size, 0);
    return {
      config,
      stem,
      stages,
      numParameters,
      dispose: () => {
        for (const t of held) t.dispose();
      },
    };
  } catch (e) {
    for (const t of held) t.dispose();
    throw e;
  }
}
