/**
 * Training and scoring speed of CKAAD (issues 4 and 12), ckaad and the authors' PyTorch code
 * measured in the same run:
 *
 *   npm run bench -- training          # after `npm run build` (npm run bench builds first)
 *   CKAAD_BENCH_QUICK=1 npm run bench -- training   # only the rows of issue 12 (skips cpu, tfjs-node, wide_resnet50_2, the industrial epoch)
 *   node --import tsx bench/check-rows.ts           # checks bench/results/latest.json has every row of issue 12
 *
 * The PyTorch side is bench/pytorch-reference.py (the authors' models imported from their
 * repository): `CKAAD_PYTHON` (default /usr/bin/python3) and `CKAAD_PYTORCH_REF` (default
 * ref/CKAAD next to this repository's folder).
 *
 * - CKAPatch training step, resnet18 {layer2, layer3}, 256×256, 16 normal + 16 anomalous
 *   images (the features of all 32 are computed in the step, as in the authors' code), on
 *   wasm with 1 thread and with every core (`threads`): seconds per step, images/s, achieved
 *   GFLOP/s (the step's FLOPs — every Conv2D, FusedConv2D, Conv2DBackpropInput/Filter and
 *   BatchMatMul at the outermost kernel level, counted during the second step — over its
 *   time), peak RSS of the measuring process; PyTorch's step with 1 and 2 threads. On 'cpu'
 *   one 2 + 2 step is measured and multiplied by 8 (time and FLOPs are linear in the
 *   batch), and with tfjs's own cpu kernels (restoreOriginalKernels) one 1 + 1 step at 64×64
 *   is extrapolated by its FLOPs — a lower bound, as tfjs's Conv2DBackpropFilter slows down
 *   much faster than its FLOPs grow (anything larger takes hours); 'tensorflow' when
 *   @tensorflow/tfjs-node is installed.
 * - Scoring throughput: Scorer over 2 batches of 16 images at 256×256 after a warm-up batch
 *   (1 thread and every core); PyTorch's evaluation of the same batches with 1 and 2 threads.
 * - The forward 3×3 convolution rate of the backend (x 8×32×32×128, 128→128), the reference
 *   of the "60 % of forward-conv GFLOP/s" target.
 * - wide_resnet50_2 {layer1, layer2, layer3}: the same 16 + 16 step on wasm, in 16 micro-batches
 *   of 1 + 1 images (option `microBatches`; the whole batch's activations would need ~25 GB,
 *   far more than the 4 GB a wasm heap can hold), on 1 thread and on every core.
 * - End-to-end epochs with the feature cache and a feature worker, every core: 64 normal +
 *   16 real anomalies (medical setting: everything cached after epoch 1) and 64 normal +
 *   elastic anomalies (industrial setting: anomalies computed afresh in the worker), 2
 *   epochs; PyTorch's epoch loop (main.py's) over the same counts with 2 threads.
 *
 * Every case runs in its own process (so peak RSS is the case's own), ckaad importing the
 * built package: training needs tfjs-core's gradient functions, which only the bundle loads.
 * Random backbone weights and random pixels: speed does not depend on the values. The
 * 1-minute load average is noted with each case: on a shared machine, compare rows of one run.
 */

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as tf from '@tensorflow/tfjs-core';

import type { BenchFn, BenchRow } from './types.js';

const exec = promisify(execFile);

const SIZE = 256;
const QUICK = process.env['CKAAD_BENCH_QUICK'] === '1';

// -----------------------------------------------------------------------------------------
// cases (each runs in a child process)

interface StepCase {
  kind: 'step';
  backend: 'wasm' | 'cpu' | 'tensorflow';
  arch: 'resnet18' | 'wide_resnet50_2';
  layers: string[];
  /** Normal images per step (= anomalous images per step). */
  batch: number;
  size: number;
  /**
   * Timed steps. Step 1 warms up; step 2 counts FLOPs (its kernels wrapped); the timed steps
   * follow — or start with step 2 when `timeCounted` (for slow backends, where the wrapping's
   * cost is negligible).
   */
  steps: number;
  timeCounted: boolean;
  /** 'tfjs': tfjs's own kernels (restoreOriginalKernels). */
  kernels: 'ckaad' | 'tfjs';
  scoring: boolean;
  /** The trainer's `microBatches` (1: the whole batch at once). */
  microBatches: number;
  /** wasm: XNNPACK threads (useBackend's `threads`; 1 is tfjs's single-threaded build). */
  threads: number;
}

