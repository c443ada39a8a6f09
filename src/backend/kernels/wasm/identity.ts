/**
 * Identity and same-dtype Cast for the 'wasm' backend, sharing the input's memory instead
 * of copying it (as tfjs-backend-cpu and the wasm backend's own Reshape already do).
 *
 * Why it matters for training: tfjs-core saves every tensor a gradient needs by running
 * Identity on it (`engine.clone`), and backpropagates through those clones with a Cast.
 * tfjs-backend-wasm implements both as full copies, so one training step duplicated every
 * activation on the tape — ~1.1 GB of copies for 4 + 4 images of a CKAPatch step at
 * 256×256 — and ran out of the 4 GB wasm heap at the paper's batch of 16 + 16. Sharing is
 * safe because no wasm kernel writes into its inputs: a shared buffer is freed when the
 * last tensor holding it is disposed (the backend counts references per buffer).
 */

import { Cast, Identity } from '@tensorflow/tfjs-core';
import type { CastAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { InvalidArgumentError } from '../../../errors.js';
import { runOriginalKernel } from '../originals.js';

/** The part of BackendWasm used here. */
interface RefCountingBackend {
  incRef(dataId: object): void;
}

function isRefCounting(backend: unknown): backend is RefCountingBackend {
  return typeof backend === 'object' && backend !== null && typeof (backend as Record<string, unknown>)['incRef'] === 'function';
}

/** A new reference to `x`'s buffer with the same shape and dtype. */
function share(backend: RefCountingBackend, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

const identityKernelFunc: KernelFunc = (args) => {
  const { inputs, backend } = args;
  const x = inputs['x'];
  if (x === undefined) throw new InvalidArgumentError('inputs.x', 'a tensor');
  if (x.dtype === 'string' || !isRefCounting(backend)) {
    return runOriginalKernel(Identity, 'wasm', args, 'got a string tensor or a backend without reference counting');
  }
  return share(backend, x);
};

const castKernelFunc: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const x = inputs['x'];
  if (x === undefined) throw new InvalidArgumentError('inputs.x', 'a tensor');
  const { dtype } = (attrs ?? {}) as unknown as CastAttrs;
  if (dtype !== x.dtype || x.dtype === 'string' || !isRefCounting(backend)) {
    return runOriginalKernel(Cast, 'wasm', args, 'is a conversion between dtypes');
  }
  return share(backend, x);
};

/** Identity for 'wasm': a new reference to the input's buffer. */
export const identityWasmConfig: KernelConfig = {
  kernelName: Identity,
  backendName: 'wasm',
  kernelFunc: identityKernelFunc,
};

/** Cast for 'wasm': a new reference when the dtype does not change; tfjs's kernel otherwise. */
export const castWasmConfig: KernelConfig = {
  kernelName: Cast,
  backendName: 'wasm',
  kernelFunc: castKernelFunc,
};
