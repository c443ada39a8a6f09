import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosineSimilarity } from '../../src/losses/cosine.js';
import { takeAll } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('cosineSimilarity (PyTorch eps semantics)', () => {
  it('clamps each norm separately at 1e-8, like torch 1.13 F.cosine_similarity', () => {
    // Values printed by torch 1.13.1: cos(x, x) for x = 1e-5·1₃ is 1 (a clamp of the product
    // ‖x‖·‖x‖ = 3e-10 would give 0.03); for x = 1e-9·1₃ both norms are clamped → 3e-18 / 1e-16.
    const small = tf.fill([1, 3], 1e-5);
    const tiny = tf.fill([1, 3], 1e-9);
    expect(takeAll(cosineSimilarity(small, small, 1))[0]).toBeCloseTo(1, 6);
    expect(takeAll(cosineSimilarity(tiny, tiny, 1))[0]).toBeCloseTo(0.03, 6);
    tf.dispose([small, tiny]);
  });

  it('reduces along the given axis only', () => {
    const a = tf.tensor3d([1, 0, 0, 1, 1, 1, 2, 0], [2, 2, 2]);
    const b = tf.tensor3d([2, 0, 0, -3, 1, -1, 1, 0], [2, 2, 2]);
    const out = cosineSimilarity(a, b, 2);
    expect(out.shape).toEqual([2, 2]);
    const v = takeAll(out);
    [1, -1, 0, 1].forEach((e, i) => expect(v[i]).toBeCloseTo(e, 6));
    tf.dispose([a, b]);
  });
});