interface EpochCase {
  kind: 'epoch';
  setting: 'medical' | 'industrial';
  normal: number;
  anomalies: number;
  epochs: number;
  worker: boolean;
  /** XNNPACK threads of the main thread's wasm backend. */
  threads: number;
}

type Case = StepCase | EpochCase;

interface StepResult {
  backend: string;
  /** XNNPACK threads the wasm backend ran with (null on other backends). */
  threads: number | null;
  flopsPerStep: number;
  stepSeconds: number[];
  /**
   * CPU seconds of the main thread and of all other threads (XNNPACK's pool, V8's helpers) in
   * each timed step, from /proc/self/task (empty elsewhere). With the machine to itself a
   * step's wall time is about its main thread's CPU time: under load, that is the figure
   * other processes distort least.
   */
  mainCpuSeconds: number[];
  otherCpuSeconds: number[];
  scoringImagesPerSecond: number | null;
  convForwardGflops: number;
  maxRssMiB: number;
}

interface EpochResult {
  epochSeconds: number[];
  steps: number;
  worker: string | null;
  computed: { normal: number; anomalies: number };
  cached: { normal: number; anomalies: number };
  maxRssMiB: number;
}

/** 2·MACs of a kernel call (0 for kernels that are not products). */
function flopsOf(kernel: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap, out: tf.TensorInfo): number {
  const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  switch (kernel) {
    case 'Conv2D':
    case 'FusedConv2D': {
      const f = (inputs['filter'] as tf.TensorInfo).shape;
      return 2 * size(out.shape) * f[0] * f[1] * f[2];
    }
    case 'Conv2DBackpropInput': {
      const f = (inputs['filter'] as tf.TensorInfo).shape;
      return 2 * size((inputs['dy'] as tf.TensorInfo).shape) * f[0] * f[1] * f[2];
    }
    case 'Conv2DBackpropFilter': {
      const f = attrs['filterShape'] as number[];
      return 2 * size((inputs['dy'] as tf.TensorInfo).shape) * f[0] * f[1] * f[2];
    }
    case 'BatchMatMul':
    case '_FusedMatMul': {
      const a = (inputs['a'] as tf.TensorInfo).shape;
      const k = attrs['transposeA'] === true ? a[a.length - 2] : a[a.length - 1];
      return 2 * size(out.shape) * k;
    }
    default:
      return 0;
  }
}

/**
 * Wraps every kernel of `backend` to add the FLOPs of outermost kernel calls to the returned
 * counter (kernels that call kernels count once); call the returned `restore` to unwrap.
 */
function countFlops(backend: string): { counter: { flops: number }; restore: () => void } {
  const counter = { flops: 0 };
  let depth = 0;
  const originals = tf.getKernelsForBackend(backend);
  for (const config of originals) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backend);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        depth += 1;
        try {
          const out = inner(args);
          if (depth === 1) counter.flops += flopsOf(config.kernelName, args.inputs, args.attrs ?? {}, Array.isArray(out) ? out[0] : out);
          return out;
        } finally {
          depth -= 1;
        }
      },
    });
  }
  const restore = () => {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel(config);
    }
  };
  return { counter, restore };
}

/** Random 8-bit RGB images [count, size, size, 3]. */
function randomPixels(count: number, size: number, seed: number): { images: Uint8Array; count: number; size: number } {
  const images = new Uint8Array(count * size * size * 3);
  let s = seed >>> 0;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    images[i] = s >>> 24;
  }
  return { images, count, size };
}

/**
 * CPU seconds so far of this process's main thread and of its other threads, read from
 * /proc/self/task/<tid>/stat (utime + stime); null where there is no /proc. Threads that
 * exited are not counted (XNNPACK's live as long as the process).
 */
