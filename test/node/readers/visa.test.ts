import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFormatError, InvalidArgumentError } from '../../../src/errors.js';
import { readVisa } from '../../../src/node/readers/visa.js';
import { tempDir, writeImage, writeMask, writeText } from '../../data/helpers.js';

let root: string;
let cleanup: () => Promise<void>;

const ROWS = [
  'candle,train,normal,candle/Data/Images/Normal/0000.JPG,',
  'candle,train,normal,candle/Data/Images/Normal/0001.JPG,',
  'candle,test,normal,candle/Data/Images/Normal/0002.JPG,',
  'candle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,candle/Data/Masks/Anomaly/000.png',
  'pcb1,train,normal,pcb1/Data/Images/Normal/0000.JPG,',
  'pcb1,test,anomaly,pcb1/Data/Images/Anomaly/000.JPG,pcb1/Data/Masks/Anomaly/000.png',
];

async function makeVisa(rows: string[]): Promise<void> {
  await writeText(join(root, 'split_csv', '1cls.csv'), ['object,split,label,image,mask', ...rows].join('\r\n') + '\r\n');
  for (const row of rows) {
    const [, , , image, mask] = row.split(',');
    await writeImage(join(root, image));
    if (mask) await writeMask(join(root, mask));
  }
}

beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  await makeVisa(ROWS);
});
afterEach(async () => cleanup());

describe('readVisa', () => {
  it('lists one object from split_csv/1cls.csv', async () => {
    const ds = await readVisa(root, { category: 'candle' });
    expect(ds.classes).toEqual(['normal', 'anomaly']);
    expect(ds.category).toBe('candle');
    expect(ds.train.map((s) => s.path)).toEqual([
      join(root, 'candle/Data/Images/Normal/0000.JPG'),
      join(root, 'candle/Data/Images/Normal/0001.JPG'),
    ]);
    expect(ds.test).toEqual([
      { path: join(root, 'candle/Data/Images/Normal/0002.JPG'), label: 0, className: 'normal' },
      {
        path: join(root, 'candle/Data/Images/Anomaly/000.JPG'),
        label: 1,
        className: 'anomaly',
        maskPath: join(root, 'candle/Data/Masks/Anomaly/000.png'),
      },
    ]);
  });

  it('rejects an unknown object, listing those in the CSV', async () => {
    const e = await readVisa(root, { category: 'candel' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as Error).message).toMatch(/'candle', 'pcb1'/);
  });

  it('names a listed file that is missing', async () => {
    await rm(join(root, 'candle/Data/Masks/Anomaly/000.png'));
    const e = await readVisa(root, { category: 'candle' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FileFormatError);
    expect((e as FileFormatError).path).toBe(join(root, 'candle/Data/Masks/Anomaly/000.png'));
  });

  it('rejects bad CSVs: missing file, missing column, bad label, anomaly without mask', async () => {
    await expect(readVisa(join(root, 'nowhere'), { category: 'candle' })).rejects.toThrow(/CSV file not found/);
    await writeText(join(root, 'split_csv', '1cls.csv'), 'object,split,image\ncandle,train,a.JPG\n');
    await expect(readVisa(root, { category: 'candle' })).rejects.toThrow(/missing columns label, mask/);
    await writeText(join(root, 'split_csv', '1cls.csv'), 'object,split,label,image,mask\ncandle,train,good,candle/Data/Images/Normal/0000.JPG,\n');
    await expect(readVisa(root, { category: 'candle' })).rejects.toThrow(/line 2: label 'good'/);
    await writeText(join(root, 'split_csv', '1cls.csv'), 'object,split,label,image,mask\ncandle,test,anomaly,candle/Data/Images/Anomaly/000.JPG,\n');
    await expect(readVisa(root, { category: 'candle' })).rejects.toThrow(/without a mask/);
  });
});
