import { describe, expect, it } from 'vitest';
import { CkaadError, InvalidArgumentError, WeightsMismatchError } from '../src/errors.js';

describe('errors', () => {
  it('InvalidArgumentError names the argument, the expectation and the value found', () => {
    const e = new InvalidArgumentError('options.gamma', 'a number in (0, 1]', '1.5');
    expect(e).toBeInstanceOf(CkaadError);
    expect(e.name).toBe('InvalidArgumentError');
    expect(e.code).toBe('invalid-argument');
    expect(e.argument).toBe('options.gamma');
    expect(e.message).toBe('Invalid options.gamma: expected a number in (0, 1], found 1.5.');
  });

  it('WeightsMismatchError lists every problem with its shapes', () => {
    const e = new WeightsMismatchError('model.safetensors', [
      { name: 'conv1.weight', kind: 'shape', expected: [64, 3, 7, 7], found: [64, 3, 3, 3] },
      { name: 'layer1.0.conv1.weight', kind: 'missing', expected: [64, 64, 3, 3] },
      { name: 'extra.weight', kind: 'unexpected', found: [2] },
    ]);
    expect(e.problems).toHaveLength(3);
    expect(e.message).toContain('3 problems');
    expect(e.message).toContain('wrong shape: conv1.weight (expected [64, 3, 7, 7], found [64, 3, 3, 3])');
    expect(e.message).toContain('missing: layer1.0.conv1.weight (expected [64, 64, 3, 3])');
    expect(e.message).toContain('unexpected: extra.weight (found [2])');
  });
});
