/**
 * TypeScript side of ckaad's differential harness against the authors' code (docs/fidelity.md).
 *
 * Reads a folder written by `scripts/fidelity/reference.py run` (the authors' own training
 * function, instrumented) and redoes the same computation with ckaad, from the same initial
 * auto-encoder / discriminator weights, on the same batches (the Fashion-MNIST indices the
 * authors' loaders drew), with the same backbone file. Parts (--parts, comma-separated):
 *
 * - `pipeline`: ckaad's input tensors for the IDX records of the first step (decode,
 *   grey → RGB, Pillow-bilinear resize to 64, ImageNet normalisation) against those of the
 *   authors' transform; the backbone's features on the authors' own input tensors and on
 *   ckaad's; the training / validation split sizes of both protocols.
 * - `modules`: a step assembled from ckaad's public pieces (FeatureAutoEncoder,
 *   EnergyDiscriminator, the loss functions, clipByGlobalNorm, tfjs's Adam), compared per
 *   step: every loss, the gradient norms, and — for the steps the Python side dumped
 *   (--dump-steps) — features, reconstructions, the auto-encoder's gradients and every
 *   parameter after the Adam updates. With --yardstick (a `reference.py run --float64` of the
 *   same setting) each difference is printed next to the authors' own float32-vs-float64
 *   difference: what float32 rounding alone does to the trajectory.
 * - `trainer`: CKAADTrainer.fit itself, started from the authors' initial weights (written
 *   into a step-0 checkpoint and resumed), on datasets that hand it the authors' batches;
 *   per-step losses (onStep) and all parameters after the last step (when dumped) compared.
 *   The trainer draws anomaly batches on the authors' schedule (`anomalyShuffle:
 *   'every-epoch'`), validates every epoch on the authors' validation split and, with
 *   --test, scores the test split of every epoch; both against the authors' own evaluation
 *   (a `reference.py run --eval`).
 * - `score` (with --score-run DIR of `reference.py score`): ckaad's Scorer on the whole test
 *   split with the weights the authors' evaluation scored there; per-image scores and AUROC.
 *
 * Imports the built package ('ckaad' resolves to this checkout's dist/ by self-reference):
 * training needs the gradient functions the bundle registers. Build first (npm run build).
 *
 *   npx tsx --tsconfig examples/tsconfig.json scripts/fidelity/replay.ts --run /tmp/fid/recon --backbone weights/resnet18-random-seed0.safetensors
 *   npx tsx --tsconfig examples/tsconfig.json scripts/fidelity/replay.ts --run DIR --backbone FILE --parts modules --yardstick DIR64
 *   npx tsx --tsconfig examples/tsconfig.json scripts/fidelity/replay.ts --run DIR --backbone FILE --parts trainer --steps 0 --test
 *   npx tsx --tsconfig examples/tsconfig.json scripts/fidelity/replay.ts --run DIR --backbone FILE --parts score --score-run SCOREDIR
 *
 * Writes `<run>/replay-<part>.json` with every compared number and prints a summary.
 */

import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs-core';

import { CKAADTrainer, CKAPatch, EnergyDiscriminator, FeatureAutoEncoder, Recon, Scorer, createResNetExtractor, memoryStorage, pixelDataset, readCheckpointProgress, readSafetensors, sampleProtocol, useBackend } from 'ckaad';
import type { EpochLog, ImageDataset, ResNetFeatureExtractor, StepLog } from 'ckaad';
import { imageAuroc } from 'ckaad/metrics';
import { clipByGlobalNorm, energyDiscriminatorLoss, energyGeneratorLoss, reconstructionLoss } from 'ckaad/nn';
import { FASHION_MNIST_CLASSES, idxPixels, readIdxDataset } from 'ckaad/node';
import type { IdxDataset } from 'ckaad/node';


// ---------------------------------------------------------------------------------------
// what reference.py wrote

/** One line of steps.jsonl. */
interface ReferenceStep {
  step: number;
  epoch: number;
  normal: number[];
  anomalies: number[] | null;
  lRec: number;
  dTerms: number[];
  lD: number;
  lAdv: number;
  lAe: number;
  aeGradNorm: number;
  dGradNorm: number;
}

/** One line of epochs.jsonl. */
interface ReferenceEpoch {
  epoch: number;
  lRec: number;
  lD: number;
  validation: { AUROC: number } | null;
  test: { AUROC: number } | null;
}

/** split.json: Fashion-MNIST training-set indices. */
interface ReferenceSplit {
  normal: number[];
  anomalies: number[];
  validation: number[];
  validationTargets: number[];
  test: number;
}

/** run.json. */
interface ReferenceRun {
  arm: 'recon' | 'ckapatch';
  float64?: boolean;
  authorsArgs: {
    normal: string;
    labeled_anomaly_class: number;
    labeled_anomaly_ratio: number;
    seed: number;
    batch_size: number;
    img_size: number;
    lr: number;
    d_lr: number;
    adv_conf: number;
  };
}

interface Reference {
  dir: string;
  run: ReferenceRun;
  steps: ReferenceStep[];
  split: ReferenceSplit;
}

