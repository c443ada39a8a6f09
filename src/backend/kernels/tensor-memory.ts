/**
 * Direct float32 access to the memory of the cpu and wasm backends, and calls into other
 * kernels of the same backend, the way backends compose kernels internally.
 *
 * - cpu (MathBackendCPU): a tensor's values are a Float32Array owned by the backend;
 *   `readSync` returns it without copying and `makeTensorInfo` adopts a given array.
 * - wasm (BackendWasm): values live in the wasm heap; `typedArrayFromHeap` returns a view
 *   and `makeOutput` allocates. A heap view is invalidated whenever the heap grows, i.e.
 *   by any allocation (including inside another kernel): take views only after the
 *   allocations of a step, and take them again after every kernel call.
 *
 * Tensors made here are not tracked by the engine: every one must be released with
 * {@link TensorMemory.release} unless it is the kernel's returned output.
 */

import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

import { BackendError, InvalidArgumentError } from '../../errors.js';

/** The two backends ckaad ships fast kernels for. */
export type FastBackendName = 'cpu' | 'wasm';

/** Float32 memory of one backend instance. */
export interface TensorMemory {
  /** Name of the backend, for kernel look-ups and messages. */
  readonly backendName: FastBackendName;
  /** The backend instance itself, to pass on to other kernels. */
  readonly backend: object;
  /** Float32 values of `info` (no copy; wasm: valid until the next allocation). */
  view(info: TensorInfo): Float32Array;
  /** Allocates a float32 tensor of `shape`, filled with zeros when `zero` is set. */
  alloc(shape: number[], zero: boolean): TensorInfo;
  /** Releases a tensor this kernel allocated or received from another kernel. */
  release(info: TensorInfo): void;
}

interface CpuLikeBackend {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface WasmLikeBackend {
  typedArrayFromHeap(info: TensorInfo): unknown;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

function hasMethods(backend: object, names: readonly string[]): boolean {
  const record = backend as Record<string, unknown>;
  return names.every((name) => typeof record[name] === 'function');
}

function isCpuLike(backend: object): backend is CpuLikeBackend {
  return hasMethods(backend, ['readSync', 'makeTensorInfo', 'disposeData']);
}

function isWasmLike(backend: object): backend is WasmLikeBackend {
  return hasMethods(backend, ['typedArrayFromHeap', 'makeOutput', 'disposeData']);
}

function asFloat32(values: unknown, backendName: string): Float32Array {
  if (values instanceof Float32Array) return values;
  throw new BackendError(`The ${backendName} backend returned non-float32 storage for a float32 tensor.`);
}

/** True when `backend` offers what {@link tensorMemory} needs for `backendName`. */
export function supportsDirectMemory(backend: unknown, backendName: FastBackendName): boolean {
  if (typeof backend !== 'object' || backend === null) return false;
  return backendName === 'wasm' ? isWasmLike(backend) : isCpuLike(backend);
}

/**
 * Float32 memory access for `backend`, which must be the `backendName` backend.
 *
 * @throws BackendError if the instance lacks the expected methods (e.g. a custom
 *   backend registered under the same name).
 */
export function tensorMemory(backend: unknown, backendName: FastBackendName): TensorMemory {
  if (typeof backend !== 'object' || backend === null || !supportsDirectMemory(backend, backendName)) {
    throw new BackendError(
      `The '${backendName}' backend instance does not expose the memory API of ` +
        `@tensorflow/tfjs-backend-${backendName}; ckaad's fast convolution kernels cannot run on it.`,
    );
  }
  if (backendName === 'wasm') {
    const wasm = backend as WasmLikeBackend;
    return {
      backendName,
      backend: wasm,
      view: (info) => asFloat32(wasm.typedArrayFromHeap(info), backendName),
      alloc: (shape, zero) => {
        const info = wasm.makeOutput(shape, 'float32');
        if (zero) asFloat32(wasm.typedArrayFromHeap(info), backendName).fill(0);
        return info;
      },
      release: (info) => {
        wasm.disposeData(info.dataId);
      },
    };
  }
  const cpu = backend as CpuLikeBackend;
  return {
    backendName,
    backend: cpu,
    view: (info) => asFloat32(cpu.readSync(info.dataId), backendName),
    alloc: (shape, _zero) => cpu.makeTensorInfo(shape, 'float32', new Float32Array(tf.util.sizeFromShape(shape))),
    release: (info) => {
      cpu.disposeData(info.dataId);
    },
  };
}

/** Throws InvalidArgumentError unless `info` is a float32 tensor. */
export function expectFloat32(argument: string, info: TensorInfo): void {
  if (info.dtype !== 'float32') {
    throw new InvalidArgumentError(argument, 'a float32 tensor', `dtype ${info.dtype}`);
  }
}

/**
 * A view of `info` with another shape of the same size, sharing its data: pass it as an
 * input to another kernel; do not release it separately.
 */
export function withShape(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/**
 * Runs kernel `kernelName` of the memory's backend directly (no engine bookkeeping) and
 * returns its single output, which the caller must release.
 *
 * @throws BackendError if the backend has no such kernel.
 */
export function runKernel(
  memory: TensorMemory,
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap,
): TensorInfo {
  const config = tf.getKernel(kernelName, memory.backendName);
  if (config === undefined) {
    throw new BackendError(`Kernel '${kernelName}' is not registered for backend '${memory.backendName}'.`);
  }
  const out = config.kernelFunc({ inputs, backend: memory.backend, attrs });
  return Array.isArray(out) ? out[0] : out;
}

/** out = a · b for 2-D float32 tensors, through the backend's BatchMatMul (XNNPACK on wasm). */
export function matMul(memory: TensorMemory, a: TensorInfo, b: TensorInfo): TensorInfo {
  const out = runKernel(memory, 'BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  return withShape(out, [a.shape[0], b.shape[1]]);
}
