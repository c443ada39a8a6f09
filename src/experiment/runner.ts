/**
 * The experiment runner: expands a protocol into its grid of runs and executes them one after
 * the other, each one trained, selected on validation, tested and written to its own folder
 * (see `results.ts` for the layout). Results are resumable at two levels:
 *
 * - across runs: a run whose complete `result.json` exists is skipped, so stopping (signal,
 *   Ctrl-C, crash, power cut) and starting again loses at most the run in progress;
 * - within a run: the trainer checkpoints after every epoch into `runs/<id>/checkpoint/`, and a
 *   restarted run continues from its last finished epoch (set `checkpoints: false` to turn this
 *   off). The checkpoint is deleted once the run's result is written.
 *
 * After every run the summary tables (`summary.md`, `summary.json`) are rewritten from all
 * complete runs, so they are current whenever the runner stops.
 */

import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { activeBackend, ensureBackend, useBackend } from '../backend/select.js';
import type { BackendName } from '../backend/names.js';
import { createResNetExtractor } from '../backbone/extractor.js';
import type { ResNetFeatureExtractor } from '../backbone/extractor.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { InvalidArgumentError } from '../errors.js';
import { Scorer } from '../scoring/scorer.js';
import { writeFileAtomic, writeJsonAtomic } from '../node/atomic.js';
import type { EpochLog, StepLog } from '../training/history.js';
import { describeExtractor } from '../io/saved-model.js';
import { RANDOM_WEIGHTS_GENERATOR } from '../backbone/resnet-weights.js';
import { TRAINER_DEFAULTS } from '../training/options.js';
import { STRATEGIES } from '../training/strategies.js';
import type { Strategy } from '../training/strategies.js';
import { aggregateResults, writeSummary } from './aggregate.js';
import type { ExperimentSummary } from './aggregate.js';
import { ExperimentData } from './data.js';
import { evaluateTestSet } from './evaluate.js';
import type { Examples } from './evaluate.js';
import { expandGrid } from './grid.js';
import type { RunSpec } from './grid.js';
import { openTestFeatures } from '../pipeline/feature-cache.js';
import { isAborted } from '../pipeline/pixel-cache.js';
import { trainRun } from '../pipeline/train.js';
import { parseProtocol } from './protocol.js';
import type { ExperimentProtocol, ResolvedProtocol } from './protocol.js';
import { readRunResult, readRunResults, runDir, writeRunResult, writeRunScores } from './results.js';
import type { RunResult } from './results.js';

/** Progress reports of {@link runExperiment}. */
export type ExperimentEvent =
  | { type: 'start'; protocol: string; total: number; complete: number; selected: number }
  | { type: 'run-skipped'; run: RunSpec }
  | { type: 'run-start'; run: RunSpec; position: number; pending: number }
  | { type: 'step'; run: RunSpec; log: StepLog; epochs: number; stepsPerEpoch: number; batchSize: number }
  | { type: 'epoch'; run: RunSpec; log: EpochLog; epochs: number }
  | { type: 'run-complete'; run: RunSpec; result: RunResult }
  | { type: 'run-aborted'; run: RunSpec }
  | { type: 'summary'; summary: ExperimentSummary };

/** Options of {@link runExperiment}. */
export interface RunExperimentOptions {
  /** Folder of the results (created if missing). Required. */
  resultsDir: string;
  /**
   * Stops the experiment: the run in progress checkpoints (with `checkpoints`) and is left
   * incomplete; `runExperiment` resolves with `status: 'aborted'`.
   */
  signal?: AbortSignal;
  /** Progress callback (synchronous). */
  onProgress?: (event: ExperimentEvent) => void;
  /** Strategies by name besides the built-in five (custom ablations). Default none. */
  strategies?: Readonly<Record<string, Strategy>>;
  /**
   * Backend to select with `useBackend` before running. Default: keep the one already selected,
   * else ckaad's default (`ensureBackend`).
   */
  backend?: BackendName;
  /** Checkpoint every epoch so that a stopped run resumes mid-way. Default true. */
  checkpoints?: boolean;
  /** Runs only the runs for which this returns true (the others stay pending). Default: all. */
  filter?: (run: RunSpec) => boolean;
  /**
   * Keep the backbone's features of each test set in `<resultsDir>/cache/` (float32; e.g.
   * 490 MB for Fashion-MNIST's 10,000 test images at 64×64, layers 2–3) and reuse them in
   * every run that tests on the same images: scores are the same, scoring about twice as fast.
   * Default true.
   */
  testFeatureCache?: boolean;
}

