/**
 * An experiment protocol: the JSON description of a grid of training runs (data set, normal
 * classes or categories, strategies, labelled-anomaly settings r_l, k, seeds, epochs, image
 * size, model, hyper-parameters), and its validation.
 *
 * A protocol file is plain JSON, e.g. (`protocols/fashion-mnist-smoke.json`):
 *
 * ```json
 * {
 *   "name": "fashion-mnist-smoke",
 *   "dataset": { "kind": "fashion-mnist", "root": "/usr/share/datasets/fashion-mnist" },
 *   "normalClasses": ["Trouser"],
 *   "arms": [
 *     { "strategy": "Recon", "labelled": [0] },
 *     { "strategy": "CKAPatch", "labelled": [0.05] }
 *   ],
 *   "labelledClasses": ["Bag"],
 *   "seeds": [0, 1],
 *   "epochs": 2,
 *   "imageSize": 64,
 *   "model": { "arch": "resnet18", "layers": ["layer2", "layer3"], "weights": "random" }
 * }
 * ```
 *
 * {@link parseProtocol} checks every field and fills in the defaults; an invalid field is an
 * {@link InvalidArgumentError} naming it (`protocol.arms[1].labelled[0]`).
 */

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { DATASET_REGISTRY, isMultiClassKind } from '../pipeline/datasets.js';
import {
  datasetSpec,
  integer,
  isObject,
  labelledClassesSetting,
  labelledSetting,
  limitSettings,
  listOrKeyword,
  modelSettings,
  noExtraKeys,
  reportSettings,
  scoringSettings,
  show,
  string,
  trainingSettings,
} from './protocol-fields.js';
import { PROTOCOL_FORMAT } from './protocol-types.js';
import type { MultiClassKind, ResolvedArm, ResolvedProtocol } from './protocol-types.js';

export * from './protocol-types.js';

/**
 * Validates a protocol (parsed JSON) and fills in its defaults.
 *
 * @throws InvalidArgumentError naming the first invalid field, e.g. `protocol.arms[0].strategy`.
 *
 * @example
 * ```ts
 * const protocol = parseProtocol(JSON.parse(await readFile('protocols/fashion-mnist-smoke.json', 'utf8')));
 * ```
 */
