/**
 * Parsers of the sections of a protocol (`protocol.dataset`, `protocol.model`, …): each checks
 * its JSON value, fills in the defaults, and throws an {@link InvalidArgumentError} naming the
 * first invalid field (`protocol.arms[1].labelled[0]`).
 */

import { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import { LAYER_NAMES, RESNET_CONFIGS } from '../backbone/configs.js';
import type { LayerName, ResNetName } from '../backbone/configs.js';
import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS } from '../data/synthetic.js';
import type { SyntheticClass, SyntheticDefect } from '../data/synthetic.js';
import { InvalidArgumentError } from '../errors.js';
import { CATEGORY_KINDS, MULTI_CLASS_KINDS, isMultiClassKind } from '../pipeline/datasets.js';
import type { MultiClassKind } from '../pipeline/datasets.js';
import { checkChoice, checkTopK } from '../validate.js';
import { ANOMALY_SHUFFLES } from '../training/batches.js';
import { DEFAULT_GROUP_BY } from './protocol-types.js';
import type {
  DatasetSpec,
  GroupField,
  LabelledClasses,
  LabelledSetting,
  LimitSettings,
  ModelSettings,
  RealCategoryDatasetSpec,
  ScoringSettings,
  SyntheticDatasetSpec,
  TrainingSettings,
} from './protocol-types.js';

const GROUP_FIELDS: readonly GroupField[] = ['arm', 'labelled', 'target', 'labelledClass'];
const TRAINING_KEYS: readonly (keyof TrainingSettings)[] = [
  'batchSize',
  'aeLearningRate',
  'dLearningRate',
  'gamma',
  'lambda',
  'margin',
  'clipNorm',
  'microBatches',
  'anomalyShuffle',
];

// -----------------------------------------------------------------------------------------
// small checkers

export type Json = Record<string, unknown>;

export function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function show(x: unknown): string {
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function noExtraKeys(o: Json, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new InvalidArgumentError(`${where}.${k}`, `no such field (allowed: ${allowed.join(', ')})`);
  }
}

export function string(x: unknown, where: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new InvalidArgumentError(where, 'a non-empty string', show(x));
  return x;
}

export function integer(x: unknown, where: string, min: number): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw new InvalidArgumentError(where, `an integer ≥ ${min}`, show(x));
  return x;
}

export function positive(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new InvalidArgumentError(where, 'a finite number > 0', show(x));
  return x;
}

export function stringList(x: unknown, where: string): string[] {
  if (!Array.isArray(x) || x.length === 0) throw new InvalidArgumentError(where, 'a non-empty array of strings', show(x));
  const list = x.map((v, i) => string(v, `${where}[${i}]`));
  if (new Set(list).size !== list.length) throw new InvalidArgumentError(where, 'distinct names', show(x));
  return list;
}

export function listOrKeyword<K extends string>(x: unknown, keyword: K, where: string): string[] | K {
  if (x === keyword) return keyword;
  if (!Array.isArray(x)) throw new InvalidArgumentError(where, `"${keyword}" or a non-empty array of names`, show(x));
  return stringList(x, where);
}

export function labelledClassesSetting(x: unknown): LabelledClasses {
  const where = 'protocol.labelledClasses';
  if (x === undefined) return 'each';
  if (!isObject(x)) return listOrKeyword(x, 'each', where);
  const keys = Object.keys(x);
  if (keys.length === 0) throw new InvalidArgumentError(where, '"each", a non-empty array of names, or an object { normalClass: [names] }', '{}');
  const out: Record<string, string[]> = {};
  for (const key of keys) {
    const list = x[key];
    if (!Array.isArray(list)) throw new InvalidArgumentError(`${where}[${show(key)}]`, 'a non-empty array of names', show(list));
    out[key] = stringList(list, `${where}[${show(key)}]`);
  }
  return out;
}