/** What {@link runExperiment} resolves to. */
export interface ExperimentOutcome {
  /** 'completed' when every selected run is complete, 'aborted' when the signal stopped it. */
  status: 'completed' | 'aborted';
  /** The absolute results folder. */
  resultsDir: string;
  /** Runs in the grid, complete runs (before and during this call), and runs run by this call. */
  runs: { total: number; complete: number; ranNow: number };
  /** The tables over every complete run (also in summary.md / summary.json). */
  summary: ExperimentSummary;
}

/** The strategy of each arm: built-ins plus `extra`; throws for an unknown name. */
function strategiesOf(protocol: ResolvedProtocol, extra: Readonly<Record<string, Strategy>>): Map<string, Strategy> {
  const known: Record<string, Strategy> = { ...STRATEGIES, ...extra };
  const out = new Map<string, Strategy>();
  protocol.arms.forEach((arm, i) => {
    const s = known[arm.strategy];
    if (s === undefined) {
      throw new InvalidArgumentError(
        `protocol.arms[${i}].strategy`,
        `a built-in strategy or one passed in options.strategies (${Object.keys(known).join(', ')})`,
        JSON.stringify(arm.strategy),
      );
    }
    out.set(arm.name, s);
  });
  return out;
}

function examplesBytes(examples: Examples): Uint8Array {
  const { count, size } = examples;
  return encodeSafetensors(
    {
      images: { dtype: 'U8', shape: [count, size, size, 3], data: examples.images },
      ...(examples.masks === null ? {} : { masks: { dtype: 'U8' as const, shape: [count, size, size], data: examples.masks } }),
      maps: { dtype: 'F32', shape: [count, size, size], data: examples.maps },
      scores: { dtype: 'F32', shape: [count], data: examples.scores },
    },
    {
      names: JSON.stringify(examples.names),
      classNames: JSON.stringify(examples.classNames),
      labels: JSON.stringify(examples.labels),
    },
  );
}

/**
 * Runs every run of a protocol's grid that has no complete result yet (see the module notes),
 * writing per-run results and the summary tables under `options.resultsDir`.
 *
 * @param protocol A protocol (parsed JSON, validated here) or the output of `parseProtocol`.
 * @throws InvalidArgumentError for an invalid protocol, an unknown strategy, or a results folder
 *   holding a result of the same run id written with different settings (use a new folder);
 *   FileFormatError for unreadable data or weights. A failing run is not recorded; the runs
 *   completed before it are kept.
 *
 * @example
 * ```ts
 * import { readProtocol, runExperiment } from 'ckaad';
 * const controller = new AbortController();
 * process.on('SIGINT', () => controller.abort());
 * const outcome = await runExperiment(await readProtocol('protocols/fashion-mnist-smoke.json'), {
 *   resultsDir: 'results/fashion-mnist-smoke',
 *   signal: controller.signal,
 *   onProgress: (e) => { if (e.type === 'run-complete') console.log(e.run.id, e.result.metrics.all.imageAuroc); },
 * });
 * console.log(outcome.status, outcome.runs);
 * ```
 */