const USAGE =
  'usage: npx tsx --tsconfig examples/tsconfig.json scripts/fidelity/replay.ts --run DIR --backbone FILE [--parts pipeline,modules,trainer,score] ' +
  '[--steps 20 (0: all)] [--yardstick DIR] [--test] [--score-run DIR] [--backend wasm|cpu] [--threads 1] [--epsilon 1e-8 (modules: Adam ε)] [--micro-batches 1 (trainer: same update, other rounding)]';

const { values: opts } = parseArgs({
  options: {
    run: { type: 'string' },
    backbone: { type: 'string' },
    data: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    parts: { type: 'string', default: 'pipeline,modules,trainer' },
    steps: { type: 'string', default: '20' },
    yardstick: { type: 'string' },
    test: { type: 'boolean', default: false },
    'score-run': { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '1' },
    epsilon: { type: 'string', default: '1e-8' },
    'micro-batches': { type: 'string', default: '1' },
  },
});

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const LAYERS = ['layer2', 'layer3'] as const;
const PARTS = ['pipeline', 'modules', 'trainer', 'score'];

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

async function readLines<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as T);
}

async function readReference(dir: string): Promise<Reference> {
  const run = await readJson<ReferenceRun>(join(dir, 'run.json')).catch(() => fail(`${dir} is not a folder written by reference.py run (no run.json)`));
  return { dir, run, steps: await readLines<ReferenceStep>(join(dir, 'steps.jsonl')), split: await readJson<ReferenceSplit>(join(dir, 'split.json')) };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Float32 tensors of a safetensors file, by name (the caller disposes). */
async function readTensors(path: string | Uint8Array, filter: (name: string) => boolean = () => true): Promise<Map<string, tf.Tensor>> {
  const reader = await readSafetensors(path);
  try {
    const out = new Map<string, tf.Tensor>();
    for (const name of reader.names) {
      if (filter(name)) out.set(name, tf.tensor(await reader.float32(name), [...reader.info(name).shape], 'float32'));
    }
    return out;
  } finally {
    await reader.close();
  }
}

/** Assigns `values` (names after `prefix`) to `parameters`; the names must be exactly the parameters'. */
function assignAll(parameters: Map<string, tf.Variable>, values: Map<string, tf.Tensor>, prefix = ''): void {
  const expected = [...parameters.keys()].map((n) => prefix + n);
  const found = [...values.keys()].filter((n) => n.startsWith(prefix));
  const missing = expected.filter((n) => !values.has(n));
  const extra = found.filter((n) => !parameters.has(n.slice(prefix.length)));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`parameter names differ: missing [${missing.slice(0, 5).join(', ')}], unexpected [${extra.slice(0, 5).join(', ')}]`);
  }
  for (const [name, v] of parameters) v.assign(values.get(prefix + name) as tf.Tensor);
}

// ---------------------------------------------------------------------------------------
// comparisons (in float64, on downloaded values)

