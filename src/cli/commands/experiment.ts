/**
 * `ckaad experiment`: runs an experiment protocol (a grid of training runs, see
 * `src/experiment/protocol.ts` and `protocols/*.json`) with resumable results on disk, then
 * prints the mean ± std tables.
 *
 *   ckaad experiment protocols/fashion-mnist-smoke.json
 *   ckaad experiment protocols/fashion-mnist-deepsad.json --results results/fm --weights resnet18.safetensors
 *
 * Every run writes its `result.json` last and atomically, so a crash or Ctrl-C loses at most
 * the run in progress (which resumes from its last epoch checkpoint); running the same command
 * again skips complete runs. Progress goes to stderr, the tables to stdout.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Command } from 'commander';

import { FileFormatError } from '../../errors.js';
import { aggregateResults, formatSummaryMarkdown, writeSummary } from '../../experiment/aggregate.js';
import { expandGrid } from '../../experiment/grid.js';
import { parseProtocol } from '../../experiment/protocol.js';
import type { ResolvedProtocol } from '../../experiment/protocol.js';
import { readRunResults } from '../../experiment/results.js';
import { runExperiment } from '../../experiment/runner.js';
import type { ExperimentEvent } from '../../experiment/runner.js';
import { selectBackend } from '../backend.js';
import type { CommandContext } from '../context.js';
import { InterruptedError } from '../errors.js';
import { log, println } from '../io.js';
import type { CliIo } from '../io.js';
import { addBackendOption } from '../options.js';
import { formatDuration, startProgress } from '../progress.js';
import type { Progress } from '../progress.js';
import { stepLosses } from '../training.js';

/** Option values of `ckaad experiment`. */
export interface ExperimentValues {
  results?: string;
  backend?: string;
  threads?: number;
  weights?: string;
  only?: string;
  checkpoints: boolean;
  testFeatureCache: boolean;
  summaryOnly: boolean;
}

/**
 * Reads and checks a protocol file; `weights` (a safetensors path or `'random'`) replaces the
 * protocol's `model.weights`.
 *
 * @throws FileFormatError naming the file when it is missing or not JSON;
 *   InvalidArgumentError naming the bad protocol field.
 */
