/**
 * `ckaad demo`: the whole pipeline on this machine, offline, in a few minutes. Generates the
 * synthetic fine-grained defect set (MVTec AD layout, with exact masks), trains Recon and
 * CKAPatch on each class (labelled anomalies: elastic transformations of the normal
 * images), evaluates both on the test split, and prints image AUROC, pixel AUROC and PRO side
 * by side with the wall time. Everything — data, models, results.json, results.md, heat maps —
 * lands in `--out` at once when the run succeeds.
 *
 * Nothing can be downloaded offline, so the backbone is randomly initialised unless
 * `--weights` is given: the numbers show that the machinery works, not what CKAAD achieves.
 */

import { isAbsolute, join, relative } from 'node:path';

import { InvalidArgumentError as CommanderArgumentError, Option } from 'commander';
import type { Command } from 'commander';

import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS } from '../../data/synthetic.js';
import { generateSyntheticDefects } from '../../node/synthetic-writer.js';
import type { SyntheticClass } from '../../data/synthetic.js';
import { describeExtractor, saveModel, trainingRecord } from '../../io/saved-model.js';
import { modelFolder } from '../../node/folders.js';
import type { Strategy } from '../../training/strategies.js';
import { STRATEGIES } from '../../training/strategies.js';
import { TRAINER_DEFAULTS } from '../../training/options.js';
import { selectBackend } from '../backend.js';
import type { CommandContext } from '../context.js';
import { openDataset } from '../dataset.js';
import { evaluate } from '../evaluation.js';
import { log, println } from '../io.js';
import { addBackendOption, addJsonOption, addModelOptions, integerAtLeast, numberIn, parseHeatmaps, parseStrategies, parseTopK } from '../options.js';
import type { ModelValues } from '../options.js';
import { RESULTS_FILE, RESULTS_FORMAT, markdownTable, fmt, stageOutput, writeJson, writeText } from '../output.js';
import { formatDuration } from '../progress.js';
import { trainingSplit } from '../split.js';
import { buildExtractor, modelConfig, trainOnSplit } from '../training.js';
import type { ModelResult } from './eval.js';
import { trainerOptionsOf } from './train.js';

/** Defaults of the demo: about 85 s of CPU time with the (default) wasm backend, a few minutes on 2 cores. */
export const DEMO_DEFAULTS = {
  out: 'ckaad-demo',
  imageSize: 64,
  classes: ['weave', 'disc'] as SyntheticClass[],
  trainCount: 24,
  testGoodCount: 12,
  testDefectCount: 4,
  epochs: 8,
  batchSize: 8,
  lr: 5e-3,
  heatmaps: 8,
  seed: 0,
} as const;

/** Option values of `ckaad demo`. */
export interface DemoValues extends ModelValues {
  out: string;
  backend?: string;
  threads?: number;
  classes: SyntheticClass[];
  strategies: Strategy[];
  trainCount: number;
  testGoodCount: number;
  testDefectCount: number;
  epochs: number;
  batchSize: number;
  lr: number;
  heatmaps: number | 'all';
  seed: number;
  sigma?: number;
  topK?: number | 'mean';
  saveModels: boolean;
  json: boolean;
}

function parseClasses(value: string): SyntheticClass[] {
  const list = value === 'all' ? [...SYNTHETIC_CLASSES] : value.split(',').map((c) => c.trim());
  for (const c of list) {
    if (!(SYNTHETIC_CLASSES as readonly string[]).includes(c)) {
      throw new CommanderArgumentError(`Expected names among ${SYNTHETIC_CLASSES.join(', ')} or 'all' (unknown: ${c}).`);
    }
  }
  return list as SyntheticClass[];
}

/** One line per setting, printed before the run and stored in results.json. */
function configuration(v: DemoValues, backend: string, layers: readonly string[], scoring: { sigma: number; topK: number | 'mean' }): Record<string, unknown> {
  return {
    backend,
    backbone: v.backbone,
    layers,
    weights: v.weights ?? 'random (no download possible offline)',
    imageSize: v.imageSize,
    classes: v.classes,
    trainImagesPerClass: v.trainCount,
    testImagesPerClass: v.testGoodCount + SYNTHETIC_DEFECTS.length * v.testDefectCount,
    epochs: v.epochs,
    batchSize: v.batchSize,
    aeLearningRate: v.lr,
    strategies: v.strategies.map((s) => s.name),
    sigma: scoring.sigma,
    topK: scoring.topK,
    labelledAnomalies: 'elastic transformations of the normal images (docs/reference-implementation.md §5)',
    seed: v.seed,
  };
}