/** Relative L2 difference ‖a − b‖ / ‖b‖ and max |a − b|. */
function diff(a: ArrayLike<number>, b: ArrayLike<number>): { rel: number; maxAbs: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d2 = 0;
  let b2 = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    d2 += d * d;
    b2 += b[i] * b[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { rel: b2 === 0 ? Math.sqrt(d2) : Math.sqrt(d2 / b2), maxAbs };
}

function tensorDiff(a: tf.Tensor, b: tf.Tensor): { rel: number; maxAbs: number } {
  if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`shape [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  return diff(a.dataSync(), b.dataSync());
}

function relScalar(a: number, b: number): number {
  return b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b);
}

/** L2 norm of a list of tensors, summed in float64. */
function norm(tensors: readonly tf.Tensor[]): number {
  let s = 0;
  for (const t of tensors) for (const v of t.dataSync()) s += v * v;
  return Math.sqrt(s);
}

/** Relative L2 difference of two named tensor sets over all of them as one vector, and the worst single tensor. */
function setDiff(names: readonly string[], a: (name: string) => tf.Tensor, b: (name: string) => tf.Tensor) {
  let d2 = 0;
  let b2 = 0;
  let worst = { name: '', rel: 0 };
  for (const name of names) {
    const x = a(name).dataSync();
    const y = b(name).dataSync();
    let dd = 0;
    let bb = 0;
    for (let i = 0; i < x.length; i++) {
      const d = x[i] - y[i];
      dd += d * d;
      bb += y[i] * y[i];
    }
    d2 += dd;
    b2 += bb;
    const rel = Math.sqrt(dd / Math.max(bb, 1e-30));
    if (rel > worst.rel) worst = { name, rel };
  }
  return { rel: Math.sqrt(d2 / b2), worst };
}

function fromMap(map: Map<string, tf.Tensor>, prefix: string): (name: string) => tf.Tensor {
  return (name) => {
    const t = map.get(prefix + name);
    if (t === undefined) throw new Error(`no tensor ${prefix + name}`);
    return t;
  };
}

const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(2));

// ---------------------------------------------------------------------------------------
// ckaad's inputs for IDX records

let fashion: IdxDataset | null = null;
function dataset(): IdxDataset {
  if (fashion === null) throw new Error('Fashion-MNIST not loaded yet');
  return fashion;
}

/** ckaad's preprocessed input for images `indices` of a split (the experiment runner's path). */
function inputs(indices: readonly number[], split: 'train' | 'test' = 'train'): tf.Tensor4D {
  const ds = dataset();
  const images = split === 'train' ? ds.trainImages : ds.testImages;
  const size = 64;
  // The experiment runner's dataset of images in memory (pipeline/pixels.ts sourceDataset).
  return pixelDataset({ images: idxPixels(images, indices, size), count: indices.length, size }).batch(indices.map((_, i) => i));
}

/** An ImageDataset over fixed IDX training images (the authors' validation split). */
function idxDataset(indices: readonly number[]): ImageDataset {
  return { size: indices.length, random: false, batch: (picked) => inputs(picked.map((i) => indices[i])) };
}

/** ckaad's scores and AUROC of `autoencoder` on the whole Fashion-MNIST test split. */
async function scoreTestSplit(extractor: ResNetFeatureExtractor, autoencoder: FeatureAutoEncoder, normalLabel: number) {
  const ds = dataset();
  const scorer = new Scorer({ extractor, autoencoder, sigma: 4, topK: 100, keepMaps: false });
  const count = ds.testImages.count;
  const batchSize = 64;
  function* batches(): Generator<tf.Tensor4D> {
    for (let start = 0; start < count; start += batchSize) {
      const x = inputs(Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i), 'test');
      try {
        yield x;
      } finally {
        x.dispose();
      }
    }
  }
  const started = performance.now();
  const { scores } = await scorer.score(batches());
  const labels = Uint8Array.from(ds.test.map((s) => (s.labelValue === normalLabel ? 0 : 1)));
  return { scores, labels, auroc: imageAuroc(labels, scores), seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------
// part: pipeline

async function pipeline(extractor: ResNetFeatureExtractor, ref: Reference) {
  const dump = await readTensors(join(ref.dir, 'step-1.safetensors'), (n) => n.startsWith('input.') || n.startsWith('features.'));
  const report: Record<string, unknown> = {};
  const first = ref.steps[0];
  const kinds: ['normal' | 'anomalies', number[] | null][] = [
    ['normal', first.normal],
    ['anomalies', first.anomalies],
  ];
  for (const [kind, indices] of kinds) {
    if (indices === null) continue;
    const theirs = dump.get(`input.${kind}`) as tf.Tensor4D;
    const ours = inputs(indices);
    report[`input.${kind}`] = tensorDiff(ours, theirs);
    // The backbone on the authors' own input tensors isolates it from preprocessing.
    const fromTheirs = extractor.extract(theirs);
    const fromOurs = extractor.extract(ours);
    fromTheirs.forEach((m, l) => {
      const expected = dump.get(`features.${kind}.${l}`) as tf.Tensor;
      report[`features.${kind}.${LAYERS[l]} (their input)`] = tensorDiff(m, expected);
      report[`features.${kind}.${LAYERS[l]} (our input)`] = tensorDiff(fromOurs[l], expected);
    });
    tf.dispose([ours, ...fromTheirs, ...fromOurs]);
  }
  tf.dispose([...dump.values()]);

  // The two protocols' splits on this setting.
  const ds = dataset();
  const args = ref.run.authorsArgs;
  const normalLabel = Number(args.normal);
  const ours = sampleProtocol(ds.train, {
    normalClass: FASHION_MNIST_CLASSES[normalLabel],
    labelledRatio: args.labeled_anomaly_ratio,
    anomalyClass: args.labeled_anomaly_ratio > 0 ? FASHION_MNIST_CLASSES[args.labeled_anomaly_class] : undefined,
    seed: args.seed,
    classes: FASHION_MNIST_CLASSES,
  });
  const theirValidationNormal = ref.split.validationTargets.filter((t) => t === normalLabel).length;
  report.split = {
    authors: {
      normal: ref.split.normal.length,
      labelledAnomalies: ref.split.anomalies.length,
      validationNormal: theirValidationNormal,
      validationAnomalous: ref.split.validation.length - theirValidationNormal,
      stepsPerEpoch: Math.floor(ref.split.normal.length / args.batch_size),
      labelledClasses: [...new Set(ref.split.anomalies.map((i) => ds.train[i].className))],
      normalImagesAllOfTheNormalClass: ref.split.normal.every((i) => ds.train[i].labelValue === normalLabel),
    },
    ckaad: {
      normal: ours.normal.length,
      labelledAnomalies: ours.labelledAnomalies.length,
      validationNormal: ours.validation.filter((v) => v.label === 0).length,
      validationAnomalous: ours.validation.filter((v) => v.label === 1).length,
      stepsPerEpoch: Math.floor(ours.normal.length / args.batch_size),
      labelledClasses: ours.labelledClasses,
    },
  };
  console.log(JSON.stringify(report, null, 1));
  return report;
}

// ---------------------------------------------------------------------------------------
// part: modules

interface StepComparison {
  step: number;
  /** [ckaad, authors, authors in float64 or null] */
  lRec: [number, number, number | null];
  lD: [number, number, number | null];
  lAdv: [number, number, number | null];
  aeGradNorm: [number, number, number | null];
  dGradNorm: [number, number, number | null];
  /** Relative L2 of ckaad's features / reconstructions vs the authors' (dumped steps). */
  tensors?: Record<string, number>;
  /** The same for the authors' float32 run vs its float64 twin. */
  tensorsNoise?: Record<string, number>;
  /** Relative L2 of the auto-encoder's gradients: ckaad vs authors, authors vs float64. */
  aeGrads?: { ckaad: number; authorsVsFloat64: number | null; worst: string };
  /** Relative L2 of all parameters after the step: ckaad vs authors, authors vs float64, ckaad vs float64. */
  aeParams?: { ckaad: number; authorsVsFloat64: number | null; ckaadVsFloat64: number | null; worst: string };
  dParams?: { ckaad: number; authorsVsFloat64: number | null; ckaadVsFloat64: number | null };
}

async function modules(extractor: ResNetFeatureExtractor, ref: Reference, yardstick: Reference | null, maxSteps: number) {
  const adversarial = ref.run.arm === 'ckapatch';
  const args = ref.run.authorsArgs;
  const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: [...LAYERS] });
  const d = adversarial ? new EnergyDiscriminator({ channels: [...extractor.channels] }) : null;
  const init = await readTensors(join(ref.dir, 'init', 'autoencoder.safetensors'));
  assignAll(ae.parameters(), init);
  tf.dispose([...init.values()]);
  if (d !== null) {
    const dInit = await readTensors(join(ref.dir, 'init', 'discriminator.safetensors'));
    assignAll(d.parameters(), dInit);
    tf.dispose([...dInit.values()]);
  }
  // ckaad's trainer: tfjs Adam with the authors' betas and PyTorch's ε (src/training/adam.ts).
  const aeOpt = tf.train.adam(args.lr, 0.5, 0.999, epsilon);
  const dOpt = tf.train.adam(args.d_lr, 0.5, 0.999, epsilon);
  const aeNames = [...ae.parameters().keys()];
  const dNames = d === null ? [] : [...d.parameters().keys()];
  const rows: StepComparison[] = [];
  for (const step of maxSteps > 0 ? ref.steps.slice(0, maxSteps) : ref.steps) {
    const y = yardstick?.steps[step.step - 1] ?? null;
    if (y !== null && (y.normal.join() !== step.normal.join() || (y.anomalies ?? []).join() !== (step.anomalies ?? []).join())) {
      throw new Error(`--yardstick: step ${step.step} has other batches than --run (use the same seed and settings)`);
    }
    const xN = inputs(step.normal);
    const xA = step.anomalies === null || !adversarial ? null : inputs(step.anomalies);
    const fN = extractor.extract(xN);
    const fA = xA === null ? null : extractor.extract(xA);
    const n = step.normal.length;
    const all = fA === null ? fN : fN.map((m, l) => tf.concat([m, fA[l]]));
    const recon0 = ae.reconstruct(all); // before this step's update, as dumped by the authors' side
    let lD = 0;
    let dNorm = 0;
    if (d !== null && fA !== null) {
      // The discriminator first, on detached inputs; clipped; one Adam step (as the trainer).
      const dVars = [...d.parameters().values()];
      const { value, grads } = tf.variableGrads(
        () => energyDiscriminatorLoss({ normal: d.forward(fN), anomalous: d.forward(fA), reconstructed: d.forward(recon0) }, { gamma: 0.5, margin: 5 }),
        dVars,
      );
      const list = dVars.map((v) => grads[v.name]);
      const { clipped, norm: clipNorm } = clipByGlobalNorm(list, 1);
      lD = value.dataSync()[0];
      dNorm = norm(list);
      dOpt.applyGradients(dVars.map((v, i) => ({ name: v.name, tensor: clipped[i] })));
      tf.dispose([value, clipNorm, ...clipped, ...Object.values(grads)]);
    }
    // Then the auto-encoder on L_rec(N) + λ·L_adv with the updated discriminator.
    const aeVars = [...ae.parameters().values()];
    let lRec = 0;
    let lAdv = 0;
    const { value, grads } = tf.variableGrads(() => {
      const recon = ae.reconstruct(all);
      const rN = fA === null ? recon : recon.map((r) => tf.slice(r, [0, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D);
      const rec = reconstructionLoss(fN, rN);
      lRec = rec.dataSync()[0];
      if (d === null || fA === null) return rec;
      const adv = energyGeneratorLoss(d.forward(recon));
      lAdv = adv.dataSync()[0];
      return tf.add(rec, tf.mul(args.adv_conf, adv)) as tf.Scalar;
    }, aeVars);
    const aeGrads = new Map(aeNames.map((name, i) => [name, grads[aeVars[i].name]]));
    const aeNorm = norm([...aeGrads.values()]);

    const row: StepComparison = {
      step: step.step,
      lRec: [lRec, step.lRec, y?.lRec ?? null],
      lD: [lD, step.lD, y?.lD ?? null],
      lAdv: [lAdv, step.lAdv, y?.lAdv ?? null],
      aeGradNorm: [aeNorm, step.aeGradNorm, y?.aeGradNorm ?? null],
      dGradNorm: [dNorm, step.dGradNorm, y?.dGradNorm ?? null],
    };
    const dumpPath = join(ref.dir, `step-${step.step}.safetensors`);
    const yardPath = yardstick === null ? null : join(yardstick.dir, `step-${step.step}.safetensors`);
    const dump = (await exists(dumpPath)) ? await readTensors(dumpPath) : null;
    const yard = yardPath !== null && (await exists(yardPath)) ? await readTensors(yardPath, (name) => !name.startsWith('input.')) : null;
    if (dump !== null && dump.has(`grad.ae.${aeNames[0]}`)) {
      const g = setDiff(aeNames, (name) => aeGrads.get(name) as tf.Tensor, fromMap(dump, 'grad.ae.'));
      row.aeGrads = {
        ckaad: g.rel,
        authorsVsFloat64: yard === null ? null : setDiff(aeNames, fromMap(dump, 'grad.ae.'), fromMap(yard, 'grad.ae.')).rel,
        worst: `${g.worst.name} ${fmt(g.worst.rel)}`,
      };
    }
    aeOpt.applyGradients(aeVars.map((v, i) => ({ name: v.name, tensor: grads[v.name] ?? tf.zerosLike(aeVars[i]) })));
    tf.dispose([value, ...Object.values(grads)]);

    if (dump !== null) {
      const t: Record<string, number> = {};
      const groups: [string, tf.Tensor4D[] | null][] = [
        ['features.normal', fN],
        ['features.anomalies', fA],
      ];
      for (const [name, maps] of groups) maps?.forEach((m, l) => (t[`${name}.${LAYERS[l]}`] = tensorDiff(m, dump.get(`${name}.${l}`) as tf.Tensor).rel));
      recon0.forEach((r, l) => {
        const rN = tf.slice(r, [0, 0, 0, 0], [n, -1, -1, -1]);
        t[`recon.normal.${LAYERS[l]}`] = tensorDiff(rN, dump.get(`recon.normal.${l}`) as tf.Tensor).rel;
        rN.dispose();
        if (fA !== null) {
          const rA = tf.slice(r, [n, 0, 0, 0], [-1, -1, -1, -1]);
          t[`recon.anomalies.${LAYERS[l]}`] = tensorDiff(rA, dump.get(`recon.anomalies.${l}`) as tf.Tensor).rel;
          rA.dispose();
        }
      });
      row.tensors = t;
      if (yard !== null) {
        row.tensorsNoise = {};
        for (const name of Object.keys(t)) {
          const [group, kind, layer] = name.split('.');
          const key = `${group}.${kind}.${LAYERS.indexOf(layer as (typeof LAYERS)[number])}`;
          row.tensorsNoise[name] = tensorDiff(dump.get(key) as tf.Tensor, yard.get(key) as tf.Tensor).rel;
        }
      }
      const mine = fromMap(ae.parameters() as Map<string, tf.Tensor>, '');
      const p = setDiff(aeNames, mine, fromMap(dump, 'ae.'));
      row.aeParams = {
        ckaad: p.rel,
        authorsVsFloat64: yard === null ? null : setDiff(aeNames, fromMap(dump, 'ae.'), fromMap(yard, 'ae.')).rel,
        ckaadVsFloat64: yard === null ? null : setDiff(aeNames, mine, fromMap(yard, 'ae.')).rel,
        worst: `${p.worst.name} ${fmt(p.worst.rel)}`,
      };
      if (d !== null && dump.has(`d.${dNames[0]}`)) {
        const dMine = fromMap(d.parameters() as Map<string, tf.Tensor>, '');
        row.dParams = {
          ckaad: setDiff(dNames, dMine, fromMap(dump, 'd.')).rel,
          authorsVsFloat64: yard === null ? null : setDiff(dNames, fromMap(dump, 'd.'), fromMap(yard, 'd.')).rel,
          ckaadVsFloat64: yard === null ? null : setDiff(dNames, dMine, fromMap(yard, 'd.')).rel,
        };
      }
    }
    tf.dispose([...(dump?.values() ?? []), ...(yard?.values() ?? [])]);
    rows.push(row);
    tf.dispose([xN, ...(xA === null ? [] : [xA]), ...fN, ...(fA ?? []), ...recon0, ...(fA === null ? [] : all)]);
    printStep('modules', row, adversarial);
  }
  ae.dispose();
  d?.dispose();
  aeOpt.dispose();
  dOpt.dispose();
  return { rows, summary: summarise(rows) };
}

function printStep(part: string, row: StepComparison, adversarial: boolean): void {
  const scalar = (name: string, [ours, theirs, f64]: [number, number, number | null]) =>
    ` ${name} ${fmt(relScalar(ours, theirs))}${f64 === null ? '' : ` (f32 noise ${fmt(relScalar(theirs, f64))})`}`;
  let line = `${part} step ${row.step}: L_rec ${row.lRec[0].toFixed(6)} vs ${row.lRec[1].toFixed(6)}:` + scalar('L_rec', row.lRec);
  if (adversarial) line += scalar('L_D', row.lD) + scalar('L_adv', row.lAdv) + scalar('|g_D|', row.dGradNorm);
  if (row.aeGradNorm[1] !== 0) line += scalar('|g_AE|', row.aeGradNorm); // the trainer does not report it
  if (row.tensors !== undefined) {
    line += ` | features/recon ≤ ${fmt(Math.max(...Object.values(row.tensors)))}`;
    if (row.tensorsNoise !== undefined) line += ` (f32 noise ${fmt(Math.max(...Object.values(row.tensorsNoise)))})`;
  }
  if (row.aeGrads !== undefined) line += ` | grads ${fmt(row.aeGrads.ckaad)}${row.aeGrads.authorsVsFloat64 === null ? '' : ` (f32 noise ${fmt(row.aeGrads.authorsVsFloat64)})`}`;
  if (row.aeParams !== undefined) {
    line += ` | params ${fmt(row.aeParams.ckaad)}${row.aeParams.authorsVsFloat64 === null ? '' : ` (f32 noise ${fmt(row.aeParams.authorsVsFloat64)}, ckaad vs f64 ${fmt(row.aeParams.ckaadVsFloat64 ?? 0)})`}`;
  }
  if (row.dParams !== undefined) {
    const p = row.dParams;
    line += ` D ${fmt(p.ckaad)}${p.authorsVsFloat64 === null ? '' : ` (f32 noise ${fmt(p.authorsVsFloat64)}, ckaad vs f64 ${fmt(p.ckaadVsFloat64 ?? 0)})`}`;
  }
  console.log(line);
}

/** Maximum over the steps of each relative difference (ckaad vs authors; authors vs float64 where known). */
function summarise(rows: readonly StepComparison[]) {
  const max = (f: (r: StepComparison) => number | null | undefined) => {
    const v = rows.map(f).filter((x): x is number => typeof x === 'number');
    return v.length === 0 ? null : Math.max(...v);
  };
  const pair = (key: 'lRec' | 'lD' | 'lAdv' | 'aeGradNorm' | 'dGradNorm') => ({
    ckaadVsAuthors: max((r) => relScalar(r[key][0], r[key][1])),
    authorsVsFloat64: max((r) => (r[key][2] === null ? null : relScalar(r[key][1], r[key][2] as number))),
  });
  return {
    steps: rows.length,
    lRec: pair('lRec'),
    lD: pair('lD'),
    lAdv: pair('lAdv'),
    aeGradNorm: pair('aeGradNorm'),
    dGradNorm: pair('dGradNorm'),
    aeParams: {
      ckaadVsAuthors: max((r) => r.aeParams?.ckaad),
      authorsVsFloat64: max((r) => r.aeParams?.authorsVsFloat64),
      ckaadVsFloat64: max((r) => r.aeParams?.ckaadVsFloat64),
    },
    dParams: {
      ckaadVsAuthors: max((r) => r.dParams?.ckaad),
      authorsVsFloat64: max((r) => r.dParams?.authorsVsFloat64),
      ckaadVsFloat64: max((r) => r.dParams?.ckaadVsFloat64),
    },
    aeGrads: { ckaadVsAuthors: max((r) => r.aeGrads?.ckaad), authorsVsFloat64: max((r) => r.aeGrads?.authorsVsFloat64) },
    featuresAndReconstructions: {
      ckaadVsAuthors: max((r) => (r.tensors === undefined ? null : Math.max(...Object.values(r.tensors)))),
      authorsVsFloat64: max((r) => (r.tensorsNoise === undefined ? null : Math.max(...Object.values(r.tensorsNoise)))),
    },
  };
}

// ---------------------------------------------------------------------------------------
// part: trainer

/**
 * An ImageDataset that hands the trainer the authors' batches: its k-th request for more
 * than one image returns the authors' k-th batch (one-image requests are the trainer's
 * probes and get `probeIndex`). With featureCache: false the trainer asks once per step.
 */
function replayDataset(size: number, probeIndex: number, batches: readonly (readonly number[])[], name: string): ImageDataset & { served(): number } {
  let next = 0;
  return {
    size,
    random: false,
    served: () => next,
    batch(indices: readonly number[]): tf.Tensor4D {
      if (indices.length === 1) return inputs([probeIndex]);
      const batch = batches[next];
      if (batch === undefined) throw new Error(`${name}: the trainer asked for batch ${next + 1}; the reference ran ${batches.length}`);
      if (batch.length !== indices.length) throw new Error(`${name}: batch ${next + 1} has ${batch.length} images in the reference, the trainer asked for ${indices.length}`);
      next += 1;
      return inputs(batch);
    },
  };
}

async function trainer(extractor: ResNetFeatureExtractor, ref: Reference, maxSteps: number, test: boolean) {
  const adversarial = ref.run.arm === 'ckapatch';
  const args = ref.run.authorsArgs;
  const normalLabel = Number(args.normal);
  const used = maxSteps > 0 ? ref.steps.slice(0, maxSteps) : ref.steps;
  const stepsPerEpoch = Math.floor(ref.split.normal.length / args.batch_size);
  const epochs = Math.ceil(used.length / stepsPerEpoch);
  const referenceEpochs = await readLines<ReferenceEpoch>(join(ref.dir, 'epochs.jsonl'));
  const normal = replayDataset(ref.split.normal.length, ref.split.normal[0], used.map((s) => s.normal), 'normal');
  const anomalies = adversarial ? replayDataset(ref.split.anomalies.length, ref.split.anomalies[0], used.map((s) => s.anomalies ?? []), 'anomalies') : null;
  // Validation every epoch, as in the authors' loop (it picks the reported epoch); --test adds the test split.
  const validation =
    ref.split.validation.length > 0
      ? { images: idxDataset(ref.split.validation), labels: Uint8Array.from(ref.split.validationTargets.map((t) => (t === normalLabel ? 0 : 1))) }
      : undefined;
  const checkpoint = memoryStorage(new Map(), 'fidelity checkpoint');
  const options = {
    strategy: adversarial ? CKAPatch : Recon,
    batchSize: args.batch_size,
    aeLearningRate: args.lr,
    dLearningRate: args.d_lr,
    lambda: args.adv_conf,
    epochs,
    seed: 0,
    featureCache: false as const,
    worker: false,
    checkpoint,
    // The authors' anomaly schedule (their itertools.cycle, rebuilt each epoch), so that the
    // trainer asks for anomaly batches of the sizes the reference drew for as long as it ran.
    anomalyShuffle: 'every-epoch' as const,
    // > 1: the same updates with other float rounding — how far rounding alone moves a run.
    microBatches,
  };
  const data = { normal, ...(anomalies === null ? {} : { anomalies }), ...(validation === undefined ? {} : { validation }) };
  try {
    // 1. A step-0 checkpoint, then the authors' initial weights in place of ckaad's own.
    const stop = new AbortController();
    stop.abort();
    (await new CKAADTrainer({ extractor }, options).fit(data, { signal: stop.signal })).autoencoder.dispose();
    if ((await readCheckpointProgress(checkpoint)) === null) throw new Error('no step-0 checkpoint was written');
    const files = new Map(checkpoint.files);
    files.set('autoencoder.safetensors', await readFile(join(ref.dir, 'init', 'autoencoder.safetensors')));
    if (adversarial) files.set('discriminator.safetensors', await readFile(join(ref.dir, 'init', 'discriminator.safetensors')));
    await checkpoint.write(files);

    // 2. Resume and train on the replayed batches; stop after the last one.
    const rows: StepComparison[] = [];
    const epochRows: Record<string, unknown>[] = [];
    const stopAfter = new AbortController();
    const result = await new CKAADTrainer({ extractor }, { ...options, resume: true }).fit(data, {
      signal: stopAfter.signal,
      onStep: (log: StepLog) => {
        const r = used[rows.length];
        const row: StepComparison = {
          step: log.step,
          lRec: [log.lRec, r.lRec, null],
          lD: [log.lD, r.lD, null],
          lAdv: [log.lAdv, r.lAdv, null],
          aeGradNorm: [0, 0, null],
          dGradNorm: [log.dGradNorm, r.dGradNorm, null],
        };
        rows.push(row);
        if (rows.length <= 20 || rows.length % stepsPerEpoch === 0) printStep('trainer', row, adversarial);
        if (rows.length >= used.length) stopAfter.abort();
      },
      onEpoch: async (log: EpochLog, autoencoder: FeatureAutoEncoder) => {
        const theirs = referenceEpochs.find((e) => e.epoch === log.epoch) ?? null;
        const entry: Record<string, unknown> = {
          epoch: log.epoch,
          lRec: [log.lRec, theirs?.lRec ?? null],
          lD: [log.lD, theirs?.lD ?? null],
          validationAuroc: [log.validationAuroc, theirs?.validation?.AUROC ?? null],
        };
        if (test) {
          const s = await scoreTestSplit(extractor, autoencoder, normalLabel);
          entry.testAuroc = [s.auroc, theirs?.test?.AUROC ?? null];
          entry.testSeconds = s.seconds;
        }
        epochRows.push(entry);
        console.log(`trainer epoch ${JSON.stringify(entry)}`);
      },
    });
    result.autoencoder.dispose();

    // 3. Parameters after the last step (the abort or the last epoch wrote them) against the authors'.
    const last = await readCheckpointProgress(checkpoint);
    const dumpPath = join(ref.dir, `step-${used.length}.safetensors`);
    let params: { ae: number; aeWorst: string; d: number | null } | null = null;
    if (last !== null && last.step === used.length && (await exists(dumpPath))) {
      const dump = await readTensors(dumpPath, (name) => name.startsWith('ae.') || name.startsWith('d.'));
      const mine = await readTensors(checkpoint.files.get('autoencoder.safetensors') ?? fail('the checkpoint has no auto-encoder'));
      const names = [...mine.keys()];
      const p = setDiff(names, fromMap(mine, ''), fromMap(dump, 'ae.'));
      let dRel: number | null = null;
      if (adversarial) {
        const dMine = await readTensors(checkpoint.files.get('discriminator.safetensors') ?? fail('the checkpoint has no discriminator'));
        dRel = setDiff([...dMine.keys()], fromMap(dMine, ''), fromMap(dump, 'd.')).rel;
        tf.dispose([...dMine.values()]);
      }
      params = { ae: p.rel, aeWorst: `${p.worst.name} ${fmt(p.worst.rel)}`, d: dRel };
      console.log(`trainer: parameters after step ${used.length}: auto-encoder ${fmt(p.rel)} (worst ${params.aeWorst})${dRel === null ? '' : `, discriminator ${fmt(dRel)}`}`);
      tf.dispose([...mine.values(), ...dump.values()]);
    }
    return { rows, epochs: epochRows, best: result.best, params, summary: summarise(rows), served: { normal: normal.served(), anomalies: anomalies?.served() ?? 0 } };
  } finally {
    await checkpoint.write(new Map()); // the checkpoint's tensors are no longer needed
  }
}

// ---------------------------------------------------------------------------------------
// part: score

async function score(extractor: ResNetFeatureExtractor, ref: Reference, scoreRun: string) {
  const ae = new FeatureAutoEncoder({ backbone: 'resnet18', layers: [...LAYERS] });
  const w = await readTensors(join(scoreRun, 'init', 'autoencoder.safetensors'));
  assignAll(ae.parameters(), w);
  tf.dispose([...w.values()]);
  const ours = await scoreTestSplit(extractor, ae, Number(ref.run.authorsArgs.normal));
  ae.dispose();
  const theirs = new Float32Array((await readFile(join(scoreRun, 'scores-test-1.f32'))).buffer.slice(0));
  const d = diff(ours.scores, theirs);
  const report = {
    images: ours.scores.length,
    scoresRelL2: d.rel,
    scoresMaxAbs: d.maxAbs,
    aurocCkaad: ours.auroc,
    aurocAuthors: imageAuroc(ours.labels, theirs),
    seconds: ours.seconds,
  };
  console.log(
    `score: ${report.images} test images, scores rel L2 ${fmt(d.rel)}, max |Δ| ${fmt(d.maxAbs)}; ` +
      `AUROC ckaad ${report.aurocCkaad.toFixed(6)} vs authors ${report.aurocAuthors.toFixed(6)}`,
  );
  return report;
}

// ---------------------------------------------------------------------------------------

const runDir = opts.run ?? fail('missing --run');
const backboneFile = opts.backbone ?? fail('missing --backbone');
const parts = (opts.parts ?? '').split(',').filter((p) => p.length > 0);
for (const p of parts) if (!PARTS.includes(p)) fail(`--parts: unknown part "${p}" (one of ${PARTS.join(', ')})`);
const maxSteps = Number(opts.steps);
if (!Number.isInteger(maxSteps) || maxSteps < 0) fail(`--steps: an integer ≥ 0, not "${opts.steps}"`);
if (parts.includes('score') && opts['score-run'] === undefined) fail('--parts score needs --score-run');
const threads = Number(opts.threads);
const microBatches = Number(opts['micro-batches']);
if (!Number.isInteger(microBatches) || microBatches < 1) fail(`--micro-batches: an integer ≥ 1, not "${opts['micro-batches']}"`);
const epsilon = Number(opts.epsilon);
if (!(epsilon > 0)) fail(`--epsilon: a positive number, not "${opts.epsilon}"`);
if (opts.backend !== 'wasm' && opts.backend !== 'cpu') fail(`--backend: wasm or cpu, not "${opts.backend}"`);

await useBackend(opts.backend, opts.backend === 'wasm' ? { threads } : {});
const ref = await readReference(runDir);
const yardstick = opts.yardstick === undefined ? null : await readReference(opts.yardstick);
fashion = await readIdxDataset(opts.data as string, { normalClass: 'T-shirt/top', classNames: FASHION_MNIST_CLASSES, name: 'fashion-mnist' });
const extractor = await createResNetExtractor({ arch: 'resnet18', layers: [...LAYERS], weights: backboneFile });
console.log(`run ${runDir}: ${ref.run.arm}, ${ref.steps.length} reference steps; backend ${tf.getBackend()}`);
try {
  for (const name of parts) {
    const started = performance.now();
    const report =
      name === 'pipeline'
        ? await pipeline(extractor, ref)
        : name === 'modules'
          ? await modules(extractor, ref, yardstick, maxSteps)
          : name === 'trainer'
            ? await trainer(extractor, ref, maxSteps, opts.test ?? false)
            : await score(extractor, ref, opts['score-run'] as string);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${name}: ${seconds.toFixed(0)} s`);
    await writeFile(join(runDir, `replay-${name}.json`), JSON.stringify({ part: name, backend: tf.getBackend(), threads, seconds, report }, null, 1));
  }
} finally {
  extractor.dispose();
}
