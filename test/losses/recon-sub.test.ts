import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { reconSubLoss } from '../../src/losses/recon-sub.js';
import { reconstructionLoss } from '../../src/losses/reconstruction.js';
import { checkGradient, makeRng, randomArray, reconstructionErrors64, sizeOf, take } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Shape4 = [number, number, number, number];

function batch(rng: () => number, shapes: Shape4[]) {
  const layers = shapes.map((shape) => ({ shape, f: randomArray(rng, sizeOf(shape)), r: randomArray(rng, sizeOf(shape)) }));
  return {
    layers,
    pair: {
      features: layers.map((l) => tf.tensor4d(l.f, l.shape)),
      reconstructions: layers.map((l) => tf.tensor4d(l.r, l.shape)),
    },
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('reconSubLoss (paper eq. 4)', () => {
  it('equals rec(N) − λ·rec(A), with batches of different sizes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.integer(),
        (nNormal, nAnomalous, lambda, seed) => {
          const rng = makeRng(seed);
          const normal = batch(rng, [
            [nNormal, 3, 3, 4],
            [nNormal, 2, 2, 6],
          ]);
          const anomalous = batch(rng, [
            [nAnomalous, 3, 3, 4],
            [nAnomalous, 2, 2, 6],
          ]);
          const expected = mean(reconstructionErrors64(normal.layers)) - lambda * mean(reconstructionErrors64(anomalous.layers));
          const viaRec =
            take(reconstructionLoss(normal.pair.features, normal.pair.reconstructions)) -
            lambda * take(reconstructionLoss(anomalous.pair.features, anomalous.pair.reconstructions));
          const actual = take(reconSubLoss(normal.pair, anomalous.pair, lambda));
          expect(actual).toBeCloseTo(expected, 4);
          expect(actual).toBeCloseTo(viaRec, 5);
          tf.dispose([...Object.values(normal.pair).flat(), ...Object.values(anomalous.pair).flat()]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('with λ = 0 is the plain reconstruction loss of the normal batch', () => {
    const rng = makeRng(3);
    const normal = batch(rng, [[2, 2, 2, 3]]);
    const anomalous = batch(rng, [[1, 2, 2, 3]]);
    expect(take(reconSubLoss(normal.pair, anomalous.pair, 0))).toBeCloseTo(mean(reconstructionErrors64(normal.layers)), 5);
    tf.dispose([...Object.values(normal.pair).flat(), ...Object.values(anomalous.pair).flat()]);
  });

  it('has gradients that agree with central finite differences', () => {
    const rng = makeRng(11);
    const shape: Shape4 = [2, 2, 2, 3];
    const fN = randomArray(rng, sizeOf(shape));
    const rN = randomArray(rng, sizeOf(shape));
    const fA = randomArray(rng, sizeOf(shape));
    const rA = randomArray(rng, sizeOf(shape));
    const t = (a: Float32Array) => tf.tensor4d(a, shape);
    // Gradient with respect to the anomalous reconstruction carries the −λ factor.
    checkGradient(
      (x) => reconSubLoss({ features: [t(fN)], reconstructions: [t(rN)] }, { features: [t(fA)], reconstructions: [x as tf.Tensor4D] }, 0.7),
      rA,
      shape,
    );
    checkGradient(
      (x) => reconSubLoss({ features: [t(fN)], reconstructions: [x as tf.Tensor4D] }, { features: [t(fA)], reconstructions: [t(rA)] }, 0.7),
      rN,
      shape,
    );
  });

  it('rejects a negative or non-finite λ and mismatched batches, naming the argument', () => {
    const rng = makeRng(5);
    const normal = batch(rng, [[2, 2, 2, 3]]);
    const other = batch(rng, [[2, 2, 2, 4]]);
    const twoLayers = batch(rng, [
      [2, 2, 2, 3],
      [2, 1, 1, 3],
    ]);
    expect(() => reconSubLoss(normal.pair, normal.pair, -0.1)).toThrow(InvalidArgumentError);
    expect(() => reconSubLoss(normal.pair, normal.pair, -0.1)).toThrow(/lambda/);
    expect(() => reconSubLoss(normal.pair, normal.pair, Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => reconSubLoss(normal.pair, other.pair, 0.1)).toThrow(ShapeMismatchError);
    expect(() => reconSubLoss(normal.pair, twoLayers.pair, 0.1)).toThrow(ShapeMismatchError);
    expect(() =>
      reconSubLoss(normal.pair, { features: normal.pair.features, reconstructions: [] }, 0.1),
    ).toThrow(/anomalous\.reconstructions/);
    tf.dispose([normal, other, twoLayers].flatMap((b) => Object.values(b.pair).flat()));
  });

  it('leaves no tensor behind', () => {
    const rng = makeRng(9);
    const normal = batch(rng, [[2, 2, 2, 3]]);
    const anomalous = batch(rng, [[1, 2, 2, 3]]);
    const before = tf.memory().numTensors;
    take(reconSubLoss(normal.pair, anomalous.pair, 0.02));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...Object.values(normal.pair).flat(), ...Object.values(anomalous.pair).flat()]);
  });
});