function threadCpuSeconds(): { main: number; other: number } | null {
  if (!existsSync('/proc/self/task')) return null;
  const tick = 100; // USER_HZ, 100 on Linux
  let main = 0;
  let other = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / tick;
    if (Number(tid) === process.pid) main += seconds;
    else other += seconds;
  }
  return { main, other };
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function stepCase(c: StepCase): Promise<StepResult> {
  const ckaad = await import('ckaad');
  if (c.backend === 'tensorflow') {
    const nodeBackend = '@tensorflow/tfjs-node';
    await import(nodeBackend);
  }
  await ckaad.useBackend(c.backend, c.backend === 'wasm' ? { threads: c.threads } : {});
  if (c.kernels === 'tfjs') (await import('../src/backend/kernels/index.js')).restoreOriginalKernels();
  const backend = tf.getBackend();
  const threads = c.backend === 'wasm' ? (ckaad.wasmThreadsStatus()?.threads ?? 1) : null;

  // The backend's forward 3×3 convolution rate.
  const x = tf.randomUniform([8, 32, 32, 128], -1, 1) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, 128, 128], -1, 1) as tf.Tensor4D;
  const conv = () => {
    const y = tf.conv2d(x, w, 1, 'same');
    y.dataSync();
    y.dispose();
  };
  conv();
  const convStart = performance.now();
  const convReps = c.backend === 'cpu' ? 1 : 5;
  for (let i = 0; i < convReps; i++) conv();
  const convForwardGflops = (convReps * 2 * 8 * 32 * 32 * 9 * 128 * 128) / ((performance.now() - convStart) / 1000) / 1e9;
  tf.dispose([x, w]);

  const extractorOptions = { arch: c.arch, layers: c.layers as ('layer1' | 'layer2' | 'layer3')[], weights: 'random' as const, seed: 0 };
  const extractor = await ckaad.createResNetExtractor(extractorOptions);
  const totalSteps = 1 + (c.timeCounted ? c.steps : c.steps + 1);
  const normal = ckaad.pixelDataset(randomPixels(c.batch * totalSteps, c.size, 1));
  const anomalies = ckaad.pixelDataset(randomPixels(c.batch, c.size, 2));
  const trainer = new ckaad.CKAADTrainer(
    { extractor },
    { strategy: ckaad.CKAPatch, epochs: 1, batchSize: c.batch, worker: false, featureCache: false, microBatches: c.microBatches },
  );
  let counting: ReturnType<typeof countFlops> | null = null;
  let flopsPerStep = 0;
  const stepSeconds: number[] = [];
  const mainCpuSeconds: number[] = [];
  const otherCpuSeconds: number[] = [];
  let lastCpu = threadCpuSeconds();
  let last = performance.now();
  const result = await trainer.fit(
    { normal, anomalies },
    {
      onStep: (log) => {
        const seconds = (performance.now() - last) / 1000;
        if (log.step === 2 && counting !== null) {
          flopsPerStep = counting.counter.flops;
          counting.restore();
        }
        const cpu = threadCpuSeconds();
        if (log.step >= (c.timeCounted ? 2 : 3)) {
          stepSeconds.push(seconds);
          if (cpu !== null && lastCpu !== null) {
            mainCpuSeconds.push(cpu.main - lastCpu.main);
            otherCpuSeconds.push(cpu.other - lastCpu.other);
          }
        }
        if (log.step === 1) counting = countFlops(backend);
        lastCpu = threadCpuSeconds();
        last = performance.now();
      },
    },
  );

  let scoringImagesPerSecond: number | null = null;
  if (c.scoring) {
    const scorer = new ckaad.Scorer({ extractor, autoencoder: result.autoencoder, keepMaps: false });
    const batchOf = (seed: number) => {
      const images = ckaad.pixelDataset(randomPixels(16, c.size, seed));
      return images.batch(Array.from({ length: 16 }, (_, i) => i));
    };
    const warm = batchOf(3);
    scorer.scoreBatch(warm);
    warm.dispose();
    const batches = [batchOf(4), batchOf(5)];
    const start = performance.now();
    await scorer.score(batches);
    scoringImagesPerSecond = 32 / ((performance.now() - start) / 1000);
    tf.dispose(batches);
  }
  result.autoencoder.dispose();
  extractor.dispose();
  return { backend, threads, flopsPerStep, stepSeconds, mainCpuSeconds, otherCpuSeconds, scoringImagesPerSecond, convForwardGflops, maxRssMiB: maxRssMiB() };
}

