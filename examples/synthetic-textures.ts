/**
 * Generated images for the examples: smooth stripe textures (normal) and the same kind of
 * textures with a bright blob planted in them (anomalous), 64×64, preprocessed for the
 * backbone. Nothing to download.
 */

import * as tf from '@tensorflow/tfjs-core';

import { preprocessImages } from 'ckaad';
import { Rng } from 'ckaad/nn';

/** Side of the generated images (the smallest size resnet18 {layer2, layer3} accepts). */
export const SIZE = 64;

/**
 * `count` textures, preprocessed to [count, 64, 64, 3]: two nearly perpendicular sinusoidal
 * stripe patterns (3 and 4 cycles per image) with random phases and a random grey tint. With
 * `blob`, each also gets a white Gaussian spot (σ = 5 px) at a random place; the same `seed`
 * gives the same textures with or without blobs.
 */
export function textures(count: number, seed: number, blob = false): tf.Tensor4D {
  const rng = new Rng(seed);
  const pixels = new Float32Array(count * SIZE * SIZE * 3);
  for (let n = 0; n < count; n++) {
    const waves = [0, 1].map((i) => ({
      freq: 3 + i,
      angle: (i * Math.PI) / 2 + 0.05 * rng.next(),
      phase: 2 * Math.PI * rng.next(),
    }));
    const tint = [0, 1, 2].map(() => 0.8 + 0.2 * rng.next());
    const cx = 16 + 32 * rng.next();
    const cy = 16 + 32 * rng.next();
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        let v = 110;
        for (const w of waves) {
          const t = (x * Math.cos(w.angle) + y * Math.sin(w.angle)) / SIZE;
          v += 35 * Math.sin(2 * Math.PI * w.freq * t + w.phase);
        }
        const spot = blob ? Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 5 * 5)) : 0;
        for (let c = 0; c < 3; c++) pixels[((n * SIZE + y) * SIZE + x) * 3 + c] = (1 - spot) * v * tint[c] + spot * 255;
      }
    }
  }
  return tf.tidy(() => preprocessImages(tf.tensor4d(pixels, [count, SIZE, SIZE, 3]), { size: SIZE }));
}
