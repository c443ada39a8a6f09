/**
 * Installing ckaad's fast convolution kernels into the (global) tfjs kernel registry,
 * keeping the kernels they replace (see originals.ts): installing twice is a no-op and
 * the originals stay reachable for comparisons and fallbacks.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';

import { batchMatMulCpuConfig } from './cpu/batch-mat-mul.js';
import { conv2DBackpropFilterCpuConfig } from './cpu/conv2d-backprop-filter.js';
import { conv2DBackpropInputCpuConfig } from './cpu/conv2d-backprop-input.js';
import { conv2DCpuConfig } from './cpu/conv2d.js';
import { asInstalled, ORIGINAL } from './originals.js';
import type { InstalledConfig } from './originals.js';
import type { FastBackendName } from './tensor-memory.js';
import { batchMatMulWasmConfig } from './wasm/batch-mat-mul.js';
import { conv2DBackpropFilterWasmConfig } from './wasm/conv2d-backprop-filter.js';
import { conv2DBackpropInputWasmConfig } from './wasm/conv2d-backprop-input.js';
import { gatherV2WasmConfig, sliceWasmConfig } from './wasm/copy.js';
import { castWasmConfig, identityWasmConfig } from './wasm/identity.js';
import { meanWasmConfig, sumWasmConfig } from './wasm/reduce.js';

const FAST_CONFIGS: Readonly<Record<FastBackendName, readonly KernelConfig[]>> = {
  cpu: [conv2DBackpropFilterCpuConfig, conv2DBackpropInputCpuConfig, conv2DCpuConfig, batchMatMulCpuConfig],
  wasm: [
    conv2DBackpropFilterWasmConfig,
    conv2DBackpropInputWasmConfig,
    batchMatMulWasmConfig,
    // Found by profiling a CKAPatch training step (see each file).
    identityWasmConfig,
    castWasmConfig,
    sumWasmConfig,
    meanWasmConfig,
    sliceWasmConfig,
    gatherV2WasmConfig,
  ],
};

/**
 * Names of the kernels {@link registerFastKernels} installs on at least one backend:
 * Conv2DBackpropFilter, Conv2DBackpropInput and BatchMatMul (cpu and wasm), Conv2D (cpu
 * only; wasm's XNNPACK convolution is kept), and on wasm the memory-bound kernels a training
 * step spends time in: Identity and Cast (shared buffers instead of copies), Sum and Mean
 * over non-innermost axes, contiguous Slice and GatherV2 along axis 0. See
 * {@link fastKernelsFor} for one backend.
 */
export const fastKernelNames: readonly string[] = Object.freeze([
  ...new Set(Object.values(FAST_CONFIGS).flatMap((configs) => configs.map((c) => c.kernelName))),
]);

/** Names of the kernels {@link registerFastKernels} installs on `backendName` ('cpu' or 'wasm'; others: none). */
export function fastKernelsFor(backendName: string): readonly string[] {
  const configs = (FAST_CONFIGS as Readonly<Record<string, readonly KernelConfig[] | undefined>>)[backendName] ?? [];
  return configs.map((c) => c.kernelName);
}

function isRegisteredBackend(name: string): boolean {
  return tf.engine().backendNames().includes(name);
}

/**
 * Replaces tfjs's convolution kernels of the 'cpu' and 'wasm' backends (whichever are
 * registered with the engine now) by ckaad's fast ones (see {@link fastKernelsFor}): a
 * packed JavaScript GEMM on cpu (~4× the cpu backend's loops, ~100–300× its filter
 * gradient) and XNNPACK matrix products on wasm (which has no filter gradient at all).
 * tf.conv2d, tf.conv2dTranspose and their gradients then use them.
 *
 * Idempotent: kernels already installed are left alone, without warnings; call it
 * again after registering another backend to cover that one too. The replaced kernels
 * stay available through `originalKernel`; {@link restoreOriginalKernels} undoes
 * the installation.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * await tf.setBackend('wasm');
 * registerFastKernels();
 * const x = tf.randomNormal<tf.Rank.R4>([8, 32, 32, 128]);
 * const w = tf.randomNormal<tf.Rank.R4>([3, 3, 128, 128]);
 * // dW through ckaad's Conv2DBackpropFilter (XNNPACK; tfjs-backend-wasm has none).
 * const dw = tf.grad((v: tf.Tensor4D) => tf.sum(tf.conv2d(x, v, 1, 'same')))(w);
 * ```
 */
export function registerFastKernels(): void {
  for (const backendName of Object.keys(FAST_CONFIGS) as FastBackendName[]) {
    if (!isRegisteredBackend(backendName)) continue;
    for (const fast of FAST_CONFIGS[backendName]) {
      const current = tf.getKernel(fast.kernelName, backendName);
      if (asInstalled(current) !== undefined) continue;
      if (current !== undefined) tf.unregisterKernel(fast.kernelName, backendName);
      const installed: InstalledConfig = {
        ...fast,
        // The engine runs setup/dispose of registered kernels only: keep the original's
        // (it still initialises the backend state its kernelFunc needs).
        setupFunc: current?.setupFunc,
        disposeFunc: current?.disposeFunc,
        [ORIGINAL]: current ?? null,
      };
      tf.registerKernel(installed);
    }
  }
}

/**
 * Undoes {@link registerFastKernels}: re-registers the original kernels (and removes
 * the fast ones that had no original) on every backend.
 */
export function restoreOriginalKernels(): void {
  for (const backendName of Object.keys(FAST_CONFIGS) as FastBackendName[]) {
    for (const kernelName of fastKernelsFor(backendName)) {
      const installed = asInstalled(tf.getKernel(kernelName, backendName));
      if (installed === undefined) continue;
      tf.unregisterKernel(kernelName, backendName);
      if (installed[ORIGINAL] !== null) tf.registerKernel(installed[ORIGINAL]);
    }
  }
}