/** Runs `ckaad demo` (see the module notes); returns the results.json contents. */
export async function runDemo(v: DemoValues, ctx: CommandContext): Promise<Record<string, unknown>> {
  const { io } = ctx;
  const started = io.now();
  const config = await modelConfig({ ...v, seed: v.seed });
  // σ = 4 and top-100 are the paper's values at 256×256: keep them the same size relative to the image.
  const scoring = {
    sigma: v.sigma ?? (4 * v.imageSize) / 256,
    topK: v.topK ?? Math.max(1, Math.round((100 * v.imageSize * v.imageSize) / (256 * 256))),
  };
  // Every strategy's options, checked before anything is written (errors name the flag).
  const trainers = new Map(
    v.strategies.map((strategy) => [
      strategy,
      trainerOptionsOf(
        { strategy, epochs: v.epochs, batchSize: v.batchSize, lr: v.lr, dLr: 1e-4, clipNorm: 1, seed: v.seed, anomalyShuffle: TRAINER_DEFAULTS.anomalyShuffle, sigma: scoring.sigma, topK: scoring.topK, resume: false, microBatches: 1 },
        config.imageSize,
      ),
    ]),
  );
  const out = await stageOutput(v.out, '--out');
  /** Where a file written into the staging folder is once the run has succeeded. */
  const finalPath = (path: string): string => {
    const rel = relative(out.dir, path);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : join(out.target, rel);
  };
  try {
    const backend = await selectBackend(v.backend, v.threads);
    const settings = configuration(v, backend, config.extractor.layers, scoring);
    log(io, `ckaad demo: ${Object.entries(settings).map(([k, x]) => `${k} ${Array.isArray(x) ? x.join(',') : String(x)}`).join('; ')}`);
    if (v.weights === undefined) {
      log(io, 'ckaad demo: the backbone is randomly initialised (nothing can be downloaded offline): the numbers show that the pipeline works, not what CKAAD achieves with ImageNet weights (--weights).');
    }

    const dataRoot = join(out.dir, 'data');
    await generateSyntheticDefects({
      target: dataRoot,
      size: v.imageSize,
      seed: v.seed,
      classes: v.classes,
      trainCount: v.trainCount,
      testGoodCount: v.testGoodCount,
      testDefectCount: v.testDefectCount,
    });
    log(io, `ckaad demo: synthetic defect set written (${formatDuration((io.now() - started) / 1000)})`);

    const extractor = await buildExtractor(config, io, false);
    const results: (ModelResult & { class: string; trainSeconds: number })[] = [];
    try {
      for (const cls of v.classes) {
        const dataset = await openDataset({ dataset: 'mvtec', root: dataRoot, category: cls });
        // Any r_l > 0 turns on the industrial setting's elastic anomalies (one per normal image).
        const split = trainingSplit(dataset, { ratio: 0.05, k: 1, validationFraction: 0, seed: v.seed });
        for (const strategy of v.strategies) {
          const trainer = trainers.get(strategy) as ReturnType<typeof trainerOptionsOf>;
          const outcome = await trainOnSplit({
            split,
            imageSize: config.imageSize,
            extractor,
            extractorOptions: config.extractor,
            trainer,
            onBadImage: 'fail',
            label: `${cls}: train ${strategy.name}`,
            io,
            signal: ctx.signal,
          });
          const { autoencoder } = outcome.result;
          try {
            const name = `${cls}-${strategy.name.toLowerCase()}`;
            if (v.saveModels) {
              await saveModel(modelFolder(join(out.dir, 'models', name)), {
                extractor: await describeExtractor(config.extractor),
                autoencoder,
                imageSize: config.imageSize,
                scoring,
                training: trainingRecord(outcome.trainer, outcome.result),
              });
            }
            const evaluation = await evaluate({
              model: { extractor, autoencoder, scoring, imageSize: config.imageSize },
              items: dataset.test,
              labelled: true,
              batchSize: 16,
              onBadImage: 'fail',
              heatmaps: v.heatmaps,
              output: { dir: out.dir, subdir: `heatmaps/${name}` },
              label: `${cls}: score ${strategy.name}`,
              io,
              signal: ctx.signal,
            });
            results.push({
              class: cls,
              name,
              path: v.saveModels ? join(out.target, 'models', name) : '',
              strategy: strategy.name,
              imageSize: config.imageSize,
              trainSeconds: outcome.seconds,
              ...evaluation,
              // The data is read from the staging folder, which becomes --out: record where the
              // images will be.
              images: evaluation.images.map((i) => ({ ...i, path: finalPath(i.path) })),
              skipped: evaluation.skipped.map((k) => ({ ...k, path: finalPath(k.path) })),
            });
          } finally {
            autoencoder.dispose();
          }
        }
      }
    } finally {
      extractor.dispose();
    }

    const wallSeconds = (io.now() - started) / 1000;
    const table = markdownTable(
      ['class', 'strategy', 'image AUROC', 'pixel AUROC', 'PRO@0.3', 'train s', 'test images'],
      results.map((r) => [r.class, r.strategy ?? '', fmt(r.metrics.imageAuroc), fmt(r.metrics.pixelAuroc), fmt(r.metrics.pro), r.trainSeconds.toFixed(0), String(r.counts.scored)]),
      ['image AUROC', 'pixel AUROC', 'PRO@0.3', 'train s', 'test images'],
    );
    const backboneNote =
      v.weights === undefined
        ? 'Backbone: randomly initialised (no download possible offline) — the numbers show the pipeline works, not what CKAAD achieves with ImageNet weights.'
        : `Backbone weights: ${v.weights}.`;
    const setup =
      `${v.classes.length} synthetic class(es) at ${v.imageSize}×${v.imageSize}, ${v.trainCount} normal training images each, ` +
      `${v.epochs} epochs, batch ${v.batchSize}, backend ${backend}, ${config.extractor.arch} [${config.extractor.layers.join(', ')}], ` +
      `maps smoothed with σ ${scoring.sigma}, image score ${scoring.topK === 'mean' ? 'the mean of the map' : `the mean of its top ${scoring.topK} values`}`;
    const report = {
      format: RESULTS_FORMAT,
      version: 1,
      command: 'demo',
      configuration: settings,
      wallSeconds,
      models: results,
    };
    await writeJson(join(out.dir, RESULTS_FILE), report);
    await writeText(
      join(out.dir, 'results.md'),
      `# ckaad demo\n\n${setup}.\n${backboneNote}\n\n${table}\n\nWall time: ${formatDuration(wallSeconds)}.\n`,
    );
    await out.commit();
    if (v.json) println(io, JSON.stringify(report, null, 2));
    else {
      println(io, table);
      println(io);
      println(io, `${setup}.`);
      println(io, backboneNote);
      println(io, `Wall time ${formatDuration(wallSeconds)} (${wallSeconds.toFixed(1)} s). Data, results.json, results.md and heat maps${v.saveModels ? ', models' : ''} in ${out.target}`);
    }
    return report;
  } catch (e) {
    await out.discard();
    throw e;
  }
}

