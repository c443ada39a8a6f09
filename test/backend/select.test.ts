// useBackend / ensureBackend / activeBackend / backendInfo in one process. The tests
// share the process-wide tfjs engine and run in order: cpu, then wasm, then an
// injected backend. Fresh-process behaviour is in fresh-process.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';

import { BackendError, InvalidArgumentError } from '../../src/errors.js';
import { activeBackend, backendInfo, ensureBackend, useBackend } from '../../src/index.js';

/** Deterministic values in [-1, 1) (a 32-bit LCG), so every backend sees the same input. */
function lcg(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const X_SHAPE: [number, number, number, number] = [2, 7, 6, 3]; // [N, H, W, Cin]
const W_SHAPE: [number, number, number, number] = [3, 3, 3, 4]; // [kh, kw, Cin, Cout]
const X = lcg(2 * 7 * 6 * 3, 1);
const W = lcg(3 * 3 * 3 * 4, 2);

/** Plain-JS NHWC conv2d with tfjs' 'same'/'valid' padding rule: the independent reference. */
function referenceConv2d(stride: number, pad: 'same' | 'valid'): { shape: number[]; values: Float32Array } {
  const [n, h, w, cin] = X_SHAPE;
  const [kh, kw, , cout] = W_SHAPE;
  const oh = pad === 'same' ? Math.ceil(h / stride) : Math.ceil((h - kh + 1) / stride);
  const ow = pad === 'same' ? Math.ceil(w / stride) : Math.ceil((w - kw + 1) / stride);
  const top = pad === 'same' ? Math.floor(Math.max((oh - 1) * stride + kh - h, 0) / 2) : 0;
  const left = pad === 'same' ? Math.floor(Math.max((ow - 1) * stride + kw - w, 0) / 2) : 0;
  const out = new Float32Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let o = 0; o < cout; o++) {
          let acc = 0;
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              const yy = y * stride + i - top;
              const xx = x * stride + j - left;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              for (let c = 0; c < cin; c++) {
                acc += X[((b * h + yy) * w + xx) * cin + c] * W[((i * kw + j) * cin + c) * cout + o];
              }
            }
          out[((b * oh + y) * ow + x) * cout + o] = acc;
        }
  return { shape: [n, oh, ow, cout], values: out };
}

const CASES: Array<[number, 'same' | 'valid']> = [
  [1, 'same'],
  [2, 'same'],
  [1, 'valid'],
  [2, 'valid'],
];

