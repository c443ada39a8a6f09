// ckaad's Sum and Mean gradients (src/backend/reduce-gradients.ts) against tfjs-core's own:
// the same values bit for bit, for random shapes and axes, on wasm and cpu; no tensor leaks.
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs-core';
import { meanGradConfig as tfjsMean } from '@tensorflow/tfjs-core/dist/gradients/Mean_grad.js';
import { sumGradConfig as tfjsSum } from '@tensorflow/tfjs-core/dist/gradients/Sum_grad.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { meanGradConfig, sumGradConfig } from '../../src/backend/reduce-gradients.js';

/** dx of `config` for input x, reduction attrs and an upstream gradient dy. */
function dx(config: GradConfig, x: tf.Tensor, attrs: NamedAttrMap, dy: tf.Tensor): Float32Array {
  return tf.tidy(() => {
    const grads = config.gradFunc(dy, [x], attrs) as Record<string, () => tf.Tensor>;
    return grads['x']().dataSync() as Float32Array;
  });
}

const cases = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
  axisSeed: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  keepDims: fc.boolean(),
  seed: fc.integer({ min: 0, max: 1000 }),
});

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`Sum and Mean gradients on ${backend}`, () => {
    it("equal tfjs-core's bit for bit", async () => {
      await useBackend(backend, backend === 'wasm' ? { threads: 1 } : {});
      const before = tf.memory().numTensors;
      fc.assert(
        fc.property(cases, ({ shape, axisSeed, keepDims, seed }) => {
          const axes = shape.map((_, i) => i).filter((i) => axisSeed[i]);
          const axis = axes.length === 0 ? [shape.length - 1] : axes;
          const x = tf.randomNormal(shape, 0, 1, 'float32', seed);
          const reduced = tf.sum(x, axis, keepDims);
          const dy = tf.randomNormal(reduced.shape, 0, 1, 'float32', seed + 1);
          const attrs = { axis, keepDims };
          try {
            for (const [ours, theirs] of [[sumGradConfig, tfjsSum], [meanGradConfig, tfjsMean]] as const) {
              const a = dx(ours, x, attrs, dy);
              const b = dx(theirs, x, attrs, dy);
              expect(new Uint32Array(a.buffer)).toEqual(new Uint32Array(b.buffer));
            }
          } finally {
            tf.dispose([x, reduced, dy]);
          }
        }),
        { numRuns: 60 },
      );
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('Sum and Mean gradients', () => {
  it('broadcast a [N, 1, 1, C] gradient over H and W (the instance-norm case)', async () => {
    await useBackend('wasm', { threads: 1 });
    const x = tf.randomNormal([2, 4, 3, 5], 0, 1, 'float32', 7);
    const dy = tf.randomNormal([2, 5], 0, 1, 'float32', 8);
    const attrs = { axis: [1, 2], keepDims: false };
    const ours = dx(meanGradConfig, x, attrs, dy);
    const dyValues = dy.dataSync();
    // dx[n, h, w, c] = dy[n, c] / 12.
    for (let i = 0; i < ours.length; i++) {
      const n = Math.floor(i / (4 * 3 * 5));
      const c = i % 5;
      expect(ours[i]).toBe(Math.fround(dyValues[n * 5 + c] / 12));
    }
    tf.dispose([x, dy]);
  });
});
