/**
 * `ckaad/nn`: the building blocks of custom strategies and networks — layers with PyTorch's
 * initialisations and state-dict names, the losses of the paper as named functions, the parts
 * discriminators are made of, and the one seeded random generator everything draws from.
 * See docs/custom-ablation.md.
 *
 * @packageDocumentation
 */

export { BaseModule, Sequential } from '../nn/module.js';
export type { Module, Layer4D, Step } from '../nn/module.js';
export { Conv2d } from '../nn/conv2d.js';
export type { Conv2dOptions, ConvInit } from '../nn/conv2d.js';
export { ConvTranspose2d } from '../nn/conv-transpose2d.js';
export type { ConvTranspose2dOptions } from '../nn/conv-transpose2d.js';
export { InstanceNorm2d, instanceNorm1dRows } from '../nn/instance-norm.js';
export type { InstanceNorm2dOptions } from '../nn/instance-norm.js';
export { Linear } from '../nn/linear.js';
export type { LinearOptions } from '../nn/linear.js';
export { relu, leakyRelu } from '../nn/activations.js';
export { kaimingNormalFanOut, pytorchDefaultUniform } from '../nn/init.js';
export { Rng } from '../nn/random.js';

// --- discriminator parts ---
export { ImageHead } from '../discriminator/image-head.js';
export { l2NormalizeChannels } from '../discriminator/energy-discriminator.js';
export { composeDiscriminators } from '../discriminator/compose.js';
export { energyAdversary } from '../training/strategies.js';
export { clipByGlobalNorm } from '../training/clip.js';

// --- losses (paper equations) ---
export { reconstructionLoss, reconstructionLossPerImage } from '../losses/reconstruction.js';
export { reconSubLoss } from '../losses/recon-sub.js';
export type { ReconstructionPair } from '../losses/recon-sub.js';
export { energyLow, energyHigh } from '../losses/energy.js';
export { energyDiscriminatorLoss } from '../losses/energy-discriminator-loss.js';
export type { DiscriminatorEnergies, EnergyLossOptions } from '../losses/energy-discriminator-loss.js';
export { energyGeneratorLoss } from '../losses/energy-generator-loss.js';
export { ganDiscriminatorLoss } from '../losses/gan-discriminator-loss.js';
export { ganGeneratorLoss } from '../losses/gan-generator-loss.js';
export { autoencoderObjective } from '../losses/objective.js';

// --- the anomaly map (eq. 14) and its parts ---
export { anomalyMap, anomalyMaps } from '../scoring/anomaly-map.js';
export { gaussianBlur } from '../scoring/gaussian-blur.js';
export { imageScores } from '../scoring/image-scores.js';
