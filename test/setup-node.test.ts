/** The test setup drops tfjs's Node banner and nothing else. */

import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, expect, it, vi } from 'vitest';

import { withoutTfjsBanner } from './setup-node.js';

const original = console.warn;
afterEach(() => {
  console.warn = original;
});

it("tfjs-backend-cpu's first-use banner is dropped; other warnings pass", () => {
  const sink = vi.fn();
  console.warn = withoutTfjsBanner(sink);
  const backend = new MathBackendCPU(); // warns on its first write, in Node
  const id = backend.write(new Float32Array([1]), [1], 'float32');
  backend.disposeData(id);
  backend.dispose();
  console.warn('a real warning', 42);
  expect(sink.mock.calls).toEqual([['a real warning', 42]]);
});

it('the setup installed the filter for the whole suite', () => {
  expect(console.warn.name).not.toBe('warn');
});