export function trainingSettings(x: unknown, where: string): TrainingSettings {
  if (x === undefined) return {};
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object of trainer options', show(x));
  noExtraKeys(x, TRAINING_KEYS, where);
  const out: TrainingSettings = {};
  if (x.batchSize !== undefined) out.batchSize = integer(x.batchSize, `${where}.batchSize`, 1);
  if (x.microBatches !== undefined) out.microBatches = integer(x.microBatches, `${where}.microBatches`, 1);
  if (x.anomalyShuffle !== undefined) out.anomalyShuffle = checkChoice(x.anomalyShuffle, ANOMALY_SHUFFLES, `${where}.anomalyShuffle`);
  for (const k of ['aeLearningRate', 'dLearningRate', 'margin', 'clipNorm'] as const) {
    if (x[k] !== undefined) out[k] = positive(x[k], `${where}.${k}`);
  }
  if (x.gamma !== undefined) {
    const g = x.gamma;
    if (typeof g !== 'number' || !(g > 0 && g <= 1)) throw new InvalidArgumentError(`${where}.gamma`, 'a number in (0, 1]', show(g));
    out.gamma = g;
  }
  if (x.lambda !== undefined) {
    const l = x.lambda;
    if (typeof l !== 'number' || !Number.isFinite(l) || l < 0) throw new InvalidArgumentError(`${where}.lambda`, 'a finite number ≥ 0', show(l));
    out.lambda = l;
  }
  return out;
}

export function labelledSetting(x: unknown, where: string): LabelledSetting {
  if (x === 'elastic') return x;
  if (typeof x !== 'number' || !(x >= 0 && x < 1)) throw new InvalidArgumentError(where, 'a ratio r_l in [0, 1) or "elastic"', show(x));
  return x;
}

// -----------------------------------------------------------------------------------------
// the sections

export function datasetSpec(x: unknown): DatasetSpec {
  const where = 'protocol.dataset';
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { kind, root, ... }', show(x));
  const kinds = [...MULTI_CLASS_KINDS, ...CATEGORY_KINDS] as string[];
  if (typeof x.kind !== 'string' || !kinds.includes(x.kind)) {
    throw new InvalidArgumentError(`${where}.kind`, `one of ${kinds.join(', ')}`, show(x.kind));
  }
  if (isMultiClassKind(x.kind)) {
    noExtraKeys(x, ['kind', 'root'], where);
    return { kind: x.kind as MultiClassKind, root: string(x.root, `${where}.root`) };
  }
  if (x.kind === 'mvtec' || x.kind === 'visa') {
    noExtraKeys(x, ['kind', 'root', 'categories', 'splitFile'], where);
    const spec: RealCategoryDatasetSpec = {
      kind: x.kind,
      root: string(x.root, `${where}.root`),
      categories: listOrKeyword(x.categories, 'all', `${where}.categories`),
    };
    if (x.splitFile !== undefined) {
      if (x.kind !== 'visa') throw new InvalidArgumentError(`${where}.splitFile`, 'only for kind "visa"');
      spec.splitFile = string(x.splitFile, `${where}.splitFile`);
    }
    return spec;
  }
  noExtraKeys(x, ['kind', 'root', 'categories', 'defects', 'seed', 'trainCount', 'testGoodCount', 'testDefectCount'], where);
  const spec: SyntheticDatasetSpec = { kind: 'synthetic' };
  if (x.root !== undefined) spec.root = string(x.root, `${where}.root`);
  if (x.categories !== undefined) {
    const c = stringList(x.categories, `${where}.categories`);
    c.forEach((v, i) => {
      if (!(SYNTHETIC_CLASSES as readonly string[]).includes(v)) {
        throw new InvalidArgumentError(`${where}.categories[${i}]`, `one of ${SYNTHETIC_CLASSES.join(', ')}`, show(v));
      }
    });
    spec.categories = c as SyntheticClass[];
  }
  if (x.defects !== undefined) {
    const d = stringList(x.defects, `${where}.defects`);
    d.forEach((v, i) => {
      if (!(SYNTHETIC_DEFECTS as readonly string[]).includes(v)) {
        throw new InvalidArgumentError(`${where}.defects[${i}]`, `one of ${SYNTHETIC_DEFECTS.join(', ')}`, show(v));
      }
    });
    if (d.length < 2) throw new InvalidArgumentError(`${where}.defects`, 'at least two defect kinds (one seen, others unseen)', show(d));
    spec.defects = d as SyntheticDefect[];
  }
  if (x.seed !== undefined) spec.seed = integer(x.seed, `${where}.seed`, 0);
  for (const k of ['trainCount', 'testGoodCount', 'testDefectCount'] as const) {
    if (x[k] !== undefined) spec[k] = integer(x[k], `${where}.${k}`, 1);
  }
  return spec;
}

