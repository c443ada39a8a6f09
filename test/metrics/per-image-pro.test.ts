import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { aupro, perImagePro } from '../../src/metrics/index.js';
import { loadFixture, maskBits, typedScores, type PixelDataset } from './reference.js';

describe('perImagePro (the authors\u2019 variant)', () => {
  const { datasets } = loadFixture<{ datasets: PixelDataset[] }>('pixel_metrics.json');
  const d = datasets.find((x) => x.perImagePro !== undefined) as PixelDataset;
  const expected = d.perImagePro as NonNullable<PixelDataset['perImagePro']>;
  const maps = d.maps.map((m) => typedScores(m, d.dtype));
  const masks = d.masks.map(maskBits);

  describe('matches a NumPy replica of the authors\u2019 compute_pro, image by image (golden fixtures)', () => {
    // blobs_float32: smooth float32 maps; coarse_ties_float64: a float64 map (float64 path);
    // grid_float32: levels on the threshold grid, where float32 rounding changes the answer.
    for (const c of datasets.filter((x) => x.perImagePro !== undefined)) {
      it(c.name, () => {
        const ref = c.perImagePro as NonNullable<PixelDataset['perImagePro']>;
        const got = perImagePro(
          c.maps.map((m) => typedScores(m, c.dtype)),
          c.masks.map(maskBits),
          { height: c.height, width: c.width },
        );
        expect(got.imageIndices).toEqual(ref.imageIndices);
        expect(got.perImage.length).toBe(ref.perImage.length);
        got.perImage.forEach((v, i) => expect(Math.abs(v - ref.perImage[i])).toBeLessThan(1e-12));
        expect(Math.abs(got.pro - ref.pro)).toBeLessThan(1e-12);
      });
    }
  });

  it('ignores images without anomalies and differs from the whole-set AUPRO', () => {
    const all = perImagePro(maps, masks, { height: d.height, width: d.width });
    const keep = expected.imageIndices;
    const sub = perImagePro(
      keep.map((i) => maps[i]),
      keep.map((i) => masks[i]),
      { height: d.height, width: d.width },
    );
    expect(sub.perImage).toEqual(all.perImage);
    expect(sub.imageIndices).toEqual(keep.map((_, j) => j));
    const standard = aupro(maps, masks, { height: d.height, width: d.width });
    expect(Math.abs(standard - all.pro)).toBeGreaterThan(0.01);
  });

  it('uses the image\u2019s own normal pixels for the FPR and its own max FPR for normalisation', () => {
    // 1×4 image: normals 0, 0.1, 0.2; anomaly 1.0. Sweep from 0 to 1 in steps of 0.005.
    // th < 0.1 → FPR 2/3 (dropped, ≥ 0.3); 0.1 ≤ th < 0.2 → FPR 1/3 (dropped); th ≥ 0.2 → FPR 0.
    // All kept FPRs are 0 → divided by their max 0 → NaN, like the authors' code.
    const r = perImagePro([Float64Array.from([0, 0.1, 0.2, 1])], [[0, 0, 0, 1]], { height: 1, width: 4 });
    expect(r.perImage).toHaveLength(1);
    expect(Number.isNaN(r.perImage[0])).toBe(true);
    expect(Number.isNaN(r.pro)).toBe(true);
    // With 10 normals spread out, the kept FPRs are 0.2, 0.1, 0 → x = 1, 0.5, 0 and PRO = 1.
    const normals = Array.from({ length: 10 }, (_, i) => i / 10);
    const r2 = perImagePro([[...normals, 5]], [[...Array<number>(10).fill(0), 1]], { height: 1, width: 11 });
    expect(r2.perImage[0]).toBeCloseTo(1, 12);
  });

  it('rejects a constant anomalous map (the sweep would be empty)', () => {
    expect(() => perImagePro([new Float32Array(4).fill(0.5)], [[0, 1, 0, 0]], { height: 2, width: 2 })).toThrow(InvalidArgumentError);
    expect(() => perImagePro([new Float32Array(4).fill(0.5)], [[0, 1, 0, 0]], { height: 2, width: 2 })).toThrow(/maps\[0\].*not constant/);
  });
});
