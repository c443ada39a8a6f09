/**
 * GFLOP/s of the convolution kernels CKAAD trains with, on 'cpu' and 'wasm', with
 * ckaad's fast kernels installed ("ours") and, where they exist, tfjs's own ("original").
 *
 *   npm run bench -- kernels
 *
 * Problems (NHWC):
 * - conv 3×3: x 8×32×32×128, 3×3, 128→128, stride 1, 'same' (Conv2D, its filter and input
 *   gradients);
 * - conv 3×3 s2: the same x and filter with stride 2 (the encoder's downsampling);
 * - convT 2×2 s2: tf.conv2dTranspose 8×16×16×256 → 8×32×32×128 (forward =
 *   Conv2DBackpropInput, filter gradient = Conv2DBackpropFilter, input gradient = Conv2D);
 * - matMul: x [8192, 128] · w [128, 128] and the transposed products of its gradients
 *   (the 1×1 convolutions and linear layers).
 *
 * Each figure is 2·MACs / the best of several timed runs after warm-up runs. An original
 * kernel is run in full only when a run is predicted to take under 30 s, predicted from a
 * small probe of the same kernel (tfjs-backend-cpu's Conv2DBackpropFilter takes minutes);
 * otherwise its row carries the probe's extrapolated figure and says it was skipped.
 */

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

import { isFastKernelInstalled, originalKernel, registerFastKernels } from '../src/backend/kernels/index.js';
import type { BenchFn, BenchRow } from './types.js';

/** Longest single run of an original kernel we are willing to wait for. */
const ORIGINAL_BUDGET_S = 30;

type Shape4 = [number, number, number, number];

interface KernelCall {
  kernel: 'Conv2D' | 'Conv2DBackpropFilter' | 'Conv2DBackpropInput' | 'BatchMatMul';
  inputs: Record<string, number[]>;
  attrs: tf.NamedAttrMap;
  flops: number;
}

interface Problem {
  name: string;
  /** The three kernels of one layer's forward and backward pass. */
  calls: (scale: number) => Record<string, KernelCall>;
}

/** x [n, h, w, cin] ⊛ w [k, k, cin, cout] with stride s, 'same': forward and both gradients. */
function convProblem(name: string, k: number, s: number): Problem {
  return {
    name,
    // scale < 1 shrinks batch and spatial size for the probes of slow original kernels.
    calls: (scale) => {
      const n = scale < 1 ? 1 : 8;
      const hw = scale < 1 ? 8 : 32;
      const [cin, cout] = [128, 128];
      const ho = Math.ceil(hw / s);
      const x: Shape4 = [n, hw, hw, cin];
      const dy: Shape4 = [n, ho, ho, cout];
      const filter: Shape4 = [k, k, cin, cout];
      const flops = 2 * n * ho * ho * k * k * cin * cout;
      const common = { strides: [s, s], pad: 'same', dataFormat: 'NHWC' };
      return {
        Conv2D: { kernel: 'Conv2D', inputs: { x, filter }, attrs: { ...common, dilations: [1, 1] }, flops },
        'filter grad': { kernel: 'Conv2DBackpropFilter', inputs: { x, dy }, attrs: { ...common, filterShape: filter }, flops },
        'input grad': { kernel: 'Conv2DBackpropInput', inputs: { dy, filter }, attrs: { ...common, inputShape: x }, flops },
      };
    },
  };
}

/** tf.conv2dTranspose x [n, h, w, 256] → [n, 2h, 2w, 128] with a 2×2 stride-2 filter [2, 2, 128, 256]. */
const transposedConv: Problem = {
  name: 'convT 2×2 s2 8×16×16×256→8×32×32×128',
  calls: (scale) => {
    const n = scale < 1 ? 1 : 8;
    const h = scale < 1 ? 4 : 16;
    const x: Shape4 = [n, h, h, 256]; // the layer's input, dy of Conv2DBackpropInput
    const out: Shape4 = [n, 2 * h, 2 * h, 128];
    const filter: Shape4 = [2, 2, 128, 256];
    const flops = 2 * n * h * h * 4 * 256 * 128;
    const common = { strides: [2, 2], pad: 'valid', dataFormat: 'NHWC' };
    return {
      'forward (Conv2DBackpropInput)': { kernel: 'Conv2DBackpropInput', inputs: { dy: x, filter }, attrs: { ...common, inputShape: out }, flops },
      'filter grad (Conv2DBackpropFilter)': { kernel: 'Conv2DBackpropFilter', inputs: { x: out, dy: x }, attrs: { ...common, filterShape: filter }, flops },
      'input grad (Conv2D)': { kernel: 'Conv2D', inputs: { x: out, filter }, attrs: { ...common, dilations: [1, 1] }, flops },
    };
  },
};

/**
 * The products of a 1×1 convolution (or linear layer) x [8192, 128] · w [128, 128] and of
 * its two gradients, which tfjs runs as BatchMatMul with a transpose flag.
 */
