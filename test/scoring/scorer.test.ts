import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import { anomalyMaps } from '../../src/scoring/anomaly-map.js';
import { gaussianBlur } from '../../src/scoring/gaussian-blur.js';
import { imageScores } from '../../src/scoring/image-scores.js';
import { Scorer, type ScoreResult } from '../../src/scoring/scorer.js';
import { expectAllClose, makeRng, randomArray } from '../losses/helpers.js';

/**
 * Stand-in extractor: two "layers" at strides 4 and 8, each an average pool followed by a
 * fixed random 1×1 projection and a ReLU (plus a small offset, so no vector is all zero).
 */
class ProjectionExtractor {
  readonly projections: tf.Tensor4D[];

  constructor(seed: number) {
    const rng = makeRng(seed);
    this.projections = [8, 16].map((c) => tf.tensor4d(randomArray(rng, 3 * c), [1, 1, 3, c]));
  }

  extract(images: tf.Tensor4D): tf.Tensor4D[] {
    return tf.tidy(() =>
      [4, 8].map((stride, i) => {
        const pooled = tf.avgPool(images, stride, stride, 'valid');
        return tf.add(tf.relu(tf.conv2d(pooled, this.projections[i], 1, 'valid')), 0.05) as tf.Tensor4D;
      }),
    );
  }

  dispose(): void {
    tf.dispose(this.projections);
  }
}

/** Stand-in auto-encoder: a noisy identity m + 0.3·sin(7m), element-wise (batch-independent). */
const noisyIdentity = {
  calls: 0,
  reconstruct(maps: tf.Tensor4D[]): tf.Tensor4D[] {
    this.calls += 1;
    return maps.map((m) => tf.tidy(() => tf.add(m, tf.mul(0.3, tf.sin(tf.mul(7, m)))) as tf.Tensor4D));
  },
};

const SIZE = 32;
let extractor: ProjectionExtractor;

beforeAll(async () => {
  await tf.setBackend('cpu');
  extractor = new ProjectionExtractor(1);
});

afterAll(() => extractor.dispose());

function images(n: number, seed: number, size = SIZE): tf.Tensor4D {
  return tf.tensor4d(randomArray(makeRng(seed), n * size * size * 3), [n, size, size, 3]);
}

/** The pipeline written out with the scoring functions (the reference for the Scorer). */
function reference(x: tf.Tensor4D, sigma = 4, topK: number | 'mean' = 100) {
  return tf.tidy(() => {
    const features = extractor.extract(x);
    const recon = noisyIdentity.reconstruct(features);
    const maps = gaussianBlur(anomalyMaps(features, recon, [x.shape[1], x.shape[2]]), sigma);
    return { scores: Float32Array.from(imageScores(maps, topK).dataSync()), maps: Float32Array.from(maps.dataSync()) };
  });
}