async function epochCase(c: EpochCase): Promise<EpochResult> {
  const ckaad = await import('ckaad');
  await ckaad.useBackend('wasm', { threads: c.threads });
  const extractorOptions = { arch: 'resnet18' as const, layers: ['layer2' as const, 'layer3' as const], weights: 'random' as const, seed: 0 };
  const extractor = await ckaad.createResNetExtractor(extractorOptions);
  const normalStack = randomPixels(c.normal, SIZE, 1);
  // pixelDataset / elasticDataset carry the recipes the worker rebuilds them from.
  const normal = ckaad.pixelDataset(normalStack);
  const anomalies = c.setting === 'medical' ? ckaad.pixelDataset(randomPixels(c.anomalies, SIZE, 2)) : ckaad.elasticDataset(normalStack, { seed: 0 });
  const trainer = new ckaad.CKAADTrainer(
    { extractor, extractorOptions },
    { strategy: ckaad.CKAPatch, epochs: c.epochs, batchSize: 16, worker: c.worker },
  );
  const result = await trainer.fit({ normal, anomalies });
  result.autoencoder.dispose();
  extractor.dispose();
  const stats = result.features;
  return {
    epochSeconds: result.history.map((h) => h.seconds),
    steps: result.steps,
    worker: stats?.worker ?? null,
    computed: stats?.computed ?? { normal: 0, anomalies: 0 },
    cached: stats?.cached ?? { normal: 0, anomalies: 0 },
    maxRssMiB: maxRssMiB(),
  };
}

/** Runs `c` in a fresh Node process; null (with a note) when it fails, e.g. a backend that is not installed. */
async function inChild<T>(c: Case): Promise<{ result: T | null; error: string | null }> {
  const file = fileURLToPath(import.meta.url);
  try {
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', file, '--child', JSON.stringify(c)], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60 * 60 * 1000,
    });
    return { result: JSON.parse(stdout.trim().split('\n').pop() ?? '') as T, error: null };
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const lines = (e.stderr ?? e.message).trim().split('\n');
    const message = lines.find((l) => /Error|Cannot find/.test(l)) ?? lines[lines.length - 1];
    return { result: null, error: message.slice(0, 160) };
  }
}

// -----------------------------------------------------------------------------------------
// the table

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function stepRows(label: string, c: StepCase, r: StepResult, factor: number, note: string): BenchRow[] {
  const seconds = mean(r.stepSeconds) * factor;
  const flops = r.flopsPerStep * factor;
  const images = 2 * c.batch * factor;
  const extra = `${note}${note ? '; ' : ''}load ${loadavg()[0].toFixed(1)}`;
  const rows: BenchRow[] = [
    { group: 'training', name: `${label}: ms per step`, value: seconds * 1000, unit: 'ms', note: `${r.backend}; ${extra}` },
    { group: 'training', name: `${label}: images/s`, value: images / seconds, unit: 'images/s', note: r.backend },
    { group: 'training', name: `${label}: achieved`, value: flops / seconds / 1e9, unit: 'GFLOP/s', note: `${r.backend}; ${(flops / 1e9).toFixed(0)} GFLOP per step` },
    { group: 'training', name: `${label}: peak RSS`, value: r.maxRssMiB, unit: 'MiB', note: r.backend },
  ];
  if (r.scoringImagesPerSecond !== null) {
    rows.push({ group: 'training', name: `scoring, ${c.arch}, 16 × ${c.size}²: throughput`, value: r.scoringImagesPerSecond, unit: 'images/s', note: r.backend });
  }
  rows.push({ group: 'training', name: `forward conv 3×3 8×32×32×128 (${r.backend})`, value: r.convForwardGflops, unit: 'GFLOP/s', note: c.kernels === 'tfjs' ? 'tfjs kernels' : '' });
  return rows;
}

function target(name: string, value: number, threshold: number, better: 'higher' | 'lower', detail: string): BenchRow {
  const met = better === 'higher' ? value >= threshold : value <= threshold;
  return { group: 'training', name: `target: ${name}`, value, unit: '×', note: `${met ? 'MET' : 'MISSED'} (${better === 'higher' ? '≥' : '≤'} ${threshold}); ${detail}` };
}