/** conv2d of X and W for every case on the active backend. */
function convAll(): Array<{ shape: number[]; values: Float32Array }> {
  return CASES.map(([stride, pad]) => {
    const y = tf.tidy(() => tf.conv2d(tf.tensor4d(X, X_SHAPE), tf.tensor4d(W, W_SHAPE), stride, pad));
    const result = { shape: y.shape, values: y.dataSync() as Float32Array };
    y.dispose();
    return result;
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('useBackend', () => {
  let cpuResults: Array<{ shape: number[]; values: Float32Array }> = [];

  it("useBackend('cpu') selects the bundled cpu backend and computes conv2d correctly", async () => {
    expect(await useBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(activeBackend()).toBe('cpu');
    const before = tf.memory().numTensors;
    cpuResults = convAll();
    expect(tf.memory().numTensors).toBe(before);
    CASES.forEach(([stride, pad], k) => {
      const ref = referenceConv2d(stride, pad);
      expect(cpuResults[k].shape).toEqual(ref.shape);
      expect(maxAbsDiff(cpuResults[k].values, ref.values)).toBeLessThan(1e-5);
    });
  });

  it("useBackend('wasm') works offline in Node and matches cpu within 1e-5", async () => {
    expect(await useBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(activeBackend()).toBe('wasm');
    expect(tf.findBackend('wasm')).not.toBeNull();
    const before = tf.memory().numTensors;
    const wasmResults = convAll();
    expect(tf.memory().numTensors).toBe(before);
    CASES.forEach((_, k) => {
      expect(wasmResults[k].shape).toEqual(cpuResults[k].shape);
      expect(maxAbsDiff(wasmResults[k].values, cpuResults[k].values)).toBeLessThan(1e-5);
    });
    // Selecting it again is a no-op, and ensureBackend keeps the user's choice.
    expect(await useBackend('wasm')).toBe('wasm');
    expect(await ensureBackend()).toBe('wasm');
  });

  it('wasm options are validated, and refused once wasm is initialised', async () => {
    await expect(useBackend('wasm', { threads: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(useBackend('wasm', { threads: 1.5 })).rejects.toThrow(/options\.threads/);
    await expect(useBackend('cpu', { threads: 2 })).rejects.toThrow(/options\.threads.*only with backend 'wasm'/);
    await expect(useBackend('cpu', { wasmPaths: '/x/' })).rejects.toThrow(/options\.wasmPaths/);
    await expect(useBackend('wasm', { wasmPaths: '' })).rejects.toThrow(InvalidArgumentError);
    await expect(useBackend('wasm', { wasmPaths: { 'tfjs-backend-wasm.wasm': '/a.wasm' } })).rejects.toThrow(
      /none for tfjs-backend-wasm-simd\.wasm, tfjs-backend-wasm-threaded-simd\.wasm/,
    );
    const late = useBackend('wasm', { wasmPaths: '/somewhere/else/' });
    await expect(late).rejects.toThrow(BackendError);
    await expect(useBackend('wasm', { threads: 2 })).rejects.toThrow(/already initialised/);
    expect(activeBackend()).toBe('wasm');
  });

  it('an unregistered backend is a BackendError naming the package to import', async () => {
    const expectations: Array<[string, RegExp[]]> = [
      ['tensorflow', [/@tensorflow\/tfjs-node-gpu/, /@tensorflow\/tfjs-node\b/, /import '@tensorflow\/tfjs-node-gpu'/]],
      ['webgl', [/import '@tensorflow\/tfjs-backend-webgl'/]],
      ['webgpu', [/import '@tensorflow\/tfjs-backend-webgpu'/]],
      ['my-accelerator', [/No tfjs backend named 'my-accelerator'/, /tf\.registerBackend\('my-accelerator'/]],
    ];
    for (const [name, patterns] of expectations) {
      const error = await useBackend(name).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BackendError);
      const message = (error as BackendError).message;
      for (const p of patterns) expect(message).toMatch(p);
      expect(message).toMatch(/registered: .*cpu/);
      expect(tf.engine().backendNames()).not.toContain(name);
    }
    // A failed selection leaves the active backend alone.
    expect(activeBackend()).toBe('wasm');
    await expect(useBackend('')).rejects.toThrow(InvalidArgumentError);
  });

  it('a backend injected by user code is selectable and computes through the shared engine', async () => {
    // Stand-in for `import '@tensorflow/tfjs-node'`: a new backend name with its own kernels.
    for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'injected' });
    tf.registerBackend('injected', () => new MathBackendCPU(), 3);
    expect(backendInfo().registered[0]).toBe('injected'); // highest priority first

    expect(await useBackend('injected')).toBe('injected');
    expect(activeBackend()).toBe('injected');
    expect(await ensureBackend()).toBe('injected');
    const injectedResults = convAll();
    CASES.forEach((_, k) => {
      expect(maxAbsDiff(injectedResults[k].values, cpuResults[k].values)).toBe(0);
    });
    const info = backendInfo();
    expect(info.active).toBe('injected');
    expect(info.engine).toBe(tf.engine());
    expect(info.initialized).toEqual(expect.arrayContaining(['cpu', 'wasm', 'injected']));
    expect(info.tfjsCoreVersion).toBe(tf.version_core);
  });

  it('switching back to cpu reuses the initialised backend', async () => {
    expect(await useBackend('cpu')).toBe('cpu');
    expect(activeBackend()).toBe('cpu');
    expect(backendInfo().active).toBe('cpu');
  });
});