describe('Scorer', () => {
  it('scoreBatch runs extractor → auto-encoder → anomalyMaps → gaussianBlur → imageScores', () => {
    const x = images(3, 10);
    const scorer = new Scorer({ extractor, autoencoder: noisyIdentity });
    const result = scorer.scoreBatch(x);
    expect(result.count).toBe(3);
    expect(result.height).toBe(SIZE);
    expect(result.width).toBe(SIZE);
    expect(result.scores).toBeInstanceOf(Float32Array);
    expect(result.maps.length).toBe(3 * SIZE * SIZE);
    const expected = reference(x);
    expectAllClose(result.scores, expected.scores, 1e-6);
    expectAllClose(result.maps, expected.maps, 1e-6);
    // Images differ, so their scores do too (the pipeline is not constant).
    expect(new Set(result.scores).size).toBe(3);
    x.dispose();
  });

  it('honours sigma, topK and the defaults σ = 4, k = 100', () => {
    const x = images(2, 11);
    const plain = new Scorer({ extractor, autoencoder: noisyIdentity, sigma: 0, topK: 'mean' }).scoreBatch(x);
    const raw = tf.tidy(() => {
      const f = extractor.extract(x);
      return Float32Array.from(anomalyMaps(f, noisyIdentity.reconstruct(f), [SIZE, SIZE]).dataSync());
    });
    expectAllClose(plain.maps, raw, 1e-6);
    expectAllClose(plain.scores, reference(x, 0, 'mean').scores, 1e-6);
    const top5 = new Scorer({ extractor, autoencoder: noisyIdentity, sigma: 2, topK: 5 }).scoreBatch(x);
    expectAllClose(top5.scores, reference(x, 2, 5).scores, 1e-6);
    const defaults = new Scorer({ extractor, autoencoder: noisyIdentity });
    expect([defaults.sigma, defaults.topK, defaults.keepMaps]).toEqual([4, 100, true]);
    x.dispose();
  });

  it('score concatenates batches in order (sync iterable) and reports each batch', async () => {
    const sizes = [2, 1, 3];
    const batches = sizes.map((n, i) => images(n, 20 + i));
    const all = tf.concat(batches) as tf.Tensor4D;
    const scorer = new Scorer({ extractor, autoencoder: noisyIdentity });
    const seen: [number, number][] = [];
    const result = await scorer.score(batches, (r, index) => seen.push([index, r.count]));
    expect(seen).toEqual([
      [0, 2],
      [1, 1],
      [2, 3],
    ]);
    expect(result.count).toBe(6);
    expect([result.height, result.width]).toEqual([SIZE, SIZE]);
    const whole = scorer.scoreBatch(all);
    expectAllClose(result.scores, whole.scores, 1e-6);
    expectAllClose(result.maps, whole.maps, 1e-6);
    tf.dispose([...batches, all]);
  });

  it('accepts async iterables, and leaves tf.memory().numTensors unchanged over several batches', async () => {
    const scorer = new Scorer({ extractor, autoencoder: noisyIdentity, keepMaps: false });
    async function* stream() {
      for (let i = 0; i < 4; i++) {
        const x = images(2, 30 + i);
        yield x;
        x.dispose(); // the generator owns its batches; the Scorer does not dispose inputs
      }
    }
    const before = tf.memory().numTensors;
    const calls = noisyIdentity.calls;
    const perBatch: ScoreResult[] = [];
    const result = await scorer.score(stream(), (r) => perBatch.push(r));
    expect(tf.memory().numTensors).toBe(before);
    expect(noisyIdentity.calls - calls).toBe(4);
    expect(result.count).toBe(8);
    expect(result.maps.length).toBe(0); // keepMaps: false
    expect(perBatch.every((r) => r.maps.length === 2 * SIZE * SIZE)).toBe(true);
    expectAllClose(
      result.scores,
      perBatch.flatMap((r) => Array.from(r.scores)),
      0,
    );
    // Same scores as computed batch by batch.
    const x = images(2, 32);
    expectAllClose(result.scores.subarray(4, 6), scorer.scoreBatch(x).scores, 1e-6);
    x.dispose();
  });

  it('does not leak from scoreBatch, nor when a batch is rejected', async () => {
    const scorer = new Scorer({ extractor, autoencoder: noisyIdentity, topK: 100 });
    const x = images(2, 40);
    const small = images(1, 41, 8); // 8×8 = 64 pixels < k = 100
    const other = images(1, 42, 16);
    const before = tf.memory().numTensors;
    scorer.scoreBatch(x);
    expect(() => scorer.scoreBatch(small)).toThrow(/topK/);
    await expect(scorer.score([x, other])).rejects.toThrow(ShapeMismatchError);
    await expect(scorer.score([x, other])).rejects.toThrow(/batch 1.*32×32.*16×16/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, small, other]);
  });

  it('returns an empty result for an empty stream', async () => {
    const result = await new Scorer({ extractor, autoencoder: noisyIdentity }).score([]);
    expect(result).toEqual({ scores: new Float32Array(0), maps: new Float32Array(0), count: 0, height: 0, width: 0 });
  });

  it('rejects invalid options and inputs, naming them', () => {
    const make = (o: Partial<ConstructorParameters<typeof Scorer>[0]>) => () =>
      new Scorer({ extractor, autoencoder: noisyIdentity, ...o });
    expect(make({ sigma: -1 })).toThrow(/options\.sigma/);
    expect(make({ topK: 0 })).toThrow(/options\.topK/);
    expect(make({ topK: 2.5 })).toThrow(InvalidArgumentError);
    expect(make({ extractor: {} as unknown as ProjectionExtractor })).toThrow(/options\.extractor/);
    expect(make({ autoencoder: null as unknown as typeof noisyIdentity })).toThrow(/options\.autoencoder/);
    const scorer = new Scorer({ extractor, autoencoder: noisyIdentity });
    const rank3 = tf.zeros([SIZE, SIZE, 3]) as unknown as tf.Tensor4D;
    expect(() => scorer.scoreBatch(rank3)).toThrow(/images/);
    rank3.dispose();
  });
});