export function parseProtocol(value: unknown): ResolvedProtocol {
  if (!isObject(value)) throw new InvalidArgumentError('protocol', 'a JSON object', show(value));
  noExtraKeys(
    value,
    [
      'format', 'name', 'description', 'dataset', 'normalClasses', 'arms', 'anomalyClassCount', 'labelledClasses', 'seeds',
      'epochs', 'imageSize', 'model', 'training', 'scoring', 'selection', 'validationFraction', 'limits', 'examplesPerClass', 'report',
    ],
    'protocol',
  );
  if (value.format !== undefined && value.format !== PROTOCOL_FORMAT) {
    throw new InvalidArgumentError('protocol.format', `"${PROTOCOL_FORMAT}" (or no format field)`, show(value.format));
  }
  const name = string(value.name, 'protocol.name');
  if (value.description !== undefined && typeof value.description !== 'string') {
    throw new InvalidArgumentError('protocol.description', 'a string', show(value.description));
  }
  const dataset = datasetSpec(value.dataset);
  const multiClass = isMultiClassKind(dataset.kind);

  let normalClasses: string[] | 'all';
  if (multiClass) {
    const kind = dataset.kind as MultiClassKind;
    if (value.normalClasses === undefined) {
      if (kind === 'fashion-mnist' || kind === 'mnist') {
        throw new InvalidArgumentError('protocol.normalClasses', `the normal classes to run (or "all") for ${kind}`);
      }
      normalClasses = [DATASET_REGISTRY[kind].defaultNormalClass as string];
    } else {
      normalClasses = listOrKeyword(value.normalClasses, 'all', 'protocol.normalClasses');
    }
  } else {
    if (value.normalClasses !== undefined && !(Array.isArray(value.normalClasses) && value.normalClasses.length === 0)) {
      throw new InvalidArgumentError('protocol.normalClasses', `nothing for ${dataset.kind} (its normal class is "good"; choose dataset.categories)`);
    }
    normalClasses = [];
  }

  if (!Array.isArray(value.arms) || value.arms.length === 0) throw new InvalidArgumentError('protocol.arms', 'a non-empty array of arms', show(value.arms));
  const arms: ResolvedArm[] = value.arms.map((a, i) => {
    const where = `protocol.arms[${i}]`;
    if (!isObject(a)) throw new InvalidArgumentError(where, 'an object { strategy, labelled, name?, training? }', show(a));
    noExtraKeys(a, ['name', 'strategy', 'labelled', 'training'], where);
    const strategy = string(a.strategy, `${where}.strategy`);
    if (!Array.isArray(a.labelled) || a.labelled.length === 0) {
      throw new InvalidArgumentError(`${where}.labelled`, 'a non-empty array of r_l values or "elastic"', show(a.labelled));
    }
    const labelled = a.labelled.map((l, j) => labelledSetting(l, `${where}.labelled[${j}]`));
    if (new Set(labelled).size !== labelled.length) throw new InvalidArgumentError(`${where}.labelled`, 'distinct values', show(a.labelled));
    return {
      name: a.name === undefined ? strategy : string(a.name, `${where}.name`),
      strategy,
      labelled,
      training: trainingSettings(a.training, `${where}.training`),
    };
  });
  const armNames = arms.map((a) => a.name);
  if (new Set(armNames).size !== armNames.length) {
    throw new InvalidArgumentError('protocol.arms', 'distinct arm names (set "name" to tell arms with the same strategy apart)', show(armNames));
  }

  const anomalyClassCount = value.anomalyClassCount === undefined ? 1 : integer(value.anomalyClassCount, 'protocol.anomalyClassCount', 1);
  const labelledClasses = labelledClassesSetting(value.labelledClasses);
  if (anomalyClassCount > 1 && labelledClasses !== 'each') {
    throw new InvalidArgumentError('protocol.labelledClasses', '"each" (or nothing) when anomalyClassCount > 1: the k classes are drawn at random per seed');
  }

  if (!Array.isArray(value.seeds) || value.seeds.length === 0) throw new InvalidArgumentError('protocol.seeds', 'a non-empty array of integer seeds', show(value.seeds));
  const seeds = value.seeds.map((s, i) => integer(s, `protocol.seeds[${i}]`, 0));
  if (new Set(seeds).size !== seeds.length) throw new InvalidArgumentError('protocol.seeds', 'distinct seeds', show(value.seeds));

  const epochs = integer(value.epochs, 'protocol.epochs', 1);
  const imageSize = integer(value.imageSize, 'protocol.imageSize', 32);
  const model = modelSettings(value.model, imageSize);
  const training = trainingSettings(value.training, 'protocol.training');
  const scoring = scoringSettings(value.scoring, imageSize);
  const selection = value.selection === undefined ? 'validation' : value.selection;
  if (selection !== 'validation' && selection !== 'last') {
    throw new InvalidArgumentError('protocol.selection', '"validation" or "last"', show(selection));
  }
  let validationFraction = 0.05;
  if (value.validationFraction !== undefined) {
    const f = value.validationFraction;
    if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new InvalidArgumentError('protocol.validationFraction', 'a number in (0, 1)', show(f));
    validationFraction = f;
  }
  const limits = limitSettings(value.limits);
  const examplesPerClass = value.examplesPerClass === undefined ? 2 : integer(value.examplesPerClass, 'protocol.examplesPerClass', 0);
  const report = reportSettings(value.report);

  return {
    name,
    description: typeof value.description === 'string' ? value.description : '',
    dataset,
    normalClasses,
    arms,
    anomalyClassCount,
    labelledClasses,
    seeds,
    epochs,
    imageSize,
    model,
    training,
    scoring,
    selection,
    validationFraction,
    limits,
    examplesPerClass,
    report,
  };
}

/**
 * Reads and validates a protocol file.
 *
 * @throws FileFormatError naming the file if it cannot be read or is not JSON;
 *   InvalidArgumentError (prefixed with the file name) for an invalid field.
 */
export async function readProtocol(path: string): Promise<ResolvedProtocol> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FileFormatError(path, `cannot read protocol file (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  try {
    return parseProtocol(json);
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new FileFormatError(path, e.message);
    throw e;
  }
}
