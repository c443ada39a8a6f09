/** Grid expansion: order, ids, labelled-class dimension, hashes, and the errors. */

import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../src/errors.js';
import { canonicalJson, expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';

const base = {
  name: 'p',
  dataset: { kind: 'fashion-mnist', root: '/data/fm' },
  normalClasses: ['Trouser', 'Bag'],
  arms: [
    { strategy: 'Recon', labelled: [0] },
    { strategy: 'CKAPatch', labelled: [0.01, 0.05] },
  ],
  seeds: [3, 1],
  epochs: 2,
  imageSize: 64,
  model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
};

describe('expandGrid', () => {
  it('expands seeds → targets → arms → r_l → labelled classes, in that order', () => {
    const runs = expandGrid(parseProtocol(base));
    // per seed and target: Recon once, CKAPatch × 2 ratios × 9 anomaly classes
    expect(runs.length).toBe(2 * 2 * (1 + 2 * 9));
    expect(runs.map((r) => r.index)).toEqual(runs.map((_, i) => i));
    expect(runs[0]).toMatchObject({ seed: 3, target: 'Trouser', normalClass: 'Trouser', category: null, arm: 'Recon', labelled: 0, labelledClass: null });
    expect(runs[0].id).toBe('Trouser__Recon__rl0__s3');
    expect(runs[1]).toMatchObject({ seed: 3, target: 'Trouser', arm: 'CKAPatch', labelled: 0.01, labelledClass: 'T-shirt/top' });
    expect(runs[1].id).toBe('Trouser__CKAPatch__rl0.01__T-shirt-top__s3');
    // the labelled classes of a target never include the target itself
    expect(runs.filter((r) => r.target === 'Bag').every((r) => r.labelledClass !== 'Bag')).toBe(true);
    // seeds are the outermost dimension
    expect(runs.slice(0, runs.length / 2).every((r) => r.seed === 3)).toBe(true);
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
  });

  it('limits the labelled classes to the listed ones (skipping the target itself)', () => {
    const runs = expandGrid(parseProtocol({ ...base, labelledClasses: ['Bag', 'Coat'], seeds: [0] }));
    const patch = runs.filter((r) => r.arm === 'CKAPatch');
    expect(patch.filter((r) => r.target === 'Trouser').map((r) => r.labelledClass)).toEqual(['Bag', 'Coat', 'Bag', 'Coat']);
    expect(patch.filter((r) => r.target === 'Bag').map((r) => r.labelledClass)).toEqual(['Coat', 'Coat']);
  });

  it('takes one list of labelled classes per normal class from an object, and checks its keys and names', () => {
    const map = { Trouser: ['Bag'], Bag: ['Coat', 'Trouser'] };
    const runs = expandGrid(parseProtocol({ ...base, labelledClasses: map, seeds: [0] }));
    const patch = runs.filter((r) => r.arm === 'CKAPatch');
    expect(patch.filter((r) => r.target === 'Trouser').map((r) => r.labelledClass)).toEqual(['Bag', 'Bag']);
    expect(patch.filter((r) => r.target === 'Bag').map((r) => r.labelledClass)).toEqual(['Coat', 'Trouser', 'Coat', 'Trouser']);
    expect(runs.filter((r) => r.arm === 'Recon').length).toBe(2);
    // a normal class without an entry, a key that is no normal class, a name that is no anomaly class
    expect(() => expandGrid(parseProtocol({ ...base, labelledClasses: { Trouser: ['Bag'] } }))).toThrow(/protocol\.labelledClasses\["Bag"\].*nothing/);
    expect(() => expandGrid(parseProtocol({ ...base, labelledClasses: { ...map, Coat: ['Bag'] } }))).toThrow(/protocol\.labelledClasses\["Coat"\]/);
    expect(() => expandGrid(parseProtocol({ ...base, labelledClasses: { ...map, Bag: ['Coat', 'Bag'] } }))).toThrow(/protocol\.labelledClasses\["Bag"\]\[1\]/);
    expect(() => parseProtocol({ ...base, labelledClasses: { Trouser: 'Bag' } })).toThrow(/protocol\.labelledClasses\["Trouser"\]/);
    expect(() => parseProtocol({ ...base, labelledClasses: {} })).toThrow(/protocol\.labelledClasses/);
  });

  it('has no labelled-class dimension for k > 1 (classes drawn per seed)', () => {
    const runs = expandGrid(parseProtocol({ ...base, anomalyClassCount: 3, seeds: [0], normalClasses: ['Trouser'] }));
    expect(runs.map((r) => r.id)).toEqual(['Trouser__Recon__rl0__s0', 'Trouser__CKAPatch__rl0.01__k3__s0', 'Trouser__CKAPatch__rl0.05__k3__s0']);
  });

  it('gives each run a hash of its settings: equal for equal settings, different otherwise', () => {
    const a = expandGrid(parseProtocol(base));
    const b = expandGrid(parseProtocol({ ...base }));
    expect(a.map((r) => r.settingsHash)).toEqual(b.map((r) => r.settingsHash));
    const c = expandGrid(parseProtocol({ ...base, epochs: 3 }));
    a.forEach((r, i) => expect(c[i].settingsHash).not.toBe(r.settingsHash));
    // an arm override changes only that arm's runs
    const d = expandGrid(parseProtocol({ ...base, arms: [base.arms[0], { ...base.arms[1], training: { lambda: 0.1 } }] }));
    a.forEach((r, i) => expect(d[i].settingsHash === r.settingsHash).toBe(r.arm === 'Recon'));
    expect(d.find((r) => r.arm === 'CKAPatch')?.settings.training).toEqual({ lambda: 0.1 });
  });

  it('expands per-category sets and their seen defect kinds', () => {
    const p = parseProtocol({
      ...base,
      normalClasses: undefined,
      dataset: { kind: 'synthetic', categories: ['disc'], defects: ['hole', 'scratch', 'stain'] },
      arms: [{ strategy: 'CKAPatch', labelled: [0.1, 'elastic'] }],
      seeds: [0],
    });
    const runs = expandGrid(p);
    expect(runs.map((r) => r.id)).toEqual(['disc__CKAPatch__rl0.1__hole__s0', 'disc__CKAPatch__rl0.1__scratch__s0', 'disc__CKAPatch__rl0.1__stain__s0', 'disc__CKAPatch__elastic__s0']);
    expect(runs.every((r) => r.normalClass === 'good' && r.category === 'disc')).toBe(true);
  });

  it('refuses r_l > 0 on MVTec AD (no anomalous training images) and k above the class count', () => {
    const mvtec = parseProtocol({
      ...base,
      normalClasses: undefined,
      dataset: { kind: 'mvtec', root: '/x', categories: ['bottle'] },
      arms: [{ strategy: 'CKAPatch', labelled: [0.05] }],
    });
    expect(() => expandGrid(mvtec)).toThrow(/"elastic"/);
    expect(expandGrid({ ...mvtec, arms: [{ name: 'CKAPatch', strategy: 'CKAPatch', labelled: ['elastic'], training: {} }] }).length).toBe(2);
    expect(() => expandGrid(parseProtocol({ ...base, anomalyClassCount: 10 }))).toThrow(InvalidArgumentError);
    expect(() => expandGrid(parseProtocol({ ...base, normalClasses: ['Jacket'] }))).toThrow(/protocol\.normalClasses\[0\]/);
    expect(() => expandGrid(parseProtocol({ ...base, labelledClasses: ['Jacket'] }))).toThrow(/protocol\.labelledClasses\[0\]/);
  });

  it('refuses two runs that would share a folder', () => {
    const p = parseProtocol({ ...base, arms: [{ name: 'a/b', strategy: 'Recon', labelled: [0] }, { name: 'a-b', strategy: 'Recon', labelled: [0] }] });
    expect(() => expandGrid(p)).toThrow(/both map to runs\/Trouser__a-b__rl0__s3/);
  });

  it('canonicalJson ignores key order and undefined fields', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe(canonicalJson({ a: [{ d: 2 }], b: 1 }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});