/** The rows issue 12 asks for, by exact name (bench/check-rows.ts checks them). */
export const REQUIRED_ROWS = [
  'step-1core-s',
  'step-allcores-s',
  'pytorch-step-1thread-s',
  'pytorch-step-2thread-s',
  'epoch-ratio-vs-pytorch-2thread',
  'scoring-img-s',
  'pytorch-scoring-2thread-img-s',
  'step-allcores-peak-rss-mib',
  'pytorch-step-2thread-peak-rss-mib',
] as const;

function named(name: string, value: number, unit: string, note: string): BenchRow {
  return { group: 'training', name, value, unit, note };
}

export const run: BenchFn = async () => {
  const rows: BenchRow[] = [];
  const loadAtStart = loadavg()[0];
  const allCores = Math.min(availableParallelism(), 8);
  const step = (backend: StepCase['backend'], batch: number, size: number, steps: number, kernels: StepCase['kernels'] = 'ckaad', threads = 1): StepCase => ({
    kind: 'step',
    backend,
    arch: 'resnet18',
    layers: ['layer2', 'layer3'],
    batch,
    size,
    steps,
    kernels,
    scoring: size === SIZE && kernels === 'ckaad',
    timeCounted: backend === 'cpu',
    microBatches: 1,
    threads,
  });
  const label = (arch: string, layers: string) => `CKAPatch step, ${arch} {${layers}}, 16+16 × ${SIZE}²`;
  const load = () => `load ${loadavg()[0].toFixed(1)}`;

  // ckaad on wasm: the real step, on one thread and on every core.
  const oneCoreCase = step('wasm', 16, SIZE, 2, 'ckaad', 1);
  const oneCore = await inChild<StepResult>(oneCoreCase);
  const oneCoreLoad = load();
  const allCoresCase = step('wasm', 16, SIZE, 2, 'ckaad', allCores);
  const allCoresRun = await inChild<StepResult>(allCoresCase);
  const allCoresLoad = load();
  for (const [r, c, threads] of [[oneCore, oneCoreCase, 1], [allCoresRun, allCoresCase, allCores]] as const) {
    const name = `${label('resnet18', '2,3')}, ${threads} thread${threads === 1 ? '' : 's'}`;
    if (r.result !== null) rows.push(...stepRows(name, c, r.result, 1, ''));
    else rows.push(named(`${name} (wasm)`, NaN, 'ms', `failed: ${r.error}`));
  }

  // PyTorch: the authors' models (bench/pytorch-reference.py), same machine, same run.
  const torchStep1 = await pytorch('step', 1);
  const torchStep2 = await pytorch('step', 2);
  const torchScoring1 = await pytorch('scoring', 1);
  const torchScoring2 = await pytorch('scoring', 2);
  const torchEpoch2 = await pytorch('epoch', 2);

  // End-to-end epochs: feature cache + worker, every core.
  const epochs: Record<string, EpochResult | null> = {};
  for (const setting of QUICK ? (['medical'] as const) : (['medical', 'industrial'] as const)) {
    const c: EpochCase = { kind: 'epoch', setting, normal: 64, anomalies: 16, epochs: 2, worker: true, threads: allCores };
    const r = await inChild<EpochResult>(c);
    epochs[setting] = r.result;
    if (r.result === null) {
      rows.push(named(`epoch, ${setting}`, NaN, 's', `failed: ${r.error}`));
      continue;
    }
    const stepsPerEpoch = r.result.steps / c.epochs;
    r.result.epochSeconds.forEach((s, e) => {
      rows.push(
        named(
          `epoch ${e + 1}, ${setting} (64 normal + ${setting === 'medical' ? '16 real' : 'elastic'} anomalies, ${stepsPerEpoch} steps)`,
          s,
          's',
          `wasm, ${allCores} threads; worker ${r.result?.worker ?? 'none'}; ${e === 0 ? 'features computed' : 'normal features cached'}; peak RSS ${r.result?.maxRssMiB.toFixed(0)} MiB; ${load()}`,
        ),
      );
    });
  }

  // The named rows of issue 12.
  const seconds = (r: { result: StepResult | null }): number => (r.result === null ? NaN : mean(r.result.stepSeconds));
  const torchSeconds = (r: PytorchRun): number => (r.result?.stepSeconds === undefined ? NaN : mean(r.result.stepSeconds));
  const torchNote = (r: PytorchRun, what: string): string =>
    r.result === null ? `failed: ${r.error}` : `PyTorch ${r.result.torch}, ${r.result.threads} thread${r.result.threads === 1 ? '' : 's'}, ${what}; peak RSS ${r.result.maxRssMiB.toFixed(0)} MiB`;
  const stepWhat = 'CKAPatch step, resnet18 {2,3}, 16+16 × 256²';
  const step1 = seconds(oneCore);
  const stepAll = seconds(allCoresRun);
  rows.push(named('step-1core-s', step1, 's', `ckaad wasm, 1 thread, ${stepWhat}; ${oneCoreLoad}`));
  rows.push(named('step-allcores-s', stepAll, 's', `ckaad wasm, ${allCores} threads, ${stepWhat}; ${allCoresLoad}`));
  const cpuOf = (r: { result: StepResult | null }, which: 'main' | 'other'): number => {
    const xs = r.result === null ? [] : which === 'main' ? r.result.mainCpuSeconds : r.result.otherCpuSeconds;
    return xs.length === 0 ? NaN : mean(xs);
  };
  rows.push(named('step-1core-main-thread-cpu-s', cpuOf(oneCore, 'main'), 's', `CPU time of the main thread per step (other threads ${cpuOf(oneCore, 'other').toFixed(1)} s)`));
  rows.push(
    named(
      'step-allcores-main-thread-cpu-s',
      cpuOf(allCoresRun, 'main'),
      's',
      `CPU time of the main thread per step (other threads, XNNPACK's pool among them, ${cpuOf(allCoresRun, 'other').toFixed(1)} s); ` +
        `1-core ÷ all-core main-thread CPU: ${(cpuOf(oneCore, 'main') / cpuOf(allCoresRun, 'main')).toFixed(2)}×, about what every core buys with the machine to itself (errs low: the main thread's spin-waits for the pool count as CPU)`,
    ),
  );
  rows.push(named('step-1core-peak-rss-mib', oneCore.result?.maxRssMiB ?? NaN, 'MiB', 'ckaad wasm, 1 thread'));
  rows.push(named('step-allcores-peak-rss-mib', allCoresRun.result?.maxRssMiB ?? NaN, 'MiB', `ckaad wasm, ${allCores} threads`));
  rows.push(named('pytorch-step-1thread-s', torchSeconds(torchStep1), 's', torchNote(torchStep1, stepWhat)));
  rows.push(named('pytorch-step-2thread-s', torchSeconds(torchStep2), 's', torchNote(torchStep2, stepWhat)));
  rows.push(named('pytorch-step-2thread-peak-rss-mib', torchStep2.result?.maxRssMiB ?? NaN, 'MiB', torchNote(torchStep2, 'step')));
  const scoringAll = allCoresRun.result?.scoringImagesPerSecond ?? NaN;
  rows.push(named('scoring-img-s', scoringAll, 'images/s', `ckaad wasm, ${allCores} threads, Scorer, 2 batches of 16 × 256² after a warm-up batch`));
  rows.push(named('scoring-1core-img-s', oneCore.result?.scoringImagesPerSecond ?? NaN, 'images/s', 'ckaad wasm, 1 thread'));
  const torchScoring = (r: PytorchRun): number => r.result?.scoringImagesPerSecond ?? NaN;
  rows.push(named('pytorch-scoring-1thread-img-s', torchScoring(torchScoring1), 'images/s', torchNote(torchScoring1, 'evaluation of 2 batches of 16 × 256²')));
  rows.push(named('pytorch-scoring-2thread-img-s', torchScoring(torchScoring2), 'images/s', torchNote(torchScoring2, 'evaluation of 2 batches of 16 × 256²')));
  const medical = epochs['medical'] ?? null;
  const ours = medical === null ? NaN : medical.epochSeconds[medical.epochSeconds.length - 1];
  const torchEpoch = torchEpoch2.result?.epochSeconds === undefined ? NaN : mean(torchEpoch2.result.epochSeconds);
  rows.push(named('pytorch-epoch-2thread-s', torchEpoch, 's', torchNote(torchEpoch2, `main.py's epoch loop, 64 normal + 16 anomalies, ${torchEpoch2.result?.stepsPerEpoch ?? '?'} steps`)));
  rows.push(
    named(
      'epoch-ratio-vs-pytorch-2thread',
      ours / torchEpoch,
      '×',
      `ckaad ${ours.toFixed(1)} s (last epoch, medical: 64 normal + 16 real anomalies, feature cache + worker, ${allCores} threads) ÷ PyTorch ${torchEpoch.toFixed(1)} s (2 threads, same data)`,
    ),
  );

  // Further backends and the wide backbone (not in the quick run).
  let cpu: { result: StepResult | null } = { result: null };
  let stockSeconds: number | null = null;
  if (!QUICK) {
    // cpu with ckaad's kernels: 2 + 2, ×8.
    const cpuCase = { ...step('cpu', 2, SIZE, 1), scoring: false };
    cpu = await inChild<StepResult>(cpuCase);
    if (cpu.result !== null) rows.push(...stepRows(label('resnet18', '2,3'), cpuCase, cpu.result, 8, 'extrapolated ×8 from a 2+2 step'));

    // cpu with tfjs's kernels: 1 + 1 at 64², extrapolated by FLOPs.
    const stockCase = step('cpu', 1, 64, 1, 'tfjs');
    const stock = await inChild<StepResult>(stockCase);
    if (stock.result !== null && oneCore.result !== null) {
      const factor = oneCore.result.flopsPerStep / stock.result.flopsPerStep;
      stockSeconds = mean(stock.result.stepSeconds) * factor;
      rows.push({
        group: 'training',
        name: `${label('resnet18', '2,3')}: ms per step`,
        value: stockSeconds * 1000,
        unit: 'ms',
        // A lower bound: tfjs's Conv2DBackpropFilter slows down far more than linearly with the
        // map size (322 s for one 8×32×32×128 layer, issue 4), which this extrapolation ignores.
        note: `cpu, tfjs kernels; lower bound: extrapolated ×${factor.toFixed(0)} by FLOPs from a 1+1 step at 64²`,
      });
    }

    // tensorflow, when the user installed tfjs-node.
    const tfCase = step('tensorflow', 16, SIZE, 2);
    const tfNode = await inChild<StepResult>(tfCase);
    if (tfNode.result !== null) rows.push(...stepRows(label('resnet18', '2,3'), tfCase, tfNode.result, 1, ''));
    else rows.push(named(`${label('resnet18', '2,3')} (tensorflow)`, NaN, 'ms', 'skipped: @tensorflow/tfjs-node is not installed'));

    // wide_resnet50_2 {1,2,3} on wasm: the real 16 + 16 step in 16 micro-batches of 1 + 1
    // (the whole batch at once would need ~25 GB of activations: far beyond a 4 GB wasm heap),
    // on one thread and on every core.
    for (const threads of [1, allCores]) {
      const wideCase: StepCase = {
        ...step('wasm', 16, SIZE, 1, 'ckaad', threads),
        arch: 'wide_resnet50_2',
        layers: ['layer1', 'layer2', 'layer3'],
        scoring: false,
        timeCounted: true,
        microBatches: 16,
      };
      const wide = await inChild<StepResult>(wideCase);
      const name = `${label('wide_resnet50_2', '1,2,3')}, ${threads} thread${threads === 1 ? '' : 's'}: ms per step`;
      if (wide.result !== null) {
        const r = wide.result;
        const secs = mean(r.stepSeconds);
        rows.push(
          named(
            name,
            secs * 1000,
            'ms',
            `wasm; microBatches 16 (1+1 each, gradients accumulated); ${(32 / secs).toFixed(2)} img/s; ` +
              `${(r.flopsPerStep / secs / 1e9).toFixed(1)} GFLOP/s; ${(r.flopsPerStep / 1e9).toFixed(0)} GFLOP; peak RSS ${r.maxRssMiB.toFixed(0)} MiB; ${load()}`,
          ),
        );
      } else {
        rows.push(named(name, NaN, 'ms', `failed: ${wide.error}`));
      }
    }
  }

  // Targets.
  rows.push(target('all-core step vs 1-core step', step1 / stepAll, 1.7, 'higher', `${step1.toFixed(2)} s / ${stepAll.toFixed(2)} s, ${allCores} threads`));
  rows.push(target('epoch vs PyTorch 2-thread epoch', ours / torchEpoch, 2.0, 'lower', `${ours.toFixed(1)} s vs ${torchEpoch.toFixed(1)} s`));
  const torchScoringTwo = torchScoring(torchScoring2);
  rows.push(target('scoring vs PyTorch 2 threads', scoringAll / torchScoringTwo, 0.6, 'higher', `${scoringAll.toFixed(2)} vs ${torchScoringTwo.toFixed(2)} images/s`));
  if (oneCore.result !== null) {
    const cpuStep = cpu.result === null ? null : mean(cpu.result.stepSeconds) * 8;
    if (cpuStep !== null) rows.push(target('wasm step (1 thread) vs cpu (ckaad kernels)', cpuStep / step1, 30, 'higher', `${(cpuStep / step1).toFixed(1)}× faster`));
    if (stockSeconds !== null) {
      rows.push(target('wasm step (1 thread) vs cpu (tfjs kernels)', stockSeconds / step1, 30, 'higher', `at least ${(stockSeconds / step1).toFixed(0)}× faster`));
    }
    const achieved = oneCore.result.flopsPerStep / step1 / 1e9;
    rows.push(target('step GFLOP/s vs wasm forward conv, 1 thread', achieved / oneCore.result.convForwardGflops, 0.6, 'higher', `${achieved.toFixed(1)} of ${oneCore.result.convForwardGflops.toFixed(1)} GFLOP/s`));
  }
  rows.push(named('load-1min', loadavg()[0], '', `1-minute load average at the end; ${loadAtStart.toFixed(2)} at the start; ${cpus().length} logical cores`));
  return rows;
};

