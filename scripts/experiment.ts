/**
 * Runs an experiment protocol (a grid of training runs) with resumable results, then prints
 * the mean ± std tables. Uses the built package: run `npm run build` first.
 *
 *   npx tsx scripts/experiment.ts protocols/fashion-mnist-smoke.json
 *   npx tsx scripts/experiment.ts protocols/fashion-mnist-deepsad.json --results results/fm --backend wasm
 *
 * Options:
 *   --results <dir>      results folder (default results/<protocol name>)
 *   --backend <name>     tfjs backend to select: wasm (default), cpu, tensorflow (import
 *                        @tensorflow/tfjs-node first: see docs/backends.md), ...
 *   --weights <path>     override the protocol's model.weights (a safetensors file, or random)
 *   --only <text>        run only the runs whose id contains <text> (the others stay pending)
 *   --no-checkpoints     do not checkpoint every epoch (a stopped run then restarts from scratch)
 *   --summary-only       do not train: rebuild summary.md / summary.json from the complete runs
 *
 * Ctrl-C stops after the current training step (the run checkpoints and resumes next time);
 * a second Ctrl-C exits at once. Starting the same command again skips complete runs.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import {
  aggregateResults,
  expandGrid,
  formatSummaryMarkdown,
  parseProtocol,
  readRunResults,
  runExperiment,
  writeSummary,
} from 'ckaad';
import type { ExperimentEvent } from 'ckaad';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    results: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    weights: { type: 'string' },
    only: { type: 'string' },
    'no-checkpoints': { type: 'boolean', default: false },
    'summary-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help || positionals.length !== 1) {
  console.log('usage: npx tsx scripts/experiment.ts <protocol.json> [--results dir] [--backend wasm] [--weights path|random] [--only text] [--no-checkpoints] [--summary-only]');
  process.exit(values.help ? 0 : 2);
}

const raw = JSON.parse(await readFile(positionals[0], 'utf8')) as Record<string, unknown>;
if (values.weights !== undefined) {
  const model: Record<string, unknown> = { ...(raw.model as Record<string, unknown>), weights: values.weights };
  if (values.weights !== 'random') delete model.seed;
  raw.model = model;
}
const protocol = parseProtocol(raw);
const resultsDir = values.results ?? join('results', protocol.name);

if (values['summary-only']) {
  const summary = aggregateResults(await readRunResults(resultsDir), {
    protocol: protocol.name,
    expected: expandGrid(protocol),
    groupBy: protocol.report.groupBy,
  });
  await writeSummary(resultsDir, summary, { metrics: protocol.report.metrics });
  console.log(formatSummaryMarkdown(summary, { metrics: protocol.report.metrics }));
  process.exit(0);
}

const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  console.log('\nstopping after the current step (Ctrl-C again to exit at once)...');
  controller.abort();
});

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : (100 * x).toFixed(2));
function report(e: ExperimentEvent): void {
  switch (e.type) {
    case 'start':
      console.log(`${e.protocol}: ${e.total} runs, ${e.complete} already complete, ${e.selected} to run → ${resultsDir}`);
      break;
    case 'run-start':
      console.log(`[${e.position + 1}/${e.pending}] ${e.run.id}`);
      break;
    case 'epoch':
      console.log(
        `  epoch ${e.log.epoch}/${e.epochs}  L_rec ${e.log.lRec.toFixed(4)}  L_adv ${e.log.lAdv.toFixed(4)}  L_D ${e.log.lD.toFixed(4)}` +
          `  val AUROC ${pct(e.log.validationAuroc)}  (${e.log.seconds.toFixed(1)} s; ${elapsed()} total)`,
      );
      break;
    case 'run-complete': {
      const m = e.result.metrics;
      const parts = [`image AUROC ${pct(m.all.imageAuroc)}`];
      if (m.all.pixelAuroc !== undefined) parts.push(`pixel AUROC ${pct(m.all.pixelAuroc)}`, `AUPRO ${pct(m.all.aupro)}`);
      if (m.seen && m.unseen) parts.push(`seen ${pct(m.seen.imageAuroc)}`, `unseen ${pct(m.unseen.imageAuroc)}`);
      console.log(`  done: epoch ${e.result.training.reportedEpoch} reported; test ${parts.join(', ')} (${e.result.training.seconds.toFixed(0)} s)`);
      break;
    }
    case 'run-aborted':
      console.log(`  stopped: ${e.run.id} is incomplete and resumes from its checkpoint next time`);
      break;
    default:
      break;
  }
}

const outcome = await runExperiment(protocol, {
  resultsDir,
  signal: controller.signal,
  backend: values.backend,
  checkpoints: !values['no-checkpoints'],
  onProgress: report,
  filter: values.only === undefined ? undefined : (run) => run.id.includes(values.only as string),
});
console.log('');
console.log(formatSummaryMarkdown(outcome.summary, { metrics: protocol.report.metrics }));
console.log(`${outcome.status}: ${outcome.runs.complete}/${outcome.runs.total} runs complete (${outcome.runs.ranNow} run now, ${elapsed()}); tables in ${join(outcome.resultsDir, 'summary.md')}`);
process.exit(outcome.status === 'completed' ? 0 : 130);