export function modelSettings(x: unknown, imageSize: number): Required<ModelSettings> {
  const where = 'protocol.model';
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { arch, layers, weights? }', show(x));
  noExtraKeys(x, ['arch', 'layers', 'weights', 'seed'], where);
  if (typeof x.arch !== 'string' || !Object.prototype.hasOwnProperty.call(RESNET_CONFIGS, x.arch)) {
    throw new InvalidArgumentError(`${where}.arch`, `one of ${Object.keys(RESNET_CONFIGS).join(', ')}`, show(x.arch));
  }
  const layers = stringList(x.layers, `${where}.layers`);
  layers.forEach((l, i) => {
    if (!(LAYER_NAMES as readonly string[]).includes(l)) {
      throw new InvalidArgumentError(`${where}.layers[${i}]`, `one of ${LAYER_NAMES.join(', ')}`, show(l));
    }
  });
  const weights = x.weights === undefined ? 'random' : string(x.weights, `${where}.weights`);
  const seed = x.seed === undefined ? 0 : integer(x.seed, `${where}.seed`, 0);
  if (weights !== 'random' && seed !== 0) {
    throw new InvalidArgumentError(`${where}.seed`, 'no seed (or 0) with a weights file: it only seeds random weights', String(seed));
  }
  FeatureAutoEncoder.validateInputSize(imageSize, layers as LayerName[], 'protocol.imageSize');
  return { arch: x.arch as ResNetName, layers: layers as LayerName[], weights, seed };
}

export function scoringSettings(x: unknown, imageSize: number): Required<ScoringSettings> {
  const where = 'protocol.scoring';
  if (x !== undefined && !isObject(x)) throw new InvalidArgumentError(where, 'an object { sigma?, topK? }', show(x));
  const o = x ?? {};
  noExtraKeys(o, ['sigma', 'topK'], where);
  const sigma = o.sigma === undefined ? 4 : positive(o.sigma, `${where}.sigma`);
  const topK = o.topK === undefined ? 100 : o.topK === 'mean' ? 'mean' : integer(o.topK, `${where}.topK`, 1);
  // The image score averages the top k of the H·W map values: k cannot exceed them.
  checkTopK(topK, `${where}.topK`, [imageSize, imageSize]);
  return { sigma, topK };
}

export function limitSettings(x: unknown): LimitSettings | null {
  const where = 'protocol.limits';
  if (x === undefined || x === null) return null;
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { trainPerClass?, testPerClass?, seed? }', show(x));
  noExtraKeys(x, ['trainPerClass', 'testPerClass', 'seed'], where);
  const out: LimitSettings = {};
  if (x.trainPerClass !== undefined) out.trainPerClass = integer(x.trainPerClass, `${where}.trainPerClass`, 1);
  if (x.testPerClass !== undefined) out.testPerClass = integer(x.testPerClass, `${where}.testPerClass`, 1);
  out.seed = x.seed === undefined ? 0 : integer(x.seed, `${where}.seed`, 0);
  return out;
}

export function reportSettings(x: unknown): { groupBy: GroupField[][]; metrics: string[] | null } {
  const where = 'protocol.report';
  const defaults = DEFAULT_GROUP_BY.map((g) => [...g]);
  if (x === undefined) return { groupBy: defaults, metrics: null };
  if (!isObject(x)) throw new InvalidArgumentError(where, 'an object { groupBy?, metrics? }', show(x));
  noExtraKeys(x, ['groupBy', 'metrics'], where);
  let groupBy = defaults;
  if (x.groupBy !== undefined) {
    if (!Array.isArray(x.groupBy) || x.groupBy.length === 0) throw new InvalidArgumentError(`${where}.groupBy`, 'a non-empty array of field lists', show(x.groupBy));
    groupBy = x.groupBy.map((g, i) => {
      const fields = stringList(g, `${where}.groupBy[${i}]`);
      fields.forEach((f, j) => {
        if (!(GROUP_FIELDS as readonly string[]).includes(f)) {
          throw new InvalidArgumentError(`${where}.groupBy[${i}][${j}]`, `one of ${GROUP_FIELDS.join(', ')}`, show(f));
        }
      });
      return fields as GroupField[];
    });
  }
  const metrics = x.metrics === undefined || x.metrics === null ? null : stringList(x.metrics, `${where}.metrics`);
  return { groupBy, metrics };
}
