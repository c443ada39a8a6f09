import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { Rng } from '../../src/nn/random.js';

const draw = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('implements xoshiro128** (known answers from the published algorithm, state [1, 2, 3, 4])', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([11520, 0, 5927040]);
  });

  it('is reproducible from its seed, and different seeds give different streams', () => {
    expect(draw(new Rng(7), 20)).toEqual(draw(new Rng(7), 20));
    expect(draw(new Rng(7), 20)).not.toEqual(draw(new Rng(8), 20));
    expect(draw(new Rng(0), 5)).not.toEqual(draw(new Rng(2 ** 32), 5)); // high bits of the seed count
    expect(draw(new Rng(-1), 5)).not.toEqual(draw(new Rng(2 ** 32 - 1), 5));
  });

  it('state() / fromState() continue the exact sequence (JSON round trip)', () => {
    const rng = new Rng(123);
    draw(rng, 17);
    rng.normal();
    const restored = Rng.fromState(JSON.parse(JSON.stringify(rng.state())) as number[]);
    expect(draw(restored, 50)).toEqual(draw(rng, 50));
  });

  it('rejects bad seeds and states', () => {
    expect(() => new Rng(1.5)).toThrow(InvalidArgumentError);
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(InvalidArgumentError);
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/state/);
    expect(() => Rng.fromState([1, 2, 3, 2 ** 32])).toThrow(InvalidArgumentError);
  });

  it('draws uniforms in [0, 1) with the right mean and variance', () => {
    const xs = draw(new Rng(1), 100_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(variance).toBeCloseTo(1 / 12, 2);
  });

  it('draws standard normals (normal() and fillNormal())', () => {
    const rng = new Rng(2);
    const a = Array.from({ length: 50_000 }, () => rng.normal());
    const b = Array.from(rng.fillNormal(new Float32Array(50_001), 3, 2));
    for (const [xs, mu, sigma] of [[a, 0, 1], [b, 3, 2]] as const) {
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
      expect(Math.abs(mean - mu)).toBeLessThan(0.03 * sigma);
      expect(Math.abs(sd - sigma)).toBeLessThan(0.03 * sigma);
      // about 68.3 % within one sigma
      const within = xs.filter((x) => Math.abs(x - mu) < sigma).length / xs.length;
      expect(Math.abs(within - 0.6827)).toBeLessThan(0.01);
    }
    expect(b.every(Number.isFinite)).toBe(true);
  });

  it('int(n) is uniform over [0, n) and validates n', () => {
    const rng = new Rng(3);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    expect(() => rng.int(0)).toThrow(InvalidArgumentError);
    expect(() => rng.int(2.5)).toThrow(/n/);
  });

  it('shuffle permutes in place, reproducibly (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 40 }), fc.integer({ min: 0, max: 1e9 }), (xs, seed) => {
        const a = [...xs];
        const out = new Rng(seed).shuffle(a);
        expect(out).toBe(a);
        expect([...a].sort((p, q) => p - q)).toEqual([...xs].sort((p, q) => p - q));
        expect(new Rng(seed).shuffle([...xs])).toEqual(a);
      }),
      { numRuns: 100 },
    );
    // Not the identity for long arrays.
    const ids = Array.from({ length: 50 }, (_, i) => i);
    expect(new Rng(4).shuffle([...ids])).not.toEqual(ids);
  });

  it('fork() gives an independent, deterministic child and advances the parent', () => {
    const parent = new Rng(9);
    const child = parent.fork();
    const twin = new Rng(9);
    const twinChild = twin.fork();
    expect(draw(child, 10)).toEqual(draw(twinChild, 10));
    expect(draw(parent, 10)).toEqual(draw(twin, 10));
    const fresh = new Rng(9);
    const childDraws = draw(new Rng(9).fork(), 10);
    expect(childDraws).not.toEqual(draw(fresh, 10));
  });
});