/** Adds `demo` to the program. */
export function registerDemo(program: Command, ctx: CommandContext): void {
  const d = DEMO_DEFAULTS;
  const cmd = program
    .command('demo')
    .summary('generate synthetic defects, train Recon and CKAPatch, compare them (offline, a few minutes)')
    .description(
      'Generate the synthetic fine-grained defect set, train Recon and CKAPatch on it, and print image AUROC, pixel AUROC ' +
        'and PRO side by side with the wall time. Writes the data, results.json, results.md and heat maps (and with ' +
        '--save-models the models) to --out. Without --weights the backbone is randomly initialised: nothing can be ' +
        'downloaded offline, so the numbers show that the pipeline works, not what CKAAD achieves.',
    )
    .option('--out <dir>', 'output folder (replaced as a whole when the run succeeds)', d.out)
    .addOption(new Option('--classes <list>', `synthetic classes, comma-separated, or 'all' (${SYNTHETIC_CLASSES.join(', ')})`).argParser(parseClasses).default([...d.classes], d.classes.join(',')))
    .addOption(new Option('--strategies <list>', 'strategies to compare, comma-separated').argParser(parseStrategies).default([STRATEGIES.Recon, STRATEGIES.CKAPatch], 'Recon,CKAPatch'))
    .option('--train-count <n>', 'normal training images per class', integerAtLeast(1), d.trainCount)
    .option('--test-good-count <n>', 'normal test images per class', integerAtLeast(1), d.testGoodCount)
    .option('--test-defect-count <n>', 'test images per class and defect type (4 types)', integerAtLeast(1), d.testDefectCount)
    .option('--epochs <n>', 'training epochs', integerAtLeast(1), d.epochs)
    .option('--batch-size <n>', 'normal images per step', integerAtLeast(1), d.batchSize)
    .option('--lr <rate>', 'Adam learning rate of the auto-encoder (the paper\'s industrial setting: 5e-3)', numberIn(0, Infinity, { loOpen: true }), d.lr)
    .option('--heatmaps <n>', "heat-map overlays per model, or 'all'", parseHeatmaps, d.heatmaps)
    .option('--seed <n>', 'seed of the data, the weights and the batch order', integerAtLeast(0), d.seed)
    .option('--sigma <σ>', 'Gaussian σ of the anomaly maps (default: 4 scaled to the image size, i.e. 4·size/256)', numberIn(0, Infinity, { loOpen: true }))
    .option('--save-models', 'also save the trained models (about 54 MB each for resnet18) to <out>/models for `eval` and `score`', false)
    .option('--top-k <k>', "image score: mean of the top-k map values, or 'mean' (default: 100 scaled to the image area, 100·(size/256)²)", parseTopK);
  addModelOptions(cmd, d.imageSize);
  addBackendOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (values: DemoValues) => {
    await runDemo(values, ctx);
  });
}