export async function runExperiment(protocol: ExperimentProtocol | ResolvedProtocol, options: RunExperimentOptions): Promise<ExperimentOutcome> {
  if (typeof options?.resultsDir !== 'string' || options.resultsDir.length === 0) {
    throw new InvalidArgumentError('options.resultsDir', 'a folder path', String(options?.resultsDir));
  }
  const resolved = parseProtocol(protocol);
  const strategies = strategiesOf(resolved, options.strategies ?? {});
  const grid = expandGrid(resolved);
  const resultsDir = resolve(options.resultsDir);
  const checkpoints = options.checkpoints ?? true;
  const emit = (e: ExperimentEvent) => options.onProgress?.(e);
  const { signal } = options;

  // Which runs are done? A result written with other settings under the same id is an error:
  // mixing it into the tables would be wrong, overwriting it would destroy it.
  const done = new Set<string>();
  // Runs whose random backbone came from the generator of ckaad 0.1: new runs would use other weights.
  const formerRandom: string[] = [];
  for (const run of grid) {
    const existing = await readRunResult(resultsDir, run.id);
    if (existing === null) continue;
    if (resolved.model.weights === 'random' && existing.environment.randomWeightsGenerator !== RANDOM_WEIGHTS_GENERATOR) formerRandom.push(run.id);
    if (existing.run.settingsHash !== run.settingsHash) {
      throw new InvalidArgumentError(
        'options.resultsDir',
        `a folder without results of other settings (runs/${run.id}/result.json was written by a different protocol: ` +
          'choose a new results folder, or delete that run folder to re-run it)',
        resultsDir,
      );
    }
    done.add(run.id);
  }
  const pending = grid.filter((r) => !done.has(r.id) && (options.filter?.(r) ?? true));
  if (pending.length > 0 && formerRandom.length > 0) {
    throw new InvalidArgumentError(
      'options.resultsDir',
      `a folder whose finished runs drew their random backbone weights as this version does (runs/${formerRandom[0]}/result.json ` +
        "was written by ckaad 0.1, whose random weights differ: finish the grid with that version, or choose a new results folder)",
      resultsDir,
    );
  }
  emit({ type: 'start', protocol: resolved.name, total: grid.length, complete: done.size, selected: pending.length });

  await mkdir(resultsDir, { recursive: true });
  await writeJsonAtomic(join(resultsDir, 'protocol.json'), resolved);
  for (const run of grid) if (done.has(run.id)) emit({ type: 'run-skipped', run });

  const summarize = async (): Promise<ExperimentSummary> => {
    const summary = aggregateResults(await readRunResults(resultsDir), {
      protocol: resolved.name,
      expected: grid,
      groupBy: resolved.report.groupBy,
    });
    await writeSummary(resultsDir, summary, { metrics: resolved.report.metrics });
    emit({ type: 'summary', summary });
    return summary;
  };

  let status: 'completed' | 'aborted' = 'completed';
  let ranNow = 0;
  if (pending.length > 0 && !signal?.aborted) {
    if (options.backend !== undefined) await useBackend(options.backend);
    else await ensureBackend();
    const backend = activeBackend();
    const m = resolved.model;
    const extractorOptions = { arch: m.arch, layers: m.layers, weights: m.weights, seed: m.seed };
    const record = await describeExtractor(extractorOptions);
    const extractor = await createResNetExtractor(extractorOptions);
    const data = new ExperimentData({ resultsDir, signal });
    // The backbone's identity, part of the test-feature cache's file names.
    const testFeatureCache =
      (options.testFeatureCache ?? true)
        ? JSON.stringify({ arch: record.arch, layers: record.layers, weights: record.weights.kind === 'file' ? record.weights.sha256 : record.weights })
        : null;
    try {
      for (const [position, run] of pending.entries()) {
        if (signal?.aborted) {
          status = 'aborted';
          break;
        }
        // Another process working on the same folder (e.g. with another --only) may have
        // finished this run since the grid was read.
        if ((await readRunResult(resultsDir, run.id)) !== null) {
          done.add(run.id);
          emit({ type: 'run-skipped', run });
          continue;
        }
        emit({ type: 'run-start', run, position, pending: pending.length });
        const result = await executeRun(run, {
          protocol: resolved.name,
          resultsDir,
          extractor,
          strategy: strategies.get(run.arm) as Strategy,
          data,
          checkpoints,
          signal,
          emit,
          environment: {
            backend,
            weightsSha256: record.weights.kind === 'file' ? record.weights.sha256 : null,
            randomWeightsGenerator: record.weights.kind === 'random' ? record.weights.generator : undefined,
          },
          testFeatureCache,
        });
        if (result === null) {
          emit({ type: 'run-aborted', run });
          status = 'aborted';
          break;
        }
        ranNow++;
        done.add(run.id);
        emit({ type: 'run-complete', run, result });
        await summarize();
      }
    } finally {
      await data.close();
      extractor.dispose();
    }
  } else if (signal?.aborted && pending.length > 0) {
    status = 'aborted';
  }
  const summary = await summarize();
  return { status, resultsDir, runs: { total: grid.length, complete: done.size, ranNow }, summary };
}

/** What {@link executeRun} needs besides the run. */
interface RunContext {
  protocol: string;
  resultsDir: string;
  extractor: ResNetFeatureExtractor;
  strategy: Strategy;
  data: ExperimentData;
  checkpoints: boolean;
  signal: AbortSignal | undefined;
  emit: (e: ExperimentEvent) => void;
  environment: { backend: string; weightsSha256: string | null; randomWeightsGenerator: string | undefined };
  /** The backbone key of the test-feature cache, or null without the cache. */
  testFeatureCache: string | null;
}

