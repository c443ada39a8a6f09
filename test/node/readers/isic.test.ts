import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../../src/errors.js';
import { readIsic2018 } from '../../../src/node/readers/isic.js';
import { tempDir, writeImage, writeText } from '../../data/helpers.js';

let root: string;
let cleanup: () => Promise<void>;

const HEADER = 'image,MEL,NV,BCC,AKIEC,BKL,DF,VASC';
const oneHot = (k: number) => Array.from({ length: 7 }, (_, i) => (i === k ? '1.0' : '0.0')).join(',');

async function makeSplit(split: 'Training' | 'Validation', rows: [string, number][]): Promise<void> {
  const lines = [HEADER, ...rows.map(([id, k]) => `${id},${oneHot(k)}`)];
  await writeText(join(root, `ISIC2018_Task3_${split}_GroundTruth`, `ISIC2018_Task3_${split}_GroundTruth.csv`), lines.join('\n') + '\n');
  for (const [id] of rows) await writeImage(join(root, `ISIC2018_Task3_${split}_Input`, `${id}.jpg`));
}

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  await makeSplit('Training', [['ISIC_0024306', 1], ['ISIC_0024307', 1], ['ISIC_0024308', 0], ['ISIC_0024309', 6]]);
  await makeSplit('Validation', [['ISIC_0034321', 1], ['ISIC_0034322', 2]]);
});
afterEach(async () => cleanup());

describe('readIsic2018', () => {
  it('reads one-hot ground truth; NV normal; validation split as test', async () => {
    const ds = await readIsic2018(root);
    expect(ds.classes).toEqual(['MEL', 'NV', 'BCC', 'AKIEC', 'BKL', 'DF', 'VASC']);
    expect(ds.normalClass).toBe('NV');
    expect(ds.train.map((s) => [s.className, s.label])).toEqual([['NV', 0], ['NV', 0], ['MEL', 1], ['VASC', 1]]);
    expect(ds.train[0].path).toBe(join(root, 'ISIC2018_Task3_Training_Input', 'ISIC_0024306.jpg'));
    expect(ds.test.map((s) => s.className)).toEqual(['NV', 'BCC']);
    expect(ds.test[1].path).toBe(join(root, 'ISIC2018_Task3_Validation_Input', 'ISIC_0034322.jpg'));
  });

  it('rejects rows without exactly one diagnosis, naming the CSV line', async () => {
    const csv = join(root, 'ISIC2018_Task3_Training_GroundTruth', 'ISIC2018_Task3_Training_GroundTruth.csv');
    await writeText(csv, `${HEADER}\nISIC_0024306,1.0,1.0,0.0,0.0,0.0,0.0,0.0\n`);
    const e = await readIsic2018(root).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(csv);
    expect((e as Error).message).toMatch(/line 2: 2 diagnoses marked \(MEL, NV\)/);
    await writeText(csv, `${HEADER}\nISIC_0024306,0.0,yes,0.0,0.0,0.0,0.0,0.0\n`);
    await expect(readIsic2018(root)).rejects.toThrow(/column NV is 'yes'/);
  });

  it('names a listed image that is missing, and a missing CSV', async () => {
    await rm(join(root, 'ISIC2018_Task3_Validation_Input', 'ISIC_0034322.jpg'));
    const e = await readIsic2018(root).catch((x: unknown) => x);
    expect((e as FileFormatError).path).toBe(join(root, 'ISIC2018_Task3_Validation_Input', 'ISIC_0034322.jpg'));
    await rm(join(root, 'ISIC2018_Task3_Training_GroundTruth'), { recursive: true });
    await expect(readIsic2018(root)).rejects.toThrow(/CSV file not found/);
  });

  it('accepts another normal class and rejects unknown ones', async () => {
    const ds = await readIsic2018(root, { normalClass: 'mel' });
    expect(ds.train.map((s) => s.label)).toEqual([1, 1, 0, 1]);
    await expect(readIsic2018(root, { normalClass: 'XYZ' })).rejects.toThrow(InvalidArgumentError);
  });
});
