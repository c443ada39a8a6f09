/**
 * Shared setup of the training tests: the tiniest real model (resnet18 {layer1, layer2},
 * random weights, 32×32 images: the smallest input the auto-encoder accepts for those layers)
 * on the wasm backend with ckaad's fast conv-gradient kernels, and generated image data
 * (smooth stripe textures; anomalies carry a bright blob).
 */

import * as tf from '@tensorflow/tfjs-core';

import { registerFastKernels } from '../../src/backend/kernels/register.js';
import { useBackend } from '../../src/backend/select.js';
import { createResNetExtractor } from '../../src/backbone/extractor.js';
import type { ResNetFeatureExtractor } from '../../src/backbone/extractor.js';
import { preprocessImages } from '../../src/backbone/preprocess.js';
import { Rng } from '../../src/nn/random.js';

/** Side of the generated images. */
export const SIZE = 32;

/** The backbone layers of the tiny model. */
export const LAYERS: ['layer1', 'layer2'] = ['layer1', 'layer2'];

const BLOB_SIGMA = SIZE / 12;
const BLOB_COLOUR = [255, 255, 255];

/** Selects wasm (single-threaded XNNPACK for determinism) and installs the fast kernels. */
export async function setUpBackend(): Promise<void> {
  await useBackend('wasm', { threads: 1 });
  registerFastKernels();
}

/** resnet18 truncated after layer2, torchvision's random init (seed 0). */
export function tinyExtractor(): Promise<ResNetFeatureExtractor> {
  return createResNetExtractor({ arch: 'resnet18', layers: LAYERS, weights: 'random', seed: 0 });
}

/**
 * `count` smooth RGB textures (two oriented sinusoids with random frequency, angle and phase
 * per image), values in [0, 255], preprocessed to [count, SIZE, SIZE, 3]. With `blob`, each image
 * also gets a white Gaussian spot (σ = SIZE / 12 px) at a random position away from the border.
 */
export function textures(count: number, seed: number, blob = false): tf.Tensor4D {
  const rng = new Rng(seed);
  const data = new Float32Array(count * SIZE * SIZE * 3);
  for (let n = 0; n < count; n++) {
    const waves = [0, 1].map((i) => ({
      freq: 3 + i, // cycles per image
      angle: (i * Math.PI) / 2 + 0.05 * rng.next(),
      phase: 2 * Math.PI * rng.next(),
    }));
    const tint = [0.8 + 0.2 * rng.next(), 0.8 + 0.2 * rng.next(), 0.8 + 0.2 * rng.next()];
    const cx = SIZE / 4 + (SIZE / 2) * rng.next();
    const cy = SIZE / 4 + (SIZE / 2) * rng.next();
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        let v = 110;
        for (const w of waves) {
          const t = (x * Math.cos(w.angle) + y * Math.sin(w.angle)) / SIZE;
          v += 35 * Math.sin(2 * Math.PI * w.freq * t + w.phase);
        }
        // The blob blends the texture towards white.
        const spot = blob ? Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * BLOB_SIGMA ** 2)) : 0;
        for (let c = 0; c < 3; c++) {
          data[((n * SIZE + y) * SIZE + x) * 3 + c] = (1 - spot) * v * tint[c] + spot * BLOB_COLOUR[c];
        }
      }
    }
  }
  return tf.tidy(() => preprocessImages(tf.tensor4d(data, [count, SIZE, SIZE, 3]), { size: SIZE }));
}

/** `count` random RGB images of `size` × `size` (0…255), seeded. */
export function randomPixels(count: number, seed: number, size = SIZE): { images: Uint8Array; count: number; size: number } {
  const rng = new Rng(seed);
  const images = Uint8Array.from({ length: count * size * size * 3 }, () => Math.floor(rng.next() * 256));
  return { images, count, size };
}

/** All parameters of a module as plain arrays, by name. */
export function snapshot(parameters: Map<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...parameters].map(([name, v]) => [name, (v.dataSync() as Float32Array).slice()]));
}

/** Largest absolute difference between two snapshots with the same names. */
export function maxDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let max = 0;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (y === undefined || y.length !== x.length) return Infinity;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  }
  return max;
}
