// ckaad's Adam against torch.optim.Adam as the authors' code builds it (betas (0.5, 0.999),
// eps 1e-8): golden values from scripts/make-adam-fixtures.py (Debian's python3-torch).
import { readFileSync } from 'node:fs';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { ADAM_EPSILON, applyInOrder, createAdam } from '../../src/training/adam.js';

interface AdamFixture {
  lr: number;
  initial: number[];
  gradients: number[][];
  after: number[][];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/training/adam.json', import.meta.url), 'utf8')) as AdamFixture;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Adam update vs PyTorch', () => {
  it("moves every weight as torch.optim.Adam does, also those whose gradients are far below tfjs's default ε", () => {
    expect(ADAM_EPSILON).toBe(1e-8);
    const p = tf.variable(tf.tensor1d(fixture.initial), true, 'adam-pytorch/p');
    const parameters = new Map([['p', p]]);
    const adam = createAdam(fixture.lr);
    fixture.gradients.forEach((g, k) => {
      const grad = tf.tensor1d(g);
      applyInOrder(adam, parameters, [grad]);
      grad.dispose();
      const ours = p.dataSync();
      fixture.after[k].forEach((expected, i) => {
        // Float32 rounding of the same formula: well below 1e-6 here. With tfjs's ε = 1e-7 the
        // weights with |g| ≲ 1e-6 moved up to ~0.9·lr = 9e-3 less on the first step.
        expect(Math.abs(ours[i] - expected), `step ${k + 1}, weight ${i} (gradient ${g[i]})`).toBeLessThan(1e-6);
      });
    });
    adam.dispose();
    p.dispose();
  });
});