const pointwise: Problem = {
  name: 'matMul 8192×128 · 128×128',
  calls: (scale) => {
    const rows = scale < 1 ? 1024 : 8192;
    const flops = 2 * rows * 128 * 128;
    return {
      forward: { kernel: 'BatchMatMul', inputs: { a: [rows, 128], b: [128, 128] }, attrs: { transposeA: false, transposeB: false }, flops },
      'input grad (transposeB)': { kernel: 'BatchMatMul', inputs: { a: [rows, 128], b: [128, 128] }, attrs: { transposeA: false, transposeB: true }, flops },
      'weight grad (transposeA)': { kernel: 'BatchMatMul', inputs: { a: [rows, 128], b: [rows, 128] }, attrs: { transposeA: true, transposeB: false }, flops },
    };
  },
};

const PROBLEMS: Problem[] = [
  convProblem('conv 3×3 s1 8×32×32×128, 128→128', 3, 1),
  convProblem('conv 3×3 s2 8×32×32×128, 128→128', 3, 2),
  transposedConv,
  pointwise,
];

type Runner = (inputs: tf.NamedTensorMap) => tf.Tensor;

/** Runs `call` with the registered kernel, or with the replaced original when `original`. */
function runner(call: KernelCall, backendName: string, original: boolean): Runner | null {
  if (!original) return (inputs) => tf.engine().runKernel(call.kernel, inputs, call.attrs) as tf.Tensor;
  const config = originalKernel(call.kernel, backendName);
  if (config === undefined) return null;
  return (inputs) => {
    const out = config.kernelFunc({ inputs, backend: tf.backend(), attrs: call.attrs });
    return tf.engine().makeTensorFromTensorInfo(Array.isArray(out) ? out[0] : out);
  };
}

/** Seconds of each of `reps` runs of `run` on fresh random inputs of `call`, after `warmup` runs. */
function timeRuns(call: KernelCall, run: Runner, warmup: number, reps: number): number[] {
  const inputs: tf.NamedTensorMap = {};
  for (const [name, shape] of Object.entries(call.inputs)) inputs[name] = tf.randomUniform(shape, -1, 1);
  const once = (): number => {
    const start = performance.now();
    const out = run(inputs);
    out.dataSync();
    const seconds = (performance.now() - start) / 1000;
    out.dispose();
    return seconds;
  };
  for (let i = 0; i < warmup; i++) once();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(once());
  tf.dispose(Object.values(inputs));
  return times;
}

function row(problem: Problem, op: string, backendName: string, which: string, flops: number, seconds: number, note: string): BenchRow {
  return {
    group: 'kernels',
    name: `${problem.name}: ${op}, ${which}`,
    value: flops / seconds / 1e9,
    unit: 'GFLOP/s',
    note: `${backendName}; ${note}`,
  };
}

async function benchBackend(backendName: 'cpu' | 'wasm', warmup: number, reps: number): Promise<BenchRow[]> {
  await tf.setBackend(backendName);
  const rows: BenchRow[] = [];
  for (const problem of PROBLEMS) {
    const calls = problem.calls(1);
    const probes = problem.calls(0);
    for (const [op, call] of Object.entries(calls)) {
      const ours = timeRuns(call, runner(call, backendName, false) as Runner, warmup, reps);
      const best = Math.min(...ours);
      const label = !isFastKernelInstalled(call.kernel, backendName)
        ? 'tfjs (not replaced)'
        : originalKernel(call.kernel, backendName) === undefined
          ? 'ours (tfjs has none)'
          : 'ours';
      rows.push(row(problem, op, backendName, label, call.flops, best, `best of ${reps}: ${(best * 1000).toFixed(0)} ms`));
      process.stderr.write(`  ${backendName} ${problem.name} ${op} ${label}: ${(best * 1000).toFixed(0)} ms\n`);
      const original = runner(call, backendName, true);
      if (original === null) continue;
      const probe = probes[op];
      const [probeSeconds] = timeRuns(probe, runner(probe, backendName, true) as Runner, 0, 1);
      const predicted = (probeSeconds * call.flops) / probe.flops;
      if (predicted > ORIGINAL_BUDGET_S) {
        rows.push(
          row(problem, op, backendName, 'original', probe.flops, probeSeconds,
            `SKIPPED full run (predicted ${predicted.toFixed(0)} s > ${ORIGINAL_BUDGET_S} s); figure from a ${(call.flops / probe.flops).toFixed(0)}× smaller probe`),
        );
      } else {
        const origReps = predicted > 5 ? 1 : reps;
        const times = timeRuns(call, original, predicted > 5 ? 0 : warmup, origReps);
        const bestOrig = Math.min(...times);
        rows.push(row(problem, op, backendName, 'original', call.flops, bestOrig, `best of ${origReps}: ${(bestOrig * 1000).toFixed(0)} ms`));
      }
      process.stderr.write(`  ${backendName} ${problem.name} ${op} original: ${rows[rows.length - 1].note}\n`);
    }
  }
  return rows;
}

/** Benchmark module of `npm run bench`: see the module comment. */
export const run: BenchFn = async () => {
  registerFastKernels();
  // wasm: a few warm-up runs (the JavaScript gathers need to be optimised by V8 first).
  const rows = await benchBackend('wasm', 3, 5);
  rows.push(...(await benchBackend('cpu', 1, 3)));
  return rows;
};
