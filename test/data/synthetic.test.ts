import { readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { decodeImage, decodeMask } from '../../src/node/images.js';
import { readMvtec } from '../../src/node/readers/mvtec.js';
import { Rng } from '../../src/nn/random.js';
import { renderSyntheticSample, SYNTHETIC_DEFECTS } from '../../src/data/synthetic.js';
import { generateSyntheticDefects } from '../../src/node/synthetic-writer.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const SIZE = 64;
const OPTIONS = { size: SIZE, trainCount: 3, testGoodCount: 2, testDefectCount: 2 };

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await generateSyntheticDefects({ target: join(dir, 'a'), seed: 5, ...OPTIONS });
});
afterAll(async () => cleanup());

/** Every file under `root` with its bytes, keyed by relative path. */
async function snapshot(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(root, p), await readFile(p));
    }
  };
  await walk(root);
  return out;
}

describe('generateSyntheticDefects', () => {
  it('writes an MVTec AD layout the reader accepts, masks non-empty exactly for defect images', async () => {
    for (const category of ['weave', 'disc']) {
      const ds = await readMvtec(join(dir, 'a'), { category });
      expect(ds.classes).toEqual(['good', 'hole', 'missing', 'scratch', 'stain']);
      expect(ds.train).toHaveLength(3);
      expect(ds.test).toHaveLength(2 + 4 * 2);
      for (const s of ds.test) {
        const img = await decodeImage(s.path);
        expect([img.width, img.height, img.channels]).toEqual([SIZE, SIZE, 3]);
        if (s.label === 0) {
          expect(s.maskPath).toBeUndefined();
          continue;
        }
        const mask = await decodeMask(s.maskPath!);
        expect([mask.width, mask.height]).toEqual([SIZE, SIZE]);
        const area = mask.data.reduce((a, b) => a + b, 0);
        expect(area).toBeGreaterThan(0);
        expect(area / (SIZE * SIZE)).toBeLessThan(0.04); // small, fine-grained defects
      }
    }
  });

  it('is byte-identical for the same seed and different for another seed', async () => {
    await generateSyntheticDefects({ target: join(dir, 'b'), seed: 5, ...OPTIONS });
    await generateSyntheticDefects({ target: join(dir, 'c'), seed: 6, ...OPTIONS, classes: ['disc'] });
    const a = await snapshot(join(dir, 'a'));
    const b = await snapshot(join(dir, 'b'));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(b.get(k)!.equals(v)).toBe(true);
    const c = await snapshot(join(dir, 'c'));
    expect(c.get('disc/train/good/000.png')!.equals(a.get('disc/train/good/000.png')!)).toBe(false);
    expect([...c.keys()].some((k) => k.startsWith('weave'))).toBe(false);
    const manifest = JSON.parse(a.get('ckaad-synthetic.json')!.toString()) as { seed: number; size: number };
    expect(manifest).toMatchObject({ seed: 5, size: SIZE });
  });

  it('never replaces a folder of other files; replaces an earlier set only with overwrite; leaves no temp folders', async () => {
    const target = join(dir, 'd');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'x');
    for (const overwrite of [false, true]) {
      const e = await generateSyntheticDefects({ target, ...OPTIONS, overwrite }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(FileFormatError);
      expect((e as FileFormatError).path).toBe(target);
      expect((e as Error).message).toMatch(/not a ckaad synthetic set/);
    }
    expect(await readdir(target)).toEqual(['keep.txt']);
    await rm(join(target, 'keep.txt'));
    await generateSyntheticDefects({ target, ...OPTIONS, classes: ['disc'], defects: ['hole'] }); // an empty folder is used
    const again = await generateSyntheticDefects({ target, ...OPTIONS }).catch((x: unknown) => x);
    expect((again as Error).message).toMatch(/holds a synthetic set already; pass overwrite: true/);
    const summary = await generateSyntheticDefects({ target, ...OPTIONS, classes: ['weave'], defects: ['hole'], overwrite: true });
    expect(summary).toMatchObject({ classes: ['weave'], defects: ['hole'], images: 3 + 2 + 2, masks: 2 });
    expect((await readdir(target)).sort()).toEqual(['ckaad-synthetic.json', 'weave']);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    await writeFile(join(dir, 'file'), 'x');
    await expect(generateSyntheticDefects({ target: join(dir, 'file'), ...OPTIONS })).rejects.toThrow(/is a file/);
  });

  it('validates options', async () => {
    await expect(generateSyntheticDefects({ target: join(dir, 'e'), size: 16 })).rejects.toThrow(InvalidArgumentError);
    await expect(generateSyntheticDefects({ target: join(dir, 'e'), classes: ['cube' as 'disc'] })).rejects.toThrow(/classes/);
    await expect(generateSyntheticDefects({ target: join(dir, 'e'), trainCount: 0 })).rejects.toThrow(/trainCount/);
  });
});

describe('renderSyntheticSample', () => {
  it('marks exactly the pixels the defect changed', () => {
    for (const className of ['weave', 'disc'] as const) {
      for (const defect of SYNTHETIC_DEFECTS) {
        for (let seed = 0; seed < 3; seed++) {
          const state = new Rng(100 + seed).state();
          const normal = renderSyntheticSample(className, null, SIZE, Rng.fromState(state));
          const broken = renderSyntheticSample(className, defect, SIZE, Rng.fromState(state));
          let area = 0;
          let wrong = 0;
          for (let i = 0; i < SIZE * SIZE; i++) {
            const changed = [0, 1, 2].some((c) => normal.image[3 * i + c] !== broken.image[3 * i + c]);
            if (broken.mask[i] !== (changed ? 1 : 0)) wrong++;
            area += broken.mask[i];
          }
          expect(wrong).toBe(0);
          expect(area).toBeGreaterThan(0);
          expect(normal.mask.every((v) => v === 0)).toBe(true);
        }
      }
    }
  });

  it('takes a seed in place of a generator: the same sample as new Rng(seed)', () => {
    const fromSeed = renderSyntheticSample('disc', 'hole', SIZE, 7);
    const fromRng = renderSyntheticSample('disc', 'hole', SIZE, new Rng(7));
    expect(fromSeed.image).toEqual(fromRng.image);
    expect(fromSeed.mask).toEqual(fromRng.mask);
    expect(() => renderSyntheticSample('disc', null, SIZE, 0.5)).toThrow(/rng.*safe integer/);
  });

  it('varies normal images across draws', () => {
    const a = renderSyntheticSample('weave', null, SIZE, new Rng(1));
    const b = renderSyntheticSample('weave', null, SIZE, new Rng(2));
    let diff = 0;
    for (let i = 0; i < a.image.length; i++) diff += Math.abs(a.image[i] - b.image[i]);
    expect(diff / a.image.length).toBeGreaterThan(5);
  });
});
