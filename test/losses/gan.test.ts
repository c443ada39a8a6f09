import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { ganDiscriminatorLoss } from '../../src/losses/gan-discriminator-loss.js';
import { ganGeneratorLoss } from '../../src/losses/gan-generator-loss.js';
import { checkGradient, makeRng, randomArray, take } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

describe('ganDiscriminatorLoss / ganGeneratorLoss (paper eq. 7)', () => {
  it('are −E log D(real) − E log(1 − D(fake)) and −E log D(fake) with D = sigmoid, summed over heads', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (nReal, nFake, seed) => {
        const rng = makeRng(seed);
        const real = [randomArray(rng, nReal, 3), randomArray(rng, nReal * 4, 3)];
        const fake = [randomArray(rng, nFake, 3), randomArray(rng, nFake * 4, 3)];
        const realT = [tf.tensor1d(real[0]), tf.tensor2d(real[1], [nReal, 4])];
        const fakeT = [tf.tensor1d(fake[0]), tf.tensor2d(fake[1], [nFake, 4])];
        const expectedD = [0, 1].reduce(
          (s, h) => s + mean(real[h].map((x) => -Math.log(sigmoid(x)))) + mean(fake[h].map((x) => -Math.log(1 - sigmoid(x)))),
          0,
        );
        const expectedG = [0, 1].reduce((s, h) => s + mean(fake[h].map((x) => -Math.log(sigmoid(x)))), 0);
        expect(take(ganDiscriminatorLoss(realT, fakeT))).toBeCloseTo(expectedD, 4);
        expect(take(ganGeneratorLoss(fakeT))).toBeCloseTo(expectedG, 4);
        tf.dispose([...realT, ...fakeT]);
      }),
      { numRuns: 30 },
    );
  });

  it('are finite and exact for saturated logits', () => {
    const real = [tf.tensor1d([100, -100])];
    const fake = [tf.tensor1d([-100, 100])];
    // −log σ(100) ≈ 0, −log σ(−100) ≈ 100.
    expect(take(ganDiscriminatorLoss(real, fake))).toBeCloseTo((0 + 100) / 2 + (0 + 100) / 2, 3);
    // Non-saturating: a rejected fake (logit −100) costs ≈ 100, with gradient ≈ −1/n, not 0.
    expect(take(ganGeneratorLoss(fake))).toBeCloseTo(50, 3);
    const g = tf.grad((x: tf.Tensor) => ganGeneratorLoss([x]))(fake[0]);
    const gv = g.dataSync();
    expect(gv[0]).toBeCloseTo(-0.5, 5);
    expect(gv[1]).toBeCloseTo(0, 5);
    tf.dispose([...real, ...fake, g]);
  });

  it('have gradients that agree with central finite differences', () => {
    const rng = makeRng(4);
    const real = randomArray(rng, 6, 2);
    const fake = randomArray(rng, 5, 2);
    checkGradient((x) => ganDiscriminatorLoss([x], [tf.tensor1d(fake)]), real, [6]);
    checkGradient((x) => ganDiscriminatorLoss([tf.tensor1d(real)], [x]), fake, [5]);
    checkGradient((x) => ganGeneratorLoss([x]), fake, [5]);
  });

  it('reject mismatched or empty heads', () => {
    const a = tf.zeros([3]);
    const b = tf.zeros([3, 2]);
    expect(() => ganDiscriminatorLoss([a], [a, a])).toThrow(ShapeMismatchError);
    expect(() => ganDiscriminatorLoss([a], [b])).toThrow(ShapeMismatchError);
    expect(() => ganDiscriminatorLoss([], [])).toThrow(InvalidArgumentError);
    expect(() => ganGeneratorLoss([])).toThrow(/fakeLogits/);
    tf.dispose([a, b]);
  });

  it('leave no tensor behind', () => {
    const a = tf.ones([3]);
    const before = tf.memory().numTensors;
    take(ganDiscriminatorLoss([a], [a]));
    take(ganGeneratorLoss([a]));
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
  });
});
