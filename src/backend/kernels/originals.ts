/**
 * Bookkeeping of replaced kernels. An installed fast config carries the config it replaced
 * (or null when the backend had none) under a `Symbol.for` key, so every copy of ckaad in
 * the process (ESM and CommonJS builds share one tfjs engine) sees the same state.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';

import { BackendError } from '../../errors.js';

/** Key under which an installed config keeps the config it replaced. */
export const ORIGINAL = Symbol.for('ckaad.backend.kernels.original');

/** A fast kernel config as registered: with its original attached. */
export interface InstalledConfig extends KernelConfig {
  [ORIGINAL]: KernelConfig | null;
}

/** `config` as an installed fast config, or undefined if it is not one of ours. */
export function asInstalled(config: KernelConfig | undefined): InstalledConfig | undefined {
  return config !== undefined && ORIGINAL in config ? (config as InstalledConfig) : undefined;
}

/**
 * The kernel that registerFastKernels replaced for `kernelName` on `backendName`, or
 * undefined when none was replaced (not installed, or the backend had no such kernel,
 * like wasm's Conv2DBackpropFilter). Its kernelFunc can be called with
 * `{inputs, backend: tf.backend(), attrs}` to compare against.
 */
export function originalKernel(kernelName: string, backendName: string): KernelConfig | undefined {
  return asInstalled(tf.getKernel(kernelName, backendName))?.[ORIGINAL] ?? undefined;
}

/** True when ckaad's fast kernel is the one registered for `kernelName` on `backendName`. */
export function isFastKernelInstalled(kernelName: string, backendName: string): boolean {
  return asInstalled(tf.getKernel(kernelName, backendName)) !== undefined;
}

/**
 * Runs the original `kernelName` kernel of `backendName` on `args`: for the inputs a fast
 * kernel leaves to tfjs (dilated convolutions, int32 products, unusual broadcasts, backend
 * instances without the expected memory API).
 *
 * @throws BackendError (naming `why`) when there is no original kernel to run.
 */
export function runOriginalKernel(
  kernelName: string,
  backendName: string,
  args: Parameters<KernelFunc>[0],
  why: string,
): ReturnType<KernelFunc> {
  const original = originalKernel(kernelName, backendName);
  if (original === undefined) {
    throw new BackendError(`${kernelName} on '${backendName}' ${why}, which needs tfjs's own kernel, and there is none.`);
  }
  return original.kernelFunc(args);
}
