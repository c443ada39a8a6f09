import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError } from '../../../src/errors.js';
import { verifyDataset } from '../../../src/node/readers/verify.js';
import { tempDir, writeImage, writeMask } from '../../data/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

describe('verifyDataset', () => {
  it('reports unreadable images and masks whose size differs from their image, in input order', async () => {
    const ok = join(dir, 'ok.png');
    const okMask = join(dir, 'ok_mask.png');
    const bad = join(dir, 'bad.png');
    const img = join(dir, 'img.png');
    const small = join(dir, 'small_mask.png');
    await writeImage(ok, 10, 8);
    await writeMask(okMask, 10, 8);
    await writeFile(bad, 'garbage');
    await writeImage(img, 10, 8);
    await writeMask(small, 5, 4);
    const report = await verifyDataset(
      [{ path: ok, maskPath: okMask }, { path: bad }, { path: img, maskPath: small }, { path: join(dir, 'gone.png') }],
      { concurrency: 2 },
    );
    expect(report.checked).toBe(4);
    expect(report.problems.map((p) => p.path)).toEqual([bad, small, join(dir, 'gone.png')]);
    expect(report.problems.every((p) => p.error instanceof FileFormatError)).toBe(true);
    expect(report.problems[1].error.message).toMatch(/mask is 5×4 but its image .*img\.png is 10×8/);
    expect((await verifyDataset([{ path: ok, maskPath: okMask }])).problems).toEqual([]);
    await expect(verifyDataset([], { concurrency: 0 })).rejects.toThrow(/concurrency/);
  });
});
