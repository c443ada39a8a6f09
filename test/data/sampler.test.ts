import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { labelledAnomalyCount, roundHalfEven, sampleProtocol } from '../../src/data/sampler.js';

interface Item {
  id: number;
  className: string;
  label: 0 | 1;
}

/** A training set with `counts[c]` items of each class (labels deliberately all 0: the sampler relabels). */
function makeTrain(counts: Record<string, number>): Item[] {
  const out: Item[] = [];
  for (const [className, n] of Object.entries(counts)) for (let i = 0; i < n; i++) out.push({ id: out.length, className, label: 0 });
  return out;
}

describe('labelled-anomaly count', () => {
  it('is round(n / (1 − r) − n) with Python rounding', () => {
    expect(labelledAnomalyCount(100, 0.05)).toBe(5); // 5.26
    expect(labelledAnomalyCount(1000, 0.1)).toBe(111); // 111.1
    expect(labelledAnomalyCount(26315, 0.05)).toBe(1385); // 1384.99
    expect(labelledAnomalyCount(10, 0)).toBe(0);
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 0, 2, 3]);
  });
});

describe('sampleProtocol', () => {
  const train = makeTrain({ NORMAL: 200, CNV: 120, DME: 60, DRUSEN: 40 });

  it('holds out a balanced 5 % validation split, then draws m anomalies from the chosen class', () => {
    const s = sampleProtocol(train, { normalClass: 'NORMAL', labelledRatio: 0.05, anomalyClass: 'DME', seed: 3 });
    // n = min(⌊0.05·200⌋, ⌊0.05·220⌋) = 10 of each.
    expect(s.validation).toHaveLength(20);
    expect(s.validation.slice(0, 10).every((v) => v.className === 'NORMAL' && v.label === 0)).toBe(true);
    expect(s.validation.slice(10).every((v) => v.className !== 'NORMAL' && v.label === 1)).toBe(true);
    expect(s.normal).toHaveLength(190);
    expect(s.normal.every((v) => v.className === 'NORMAL' && v.label === 0)).toBe(true);
    expect(s.requestedAnomalies).toBe(10); // round(190 / 0.95 − 190) = 10
    expect(s.labelledAnomalies).toHaveLength(10);
    expect(s.labelledAnomalies.every((v) => v.className === 'DME' && v.label === 1)).toBe(true);
    expect(s.labelledClasses).toEqual(['DME']);
    // Disjoint, drawn from the input, normal kept in input order.
    const ids = [...s.normal, ...s.labelledAnomalies, ...s.validation].map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(s.normal.map((v) => v.id)).toEqual([...s.normal.map((v) => v.id)].sort((a, b) => a - b));
  });

  it('uses the chosen normal class, not class 0 (unlike the reference)', () => {
    const s = sampleProtocol(train, { normalClass: 'CNV', labelledRatio: 0.1, anomalyClass: 'NORMAL', seed: 0 });
    // n = min(⌊0.05·120⌋, ⌊0.05·300⌋) = 6
    expect(s.validation.filter((v) => v.label === 0).every((v) => v.className === 'CNV')).toBe(true);
    expect(s.validation.filter((v) => v.label === 0)).toHaveLength(6);
    expect(s.normal).toHaveLength(114);
    expect(s.labelledAnomalies.every((v) => v.className === 'NORMAL' && v.label === 1)).toBe(true);
    expect(s.labelledAnomalies).toHaveLength(labelledAnomalyCount(114, 0.1)); // 13
  });

  it('draws k classes at random for k > 1, pooling and shuffling their images', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const s = sampleProtocol(train, { normalClass: 'NORMAL', labelledRatio: 0.2, anomalyClassCount: 2, seed });
      expect(s.labelledClasses).toHaveLength(2);
      expect(s.labelledClasses).not.toContain('NORMAL');
      expect(s.labelledAnomalies.every((v) => s.labelledClasses.includes(v.className))).toBe(true);
      expect(s.labelledAnomalies).toHaveLength(s.requestedAnomalies); // 48 ≤ pool
      seen.add([...s.labelledClasses].sort().join('+'));
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('keeps every available image when the classes hold fewer than m', () => {
    const s = sampleProtocol(makeTrain({ ok: 100, bad: 4 }), { normalClass: 'ok', labelledRatio: 0.5 });
    expect(s.validation).toHaveLength(0); // ⌊0.05·4⌋ = 0
    expect(s.requestedAnomalies).toBe(100);
    expect(s.labelledAnomalies).toHaveLength(4);
  });

  it('is deterministic per seed and varies across seeds', () => {
    const o = { normalClass: 'NORMAL', labelledRatio: 0.05, anomalyClass: 'CNV' };
    const a = sampleProtocol(train, { ...o, seed: 7 });
    const b = sampleProtocol(train, { ...o, seed: 7 });
    const c = sampleProtocol(train, { ...o, seed: 8 });
    expect(b).toEqual(a);
    expect(c.labelledAnomalies.map((v) => v.id)).not.toEqual(a.labelledAnomalies.map((v) => v.id));
    expect(c.validation.map((v) => v.id)).not.toEqual(a.validation.map((v) => v.id));
  });

  it('with r_l = 0 returns no anomalies and ignores k', () => {
    const s = sampleProtocol(train, { normalClass: 'NORMAL', labelledRatio: 0, anomalyClassCount: 99 });
    expect(s.labelledAnomalies).toEqual([]);
    expect(s.requestedAnomalies).toBe(0);
  });

  it('rejects bad ratios, class counts and class names', () => {
    const base = { normalClass: 'NORMAL', anomalyClass: 'CNV' };
    for (const r of [1, 1.5, -0.1, Number.NaN]) {
      expect(() => sampleProtocol(train, { ...base, labelledRatio: r })).toThrow(InvalidArgumentError);
    }
    expect(() => sampleProtocol(train, { normalClass: 'NORMAL', labelledRatio: 0.1, anomalyClassCount: 4 })).toThrow(
      /anomalyClassCount: expected an integer in \[1, 3\] \(anomaly classes: CNV, DME, DRUSEN\)/,
    );
    expect(() => sampleProtocol(train, { normalClass: 'NORMAL', labelledRatio: 0.1 })).toThrow(/anomalyClass/);
    expect(() => sampleProtocol(train, { normalClass: 'NORMAL', labelledRatio: 0.1, anomalyClass: 'NORMAL' })).toThrow(/anomaly class/);
    expect(() => sampleProtocol(train, { normalClass: 'HEALTHY', labelledRatio: 0.1 })).toThrow(/normalClass/);
    expect(() => sampleProtocol([], { normalClass: 'a', labelledRatio: 0 })).toThrow(/train/);
    expect(() => sampleProtocol(train, { ...base, labelledRatio: 0.1, classes: ['NORMAL', 'CNV'] })).toThrow(/class 'DME'/);
  });

  it('invariants hold for random class sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 2, maxLength: 5 }),
        fc.double({ min: 0, max: 0.9, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 4 }),
        (counts, ratio, seed, normalPick) => {
          const names = counts.map((_, i) => `c${i}`);
          const data = makeTrain(Object.fromEntries(names.map((n, i) => [n, counts[i]])));
          const normalClass = names[normalPick % names.length];
          const anomalyClass = names.find((n) => n !== normalClass)!;
          const s = sampleProtocol(data, { normalClass, labelledRatio: ratio, anomalyClass, seed });
          const nNormal = counts[names.indexOf(normalClass)];
          const nAnom = data.length - nNormal;
          const nVal = Math.min(Math.floor(nNormal * 0.05), Math.floor(nAnom * 0.05));
          expect(s.validation.filter((v) => v.label === 0)).toHaveLength(nVal);
          expect(s.validation.filter((v) => v.label === 1)).toHaveLength(nVal);
          expect(s.normal).toHaveLength(nNormal - nVal);
          const expected = ratio > 0 ? labelledAnomalyCount(nNormal - nVal, ratio) : 0;
          expect(s.requestedAnomalies).toBe(expected);
          expect(s.labelledAnomalies.length).toBeLessThanOrEqual(expected);
          expect(s.labelledAnomalies.every((v) => v.className === anomalyClass && v.label === 1)).toBe(true);
          const ids = [...s.normal, ...s.labelledAnomalies, ...s.validation].map((v) => v.id);
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
