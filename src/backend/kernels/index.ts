/**
 * Fast convolution kernels (and their gradients) for tfjs's 'cpu' and 'wasm' backends.
 *
 * @packageDocumentation
 */

export { isFastKernelInstalled, originalKernel } from './originals.js';
export { fastKernelNames, fastKernelsFor, registerFastKernels, restoreOriginalKernels } from './register.js';