/** Trains, selects, tests and records one run; null when the signal stopped it. */
async function executeRun(run: RunSpec, ctx: RunContext): Promise<RunResult | null> {
  const started = performance.now();
  const dir = runDir(ctx.resultsDir, run.id);
  const checkpointDir = join(dir, 'checkpoint');
  await mkdir(dir, { recursive: true });
  const s = run.settings;
  let autoencoder: { dispose(): void } | null = null;
  try {
    const data = await ctx.data.prepare(run);
    const options = {
      ...s.training,
      strategy: ctx.strategy,
      epochs: s.epochs,
      seed: run.seed,
      sigma: s.scoring.sigma,
      topK: s.scoring.topK,
      ...(ctx.checkpoints ? { checkpoint: checkpointDir, resume: true } : {}),
    };
    const batchSize = options.batchSize ?? TRAINER_DEFAULTS.batchSize;
    const stepsPerEpoch = Math.floor(data.counts.normal / batchSize);
    const { result: fit } = await trainRun({
      data: { normal: data.normal, ...(data.anomalies === null ? {} : { anomalies: data.anomalies }), ...(data.validation === null ? {} : { validation: data.validation }) },
      extractor: ctx.extractor,
      trainer: options,
      signal: ctx.signal,
      onStep: (log) => ctx.emit({ type: 'step', run, log, epochs: s.epochs, stepsPerEpoch, batchSize }),
      onEpoch: (log) => ctx.emit({ type: 'epoch', run, log, epochs: s.epochs }),
    });
    autoencoder = fit.autoencoder;
    if (fit.status === 'aborted') return null;

    // Test the selected epoch's weights (fit returns the best validation epoch's), once.
    const scorer = new Scorer({ extractor: ctx.extractor, autoencoder: fit.autoencoder, sigma: s.scoring.sigma, topK: s.scoring.topK, keepMaps: false });
    const features =
      ctx.testFeatureCache === null
        ? undefined
        : await openTestFeatures(ctx.extractor, data.test.pixels, {
            dir: join(ctx.resultsDir, 'cache'),
            backboneKey: ctx.testFeatureCache,
            batchSize,
            signal: ctx.signal,
          });
    let evaluation;
    try {
      evaluation = await evaluateTestSet(scorer, data.test, {
        batchSize,
        seenClasses: data.labelledClasses.filter((c) => c !== 'elastic'),
        examplesPerClass: s.examplesPerClass,
        signal: ctx.signal,
        features,
      });
    } finally {
      features?.close();
    }
    await writeRunScores(ctx.resultsDir, {
      format: 'ckaad-experiment-scores',
      version: 1,
      runId: run.id,
      names: data.test.items.map((t) => t.name),
      classNames: data.test.items.map((t) => t.className),
      labels: data.test.items.map((t) => t.label),
      scores: Array.from(evaluation.scores),
    });
    let examplesFile: string | null = null;
    if (evaluation.examples !== null) {
      examplesFile = 'examples.safetensors';
      await writeFileAtomic(join(dir, examplesFile), examplesBytes(evaluation.examples));
    }
    const reportedEpoch = fit.best?.epoch ?? fit.epochs;
    const result: RunResult = {
      format: 'ckaad-experiment-run',
      version: 1,
      protocol: ctx.protocol,
      run,
      data: {
        normal: data.counts.normal,
        labelledAnomalies: data.counts.labelledAnomalies,
        validationNormal: data.counts.validationNormal,
        validationAnomalous: data.counts.validationAnomalous,
        test: data.counts.test,
        labelledClasses: data.labelledClasses,
      },
      training: {
        epochs: fit.epochs,
        steps: fit.steps,
        reportedEpoch,
        validationAuroc: fit.best?.auroc ?? null,
        history: fit.history,
        seconds: (performance.now() - started) / 1000,
      },
      metrics: evaluation.metrics,
      files: { scores: 'scores.json', examples: examplesFile },
      environment: {
        backend: ctx.environment.backend,
        node: process.version,
        extractorWeightsSha256: ctx.environment.weightsSha256,
        ...(ctx.environment.randomWeightsGenerator === undefined ? {} : { randomWeightsGenerator: ctx.environment.randomWeightsGenerator }),
        finishedAt: new Date().toISOString(),
      },
    };
    await writeRunResult(ctx.resultsDir, result); // the run is complete from here on
    await rm(checkpointDir, { recursive: true, force: true });
    return result;
  } catch (e) {
    if (isAborted(e)) return null;
    throw e;
  } finally {
    autoencoder?.dispose();
  }
}
