/** Protocol files: validation with errors that name the field, defaults, and the ready-made protocols. */

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol, readProtocol } from '../../src/experiment/protocol.js';
import { tempDir } from '../data/helpers.js';

const base = {
  name: 'p',
  dataset: { kind: 'fashion-mnist', root: '/data/fm' },
  normalClasses: ['Trouser'],
  arms: [{ strategy: 'Recon', labelled: [0] }],
  seeds: [0],
  epochs: 3,
  imageSize: 64,
  model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
};

function errorOf(f: () => unknown): InvalidArgumentError {
  try {
    f();
  } catch (e) {
    if (e instanceof InvalidArgumentError) return e;
    throw e;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('parseProtocol', () => {
  it('fills in the documented defaults', () => {
    const p = parseProtocol(base);
    expect(p.model).toEqual({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random', seed: 0 });
    expect(p.scoring).toEqual({ sigma: 4, topK: 100 });
    expect(p.selection).toBe('validation');
    expect(p.validationFraction).toBe(0.05);
    expect(p.anomalyClassCount).toBe(1);
    expect(p.labelledClasses).toBe('each');
    expect(p.examplesPerClass).toBe(2);
    expect(p.limits).toBeNull();
    expect(p.arms[0].name).toBe('Recon');
    expect(p.report.groupBy).toEqual([['arm', 'labelled'], ['target', 'arm', 'labelled']]);
  });

  it('is idempotent: a resolved protocol parses to itself', () => {
    const once = parseProtocol({ ...base, limits: { trainPerClass: 10 }, training: { batchSize: 8, anomalyShuffle: 'every-epoch' } });
    expect(once.training.anomalyShuffle).toBe('every-epoch');
    expect(parseProtocol(once)).toEqual(once);
    const synthetic = parseProtocol({ ...base, normalClasses: undefined, dataset: { kind: 'synthetic' } });
    expect(parseProtocol(synthetic)).toEqual(synthetic);
  });

  it('names the offending field in its errors', () => {
    const cases: [unknown, string][] = [
      [{ ...base, arms: [{ strategy: 'Recon', labelled: [1.5] }] }, 'protocol.arms[0].labelled[0]'],
      [{ ...base, arms: [{ strategy: 'Recon', labelled: [0], training: { gamma: 2 } }] }, 'protocol.arms[0].training.gamma'],
      [{ ...base, training: { anomalyShuffle: 'sometimes' } }, 'protocol.training.anomalyShuffle'],
      [{ ...base, seeds: [0, 0] }, 'protocol.seeds'],
      [{ ...base, epochs: 0 }, 'protocol.epochs'],
      [{ ...base, model: { arch: 'resnet19', layers: ['layer2'] } }, 'protocol.model.arch'],
      [{ ...base, model: { arch: 'resnet18', layers: ['layer5'] } }, 'protocol.model.layers[0]'],
      [{ ...base, dataset: { kind: 'cifar', root: '/x' } }, 'protocol.dataset.kind'],
      [{ ...base, normalClasses: undefined }, 'protocol.normalClasses'],
      [{ ...base, dataset: { kind: 'mvtec', root: '/x', categories: 'all' } }, 'protocol.normalClasses'],
      [{ ...base, extra: 1 }, 'protocol.extra'],
      [{ ...base, arms: [{ strategy: 'Recon', labelled: [0] }, { strategy: 'Recon', labelled: [0.1] }] }, 'protocol.arms'],
      [{ ...base, anomalyClassCount: 2, labelledClasses: ['Bag'] }, 'protocol.labelledClasses'],
      [{ ...base, model: { arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'w.safetensors', seed: 3 } }, 'protocol.model.seed'],
    ];
    for (const [value, argument] of cases) expect(errorOf(() => parseProtocol(value)).argument).toBe(argument);
  });

  it('refuses an image size the auto-encoder cannot take, naming the smallest valid one', () => {
    const e = errorOf(() => parseProtocol({ ...base, imageSize: 32 }));
    expect(e.argument).toBe('protocol.imageSize');
    expect(e.message).toContain('64');
  });

  it('refuses a top-k larger than the map of its image size, as scoring would', () => {
    const e = errorOf(() => parseProtocol({ ...base, scoring: { topK: 5000 } }));
    expect(e.argument).toBe('protocol.scoring.topK');
    expect(e.message).toBe("Invalid protocol.scoring.topK: expected an integer in [1, 4096] (H·W of 64×64 images) or 'mean', found 5000.");
    expect(parseProtocol({ ...base, scoring: { topK: 4096 } }).scoring.topK).toBe(4096);
  });

  it('readProtocol reports the file for bad JSON and bad fields', async () => {
    const { dir, cleanup } = await tempDir('ckaad-protocol-');
    try {
      await writeFile(join(dir, 'bad.json'), '{ "name": ');
      await expect(readProtocol(join(dir, 'bad.json'))).rejects.toThrow(FileFormatError);
      await writeFile(join(dir, 'field.json'), JSON.stringify({ ...base, epochs: -1 }));
      await expect(readProtocol(join(dir, 'field.json'))).rejects.toThrow(/field\.json: Invalid protocol\.epochs/);
      await expect(readProtocol(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json/);
    } finally {
      await cleanup();
    }
  });
});

describe('the ready-made protocols', () => {
  it('all parse and expand to the documented grid sizes', async () => {
    const dir = join(__dirname, '../../protocols');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['fashion-mnist-deepsad.json', 'fashion-mnist-fidelity.json', 'fashion-mnist-full.json', 'fashion-mnist-reduced.json', 'fashion-mnist-smoke.json', 'synthetic-ablation-reduced.json', 'synthetic-ablation.json']);
    const sizes = new Map<string, number>();
    for (const f of files) sizes.set(f, expandGrid(await readProtocol(join(dir, f))).length);
    // 3 seeds × 10 normal classes × (Recon + CKAPatch × 9 known anomaly classes)
    expect(sizes.get('fashion-mnist-deepsad.json')).toBe(3 * 10 * (1 + 9));
    // 1 seed × 10 normal classes × (Recon + CKAPatch with one known class each)
    expect(sizes.get('fashion-mnist-reduced.json')).toBe(10 * 2);
    // 3 seeds × 2 classes × 5 strategies × 1 seen defect kind
    expect(sizes.get('synthetic-ablation-reduced.json')).toBe(3 * 2 * 5);
    // 2 seeds × T-shirt/top × (Recon + CKAPatch with Trouser known on ckaad's and on the
    // authors' anomaly schedule): the setting compared with the authors' code
    expect(sizes.get('fashion-mnist-fidelity.json')).toBe(2 * 3);
    // 1 seed × 10 normal classes × (Recon + CKAPatch with the next class known)
    expect(sizes.get('fashion-mnist-full.json')).toBe(10 * 2);
    // 2 seeds × (Recon + CKAPatch with the one listed class)
    expect(sizes.get('fashion-mnist-smoke.json')).toBe(4);
    // 3 seeds × 2 classes × 5 strategies × 4 seen defect kinds
    expect(sizes.get('synthetic-ablation.json')).toBe(3 * 2 * 5 * 4);
    const deepsad = await readProtocol(join(dir, 'fashion-mnist-deepsad.json'));
    expect(deepsad.selection).toBe('validation');
    expect(deepsad.imageSize).toBeGreaterThanOrEqual(64);
  });
});
