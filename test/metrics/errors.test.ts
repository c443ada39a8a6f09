import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeMismatchError } from '../../src/errors.js';
import {
  AuproAccumulator,
  PixelAurocAccumulator,
  aupro,
  bestF1,
  connectedComponents,
  imageAuroc,
  perImagePro,
  pixelAuroc,
  precisionRecallCurve,
} from '../../src/metrics/index.js';

/** Asserts `fn` throws an instance of `cls` whose message matches `message`. */
function expectError(fn: () => unknown, cls: typeof InvalidArgumentError | typeof ShapeMismatchError, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(cls);
  expect((thrown as Error).message).toMatch(message);
}

describe('metric input errors', () => {
  describe('image-level functions', () => {
    const fns = { imageAuroc, precisionRecallCurve, bestF1 } as const;
    for (const [name, fn] of Object.entries(fns)) {
      it(`${name}: empty, length mismatch, non-finite score, non-0/1 label`, () => {
        expectError(() => fn([], []), InvalidArgumentError, /Invalid scores: expected a non-empty array/);
        expectError(() => fn([0, 1, 1], [0.1, 0.2]), ShapeMismatchError, /scores and labels.*length = 2/);
        expectError(() => fn([0, 1], [0.1, NaN]), InvalidArgumentError, /Invalid scores\[1\]: expected a finite number, found NaN/);
        expectError(() => fn([0, 1], [Infinity, 0.2]), InvalidArgumentError, /scores\[0\].*found Infinity/);
        expectError(() => fn([0, 1], Float32Array.from([0.1, -Infinity])), InvalidArgumentError, /scores\[1\].*-Infinity/);
        expectError(() => fn([0, 2], [0.1, 0.2]), InvalidArgumentError, /Invalid labels\[1\]: expected 0 or 1.*found 2/);
        expectError(() => fn([0, 0.5], [0.1, 0.2]), InvalidArgumentError, /labels\[1\].*found 0\.5/);
        expectError(() => fn('01' as unknown as number[], [0.1, 0.2]), InvalidArgumentError, /Invalid labels/);
        expectError(() => fn([0, 1], new Int32Array([1, 2]) as unknown as number[]), InvalidArgumentError, /Invalid scores: expected a Float32Array/);
      });
    }

    it('imageAuroc: one class only (AUROC undefined)', () => {
      expectError(() => imageAuroc([1, 1, 1], [0.1, 0.2, 0.3]), InvalidArgumentError, /labels: expected both classes.*AUROC is undefined.*only 1s/);
      expectError(() => imageAuroc([0, 0], [0.1, 0.2]), InvalidArgumentError, /only 0s/);
    });

    it('precisionRecallCurve / bestF1: no positive label (recall undefined), all positives allowed', () => {
      expectError(() => precisionRecallCurve([0, 0], [0.1, 0.2]), InvalidArgumentError, /labels: expected at least one positive/);
      expectError(() => bestF1([0, 0], [0.1, 0.2]), InvalidArgumentError, /recall is undefined/);
      expect(bestF1([1, 1], [0.1, 0.2]).f1).toBeCloseTo(1, 15);
    });
  });

  describe('pixel AUROC', () => {
    it('accumulator: bad values name the element, and leave the accumulator unchanged', () => {
      const acc = new PixelAurocAccumulator();
      acc.add(Float32Array.from([0.2, 0.8]), [0, 1]);
      expectError(() => acc.add(Float32Array.from([0.1, NaN]), [0, 1]), InvalidArgumentError, /scoreMap\[1\]: expected a finite number/);
      expectError(() => acc.add([0.1, 0.3], [0, 3]), InvalidArgumentError, /mask\[1\].*found 3/);
      expectError(() => acc.add([0.1, 0.3], [0]), ShapeMismatchError, /scoreMap and mask/);
      expectError(() => acc.add([1e39], [0]), InvalidArgumentError, /scoreMap\[0\].*float32 range/);
      expect(acc.positiveCount + acc.negativeCount).toBe(2);
      expect(acc.compute()).toBe(1);
    });

    it('accumulator: nothing or one class fed; bad options', () => {
      expectError(() => new PixelAurocAccumulator().compute(), InvalidArgumentError, /masks: expected both classes/);
      const onlyNormal = new PixelAurocAccumulator();
      onlyNormal.add([0.1, 0.2], [0, 0]);
      expectError(() => onlyNormal.compute(), InvalidArgumentError, /pixel AUROC is undefined/);
      expectError(() => new PixelAurocAccumulator({ precision: 'float16' as 'float32' }), InvalidArgumentError, /options\.precision/);
      expectError(() => new PixelAurocAccumulator({ capacity: -1 }), InvalidArgumentError, /options\.capacity/);
    });

    it('one-shot: empty input, list mismatches, bad entries', () => {
      expectError(() => pixelAuroc([], []), InvalidArgumentError, /Invalid maps: expected a non-empty array/);
      expectError(() => pixelAuroc([[0.1, 0.2]], [[0, 1], [1, 0]]), ShapeMismatchError, /maps and masks/);
      expectError(() => pixelAuroc([[0.1, 0.2], [0.3]], [[0, 1], [1, 0]]), ShapeMismatchError, /maps\[1\] and masks\[1\]/);
      expectError(() => pixelAuroc([[0.1, 0.2], [0.3, NaN]], [[0, 1], [1, 0]]), InvalidArgumentError, /maps\[1\]\[1\]/);
      expectError(() => pixelAuroc([[0.1, 0.2]], [0, 1]), InvalidArgumentError, /masks: expected a list of masks/);
      expectError(() => pixelAuroc([0.1, 0.2], [[0, 1]]), InvalidArgumentError, /masks: expected a flat 0\/1 array/);
    });
  });

  describe('AUPRO and connected components', () => {
    it('connectedComponents: bad sizes, mask length, mask values', () => {
      expectError(() => connectedComponents([0, 1], 0, 2), InvalidArgumentError, /Invalid width: expected an integer ≥ 1/);
      expectError(() => connectedComponents([0, 1], 2, 1.5), InvalidArgumentError, /Invalid height/);
      expectError(() => connectedComponents([0, 1, 1], 2, 2), ShapeMismatchError, /mask: expected width·height = 2·2 = 4 values, found 3/);
      expectError(() => connectedComponents([0, 1, 1, 7], 2, 2), InvalidArgumentError, /mask\[3\].*found 7/);
    });

    it('AuproAccumulator: options, shapes, values, one class', () => {
      expectError(() => new AuproAccumulator({ height: 0, width: 4 }), InvalidArgumentError, /options\.height/);
      expectError(() => new AuproAccumulator(undefined as unknown as { height: number; width: number }), InvalidArgumentError, /options/);
      expectError(() => new AuproAccumulator({ height: 2, width: 2, fprLimit: 0 }), InvalidArgumentError, /options\.fprLimit: expected a number in \(0, 1\]/);
      expectError(() => new AuproAccumulator({ height: 2, width: 2, fprLimit: 1.5 }), InvalidArgumentError, /options\.fprLimit/);
      expectError(() => new AuproAccumulator({ height: 2, width: 2, fprDtype: 'float16' as 'float32' }), InvalidArgumentError, /options\.fprDtype/);
      const acc = new AuproAccumulator({ height: 2, width: 2 });
      expectError(() => acc.add([0.1, 0.2, 0.3], [0, 1, 0]), ShapeMismatchError, /scoreMaps: expected a positive multiple of height·width = 2·2 = 4/);
      expectError(() => acc.add([0.1, 0.2, 0.3, 0.4], [0, 1, 0]), ShapeMismatchError, /scoreMaps and masks/);
      expectError(() => acc.add([0.1, 0.2, -Infinity, 0.4], [0, 1, 0, 0]), InvalidArgumentError, /scoreMaps\[2\]/);
      expectError(() => acc.add([0.1, 0.2, 0.3, 0.4], [0, 1, 0, -1]), InvalidArgumentError, /masks\[3\]/);
      expect(acc.imageCount).toBe(0);
      expectError(() => acc.compute(), InvalidArgumentError, /masks: expected at least one normal \(0\) pixel/);
      acc.add([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0]);
      expectError(() => acc.compute(), InvalidArgumentError, /masks: expected at least one anomalous \(1\) pixel, PRO is undefined/);
      expectError(() => acc.pixelAuroc(), InvalidArgumentError, /both classes/);
      acc.add([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 1]);
      expectError(() => acc.compute(-0.1), InvalidArgumentError, /fprLimit/);
      const full = new AuproAccumulator({ height: 1, width: 2 });
      full.add([0.1, 0.2], [1, 1]);
      expectError(() => full.compute(), InvalidArgumentError, /at least one normal/);
    });

    it('aupro one-shot and perImagePro: names of bad entries, missing options', () => {
      expectError(() => aupro([[0.1, 0.2, 0.3, NaN]], [[0, 1, 0, 0]], { height: 2, width: 2 }), InvalidArgumentError, /maps\[0\]\[3\]/);
      expectError(() => aupro([[0.1, 0.2, 0.3]], [[0, 1, 0]], { height: 2, width: 2 }), ShapeMismatchError, /maps\[0\]/);
      expectError(() => aupro([0.1, 0.2], [0, 1], undefined as unknown as { height: number; width: number }), InvalidArgumentError, /options/);
      expectError(() => perImagePro([[0.1, 0.2, 0.3, 0.4]], [[0, 0, 0, 0]], { height: 2, width: 2 }), InvalidArgumentError, /at least one image with anomalous/);
      expectError(() => perImagePro([[0.1, 0.2, 0.3, 0.4]], [[0, 2, 0, 0]], { height: 2, width: 2 }), InvalidArgumentError, /masks\[0\]\[1\]/);
      expectError(() => perImagePro([[0.1, 0.2, 0.3, 0.4]], [[0, 1, 0, 0]], { height: 2, width: 2, numThresholds: 0 }), InvalidArgumentError, /options\.numThresholds/);
      expectError(() => perImagePro([[0.1, 0.2, 0.3]], [[0, 1, 0]], { height: 2, width: 2 }), ShapeMismatchError, /maps\[0\]/);
    });
  });
});