export async function readProtocolFile(path: string, weights?: string): Promise<ResolvedProtocol> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FileFormatError(path, `cannot read the protocol file (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (weights !== undefined && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const record = raw as Record<string, unknown>;
    const model: Record<string, unknown> = { ...(record.model as Record<string, unknown>), weights };
    // A seed only applies to random weights.
    if (weights !== 'random') delete model.seed;
    record.model = model;
  }
  return parseProtocol(raw);
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : (100 * x).toFixed(2));

/**
 * The progress of `ckaad experiment` on stderr, like `ckaad train`'s: on a terminal a progress
 * bar per run (images/s, the run's ETA, the epoch and its losses); otherwise one line per epoch
 * with the losses, the validation AUROC and the ETA of the run and of the grid. Both say when a
 * run starts and what it scored.
 */
export class ExperimentProgress {
  private readonly started: number;
  /** Seconds of the runs completed by this invocation. */
  private readonly runSeconds: number[] = [];
  private runStarted = 0;
  private epochSeconds: number[] = [];
  private position = 0;
  private pending = 0;
  private bar: Progress | null = null;
  private firstStep = 0;
  private lastAuroc = '';

  constructor(
    private readonly io: CliIo,
    private readonly resultsDir: string,
  ) {
    this.started = io.now();
  }

  /** Wall time since the start, formatted. */
  elapsed(): string {
    return formatDuration((this.io.now() - this.started) / 1000);
  }

  /** Reports one event of the runner. */
  handle(e: ExperimentEvent): void {
    switch (e.type) {
      case 'start':
        return this.line(`${e.protocol}: ${e.total} runs, ${e.complete} already complete, ${e.selected} to run → ${this.resultsDir}`);
      case 'run-start':
        this.position = e.position;
        this.pending = e.pending;
        this.runStarted = this.io.now();
        this.epochSeconds = [];
        this.lastAuroc = '';
        return this.line(`[${e.position + 1}/${e.pending}] ${e.run.id}`);
      case 'step':
        return this.step(e);
      case 'epoch':
        return this.epoch(e);
      case 'run-complete': {
        this.stopBar();
        this.runSeconds.push((this.io.now() - this.runStarted) / 1000);
        const m = e.result.metrics;
        const parts = [`image AUROC ${pct(m.all.imageAuroc)}`];
        if (m.all.pixelAuroc !== undefined) parts.push(`pixel AUROC ${pct(m.all.pixelAuroc)}`, `AUPRO ${pct(m.all.aupro)}`);
        if (m.seen && m.unseen) parts.push(`seen ${pct(m.seen.imageAuroc)}`, `unseen ${pct(m.unseen.imageAuroc)}`);
        return this.line(`  done: epoch ${e.result.training.reportedEpoch} reported; test ${parts.join(', ')} (${e.result.training.seconds.toFixed(0)} s)`);
      }
      case 'run-aborted':
        this.stopBar(true);
        return this.line(`  stopped: ${e.run.id} is incomplete and resumes from its checkpoint next time`);
      default:
        return undefined;
    }
  }

  private line(text: string): void {
    log(this.io, text);
  }

  private step(e: Extract<ExperimentEvent, { type: 'step' }>): void {
    if (!this.io.isTTY) return;
    const total = e.stepsPerEpoch * e.epochs;
    if (this.bar === null) {
      this.firstStep = e.log.step - 1;
      this.bar = startProgress(this.io, `[${this.position + 1}/${this.pending}] ${e.run.id}`, (total - this.firstStep) * e.batchSize);
    }
    this.bar.update((e.log.step - this.firstStep) * e.batchSize, `epoch ${e.log.epoch}/${e.epochs} ${stepLosses(e.log)}${this.lastAuroc}`);
  }

  private epoch(e: Extract<ExperimentEvent, { type: 'epoch' }>): void {
    this.epochSeconds.push(e.log.seconds);
    if (e.log.validationAuroc !== null) this.lastAuroc = ` val AUROC ${pct(e.log.validationAuroc)}`;
    if (this.io.isTTY) return;
    this.line(
      `  epoch ${e.log.epoch}/${e.epochs}  L_rec ${e.log.lRec.toFixed(4)}  L_adv ${e.log.lAdv.toFixed(4)}  L_D ${e.log.lD.toFixed(4)}` +
        `  val AUROC ${pct(e.log.validationAuroc)}  (${e.log.seconds.toFixed(1)} s; ${this.elapsed()} total; ${this.eta(e.epochs - e.log.epoch, e.epochs)})`,
    );
  }

  /**
   * "ETA run 1m05s, grid 2h03m": the run's remaining epochs at its mean epoch time so far; the
   * grid's remaining runs at the mean time of the runs this invocation completed (before the
   * first completes: their epochs at this run's mean epoch time).
   */
  private eta(epochsLeft: number, epochs: number): string {
    const perEpoch = this.epochSeconds.reduce((a, b) => a + b, 0) / this.epochSeconds.length;
    const run = epochsLeft * perEpoch;
    const runsLeft = this.pending - this.position - 1;
    if (runsLeft <= 0) return `ETA run ${formatDuration(run)}`;
    const perRun = this.runSeconds.length > 0 ? this.runSeconds.reduce((a, b) => a + b, 0) / this.runSeconds.length : epochs * perEpoch;
    return `ETA run ${formatDuration(run)}, grid ${formatDuration(run + runsLeft * perRun)}`;
  }

  /** Ends the run's bar: "done", or — when the run was stopped — "interrupted at n/N". */
  private stopBar(interrupted = false): void {
    if (interrupted) this.bar?.interrupt();
    else this.bar?.stop();
    this.bar = null;
  }
}

/** Runs `ckaad experiment`; returns the final status. */
export async function runExperimentCommand(protocolPath: string, v: ExperimentValues, ctx: CommandContext): Promise<'completed' | 'aborted'> {
  const { io } = ctx;
  const protocol = await readProtocolFile(protocolPath, v.weights);
  const resultsDir = v.results ?? join('results', protocol.name);
  const metrics = { metrics: protocol.report.metrics };

  if (v.summaryOnly) {
    const summary = aggregateResults(await readRunResults(resultsDir), {
      protocol: protocol.name,
      expected: expandGrid(protocol),
      groupBy: protocol.report.groupBy,
    });
    await writeSummary(resultsDir, summary, metrics);
    println(io, formatSummaryMarkdown(summary, metrics));
    return 'completed';
  }

  const backend = await selectBackend(v.backend, v.threads);
  log(io, `ckaad experiment: backend ${backend}`);
  const progress = new ExperimentProgress(io, resultsDir);
  const outcome = await runExperiment(protocol, {
    resultsDir,
    signal: ctx.signal,
    checkpoints: v.checkpoints,
    testFeatureCache: v.testFeatureCache,
    onProgress: (e) => progress.handle(e),
    filter: v.only === undefined ? undefined : (run) => run.id.includes(v.only as string),
  });
  println(io, formatSummaryMarkdown(outcome.summary, metrics));
  const counts = `${outcome.runs.complete}/${outcome.runs.total} runs complete (${outcome.runs.ranNow} run now, ${progress.elapsed()})`;
  if (outcome.status === 'aborted') {
    throw new InterruptedError(`${counts}; the same command resumes the grid`);
  }
  log(io, `${counts}; tables in ${join(outcome.resultsDir, 'summary.md')}`);
  return outcome.status;
}

/** Adds `experiment` to the program. */
export function registerExperiment(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command('experiment')
    .summary('run a protocol grid with resumable results and print mean ± std tables')
    .description(
      'Run every training run of an experiment protocol (JSON: data set, normal classes, strategies, r_l, k, seeds, epochs, size, model; ' +
        'see protocols/ and docs/full-protocol.md). Each run is tested on the epoch with the best validation AUROC; results land in ' +
        '--results/runs/<run id>/result.json, written last, so a stop loses at most the run in progress and the same command resumes. ' +
        'Writes summary.md and summary.json (mean ± sample std over seeds) and prints the tables.',
    )
    .argument('<protocol>', 'protocol file (JSON)')
    .option('--results <dir>', 'results folder (default: results/<protocol name>)')
    .option('--weights <path>', "override the protocol's model.weights: an ImageNet safetensors file, or 'random'")
    .option('--only <text>', 'run only the runs whose id contains <text> (the others stay pending)')
    .option('--no-checkpoints', 'do not checkpoint every epoch (a stopped run then restarts from scratch)')
    .option('--no-test-feature-cache', "do not keep the test images' backbone features in <results>/cache for the other runs")
    .option('--summary-only', 'do not train: rebuild summary.md / summary.json from the complete runs', false);
  addBackendOption(cmd);
  cmd.action(async (protocolPath: string, values: ExperimentValues) => {
    await runExperimentCommand(protocolPath, values, ctx);
  });
}