// -----------------------------------------------------------------------------------------
// the PyTorch side

interface PytorchResult {
  torch: string;
  threads: number;
  stepSeconds?: number[];
  epochSeconds?: number[];
  stepsPerEpoch?: number;
  scoringImagesPerSecond?: number;
  maxRssMiB: number;
}

interface PytorchRun {
  result: PytorchResult | null;
  error: string | null;
}

/**
 * Runs bench/pytorch-reference.py: `CKAAD_PYTHON` (default /usr/bin/python3, which has torch
 * here) with the authors' code at `CKAAD_PYTORCH_REF` (default: ref/CKAAD next to this
 * repository's folder).
 */
async function pytorch(kind: 'step' | 'epoch' | 'scoring', threads: number): Promise<PytorchRun> {
  const here = dirname(fileURLToPath(import.meta.url));
  const python = process.env['CKAAD_PYTHON'] ?? '/usr/bin/python3';
  const ref = process.env['CKAAD_PYTORCH_REF'] ?? resolve(here, '..', '..', 'ref', 'CKAAD');
  if (!existsSync(join(ref, 'model', 'model.py'))) {
    return { result: null, error: `no authors' code at ${ref}: set CKAAD_PYTORCH_REF to a checkout of Faustinaqq/CKAAD` };
  }
  const steps = kind === 'epoch' ? '1' : kind === 'scoring' ? '2' : '2';
  try {
    const { stdout } = await exec(python, [join(here, 'pytorch-reference.py'), kind, '--ref', ref, '--threads', String(threads), '--steps', steps], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 30 * 60 * 1000,
    });
    return { result: JSON.parse(stdout.trim().split('\n').pop() ?? '') as PytorchResult, error: null };
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const lines = (e.stderr ?? e.message).trim().split('\n');
    return { result: null, error: (lines[lines.length - 1] ?? e.message).slice(0, 160) };
  }
}

// -----------------------------------------------------------------------------------------
// child process entry

if (process.argv[2] === '--child') {
  const c = JSON.parse(process.argv[3] ?? '{}') as Case;
  (c.kind === 'step' ? stepCase(c) : epochCase(c)).then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
      // Worker threads and wasm keep the event loop alive: exit explicitly.
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err)}\n`);
      process.exit(1);
    },
  );
}
