/**
 * Grid expansion: a resolved protocol → the list of runs it stands for, each with a stable id
 * (its folder name under `runs/`) and a hash of everything that determines its result.
 *
 * Dimensions, outermost first: seed → target (normal class or category) → arm → labelled
 * setting → labelled class. Seeds are outermost so that a grid stopped half-way has complete
 * seeds rather than complete classes: the first seeds already give a full (if noisier) table.
 *
 * The labelled-class dimension exists only for r_l > 0 with k = 1: one run per anomaly class
 * (`labelledClasses: 'each'`) or per listed class, as the paper does for medical sets ("anomalies
 * from any anomaly category can be used as the only labeled anomaly class ... performance
 * averaged over all anomaly types"). With k > 1 the sampler draws the k classes per seed.
 */

import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS } from '../data/synthetic.js';
import { InvalidArgumentError } from '../errors.js';
import { MVTEC_GOOD } from '../node/readers/mvtec.js';
import { sha256Hex } from '../node/sha256.js';
import { DATASET_REGISTRY, isMultiClassKind } from '../pipeline/datasets.js';
import type { MultiClassKind } from '../pipeline/datasets.js';
import { canonicalJson } from '../pipeline/keys.js';
import type { DatasetSpec, LabelledSetting, ResolvedProtocol } from './protocol.js';

export { canonicalJson };

/**
 * Everything besides the grid coordinates that determines a run's result: the protocol's
 * fields of the same names, with `training` the protocol's settings plus the arm's overrides.
 */
export type RunSettings = Pick<
  ResolvedProtocol,
  'dataset' | 'epochs' | 'imageSize' | 'model' | 'training' | 'scoring' | 'selection' | 'validationFraction' | 'limits' | 'examplesPerClass'
>;

/** One training run of the grid. */
export interface RunSpec {
  /** Folder name under `runs/`, e.g. `Trouser__CKAPatch__rl0.05__Bag__s0`. Unique in the grid. */
  id: string;
  /** 0-based position in the grid's execution order. */
  index: number;
  /** Seed of the split, the weight initialisation and the batch order. */
  seed: number;
  /** The grid's target: the normal class (multi-class sets) or the category (MVTec-style sets). */
  target: string;
  /** The normal class (`good` for MVTec-style sets). */
  normalClass: string;
  /** The category, or null for multi-class sets. */
  category: string | null;
  /** Arm name (row label). */
  arm: string;
  /** Strategy name. */
  strategy: string;
  /** r_l, or `'elastic'`. */
  labelled: LabelledSetting;
  /** With k = 1 and r_l > 0: the labelled ("seen") anomaly class; otherwise null. */
  labelledClass: string | null;
  /** k. */
  anomalyClassCount: number;
  /** The remaining settings. */
  settings: RunSettings;
  /** SHA-256 (hex) of the canonical JSON of everything above except `id` and `index`. */
  settingsHash: string;
}

/** The classes of a multi-class set, in the reader's canonical order. */
export function multiClassClasses(kind: MultiClassKind): readonly string[] {
  return DATASET_REGISTRY[kind].classes as readonly string[];
}

/**
 * The targets of a protocol: its normal classes (multi-class sets) or categories, with `'all'`
 * expanded.
 */
export function gridTargets(protocol: ResolvedProtocol): string[] {
  const d = protocol.dataset;
  if (isMultiClassKind(d.kind)) {
    const classes = multiClassClasses(d.kind);
    if (protocol.normalClasses === 'all') return [...classes];
    protocol.normalClasses.forEach((c, i) => {
      if (!classes.includes(c)) {
        throw new InvalidArgumentError(`protocol.normalClasses[${i}]`, `a class of ${d.kind}: ${classes.join(', ')}`, JSON.stringify(c));
      }
    });
    return [...protocol.normalClasses];
  }
  if (d.kind === 'synthetic') return [...(d.categories ?? SYNTHETIC_CLASSES)];
  if (d.kind === 'mvtec' || d.kind === 'visa') {
    if (d.categories !== 'all') return [...d.categories];
    return [...(DATASET_REGISTRY[d.kind].categories as readonly string[])];
  }
  return [];
}

/**
 * The anomaly classes of a target known before reading any file: the other classes of a
 * multi-class set, the defect kinds of the synthetic set; null for MVTec AD / VisA (their
 * defect kinds exist only in the test split).
 */
export function anomalyClassesOf(dataset: DatasetSpec, target: string): string[] | null {
  if (isMultiClassKind(dataset.kind)) return multiClassClasses(dataset.kind).filter((c) => c !== target);
  if (dataset.kind === 'synthetic') return [...(dataset.defects ?? SYNTHETIC_DEFECTS)];
  return null;
}

/** A name safe as a folder name: characters other than letters, digits, `.`, `_`, `-` become `-`. */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '-');
}

/** How a labelled setting appears in run ids and tables: `rl0.05`, `elastic`. */
export function labelledTag(labelled: LabelledSetting): string {
  return labelled === 'elastic' ? 'elastic' : `rl${labelled}`;
}

/**
 * Expands a protocol into its runs, in execution order.
 *
 * @throws InvalidArgumentError for an unknown normal class or labelled class, a labelled ratio
 *   r_l > 0 on a set without anomalous training images (MVTec AD / VisA: use `'elastic'`), k
 *   larger than the number of anomaly classes, or two runs whose ids collide.
 *
 * @example
 * ```ts
 * const runs = expandGrid(parseProtocol(json));
 * runs.length; // seeds × targets × Σ_arms Σ_labelled (labelled classes or 1)
 * ```
 */
export function expandGrid(protocol: ResolvedProtocol): RunSpec[] {
  const targets = gridTargets(protocol);
  const d = protocol.dataset;
  const multiClass = isMultiClassKind(d.kind);
  const k = protocol.anomalyClassCount;
  const setting = protocol.labelledClasses;
  if (setting !== 'each' && !Array.isArray(setting)) {
    for (const key of Object.keys(setting)) {
      if (!targets.includes(key)) {
        throw new InvalidArgumentError(`protocol.labelledClasses[${JSON.stringify(key)}]`, `a normal class (or category) of the grid: ${targets.join(', ')}`, JSON.stringify(key));
      }
    }
  }
  const runs: RunSpec[] = [];
  const ids = new Map<string, string>();
  for (const seed of protocol.seeds) {
    for (const target of targets) {
      const anomalyClasses = anomalyClassesOf(d, target);
      for (const arm of protocol.arms) {
        for (const labelled of arm.labelled) {
          let labelledClasses: (string | null)[] = [null];
          if (typeof labelled === 'number' && labelled > 0) {
            if (anomalyClasses === null) {
              throw new InvalidArgumentError(
                `arm "${arm.name}" labelled`,
                `0 or "elastic" for ${d.kind} (its training split has no anomalous images)`,
                String(labelled),
              );
            }
            if (k > anomalyClasses.length) {
              throw new InvalidArgumentError('protocol.anomalyClassCount', `at most ${anomalyClasses.length} (anomaly classes of ${target})`, String(k));
            }
            if (k === 1) {
              if (setting === 'each') {
                labelledClasses = anomalyClasses;
              } else if (Array.isArray(setting)) {
                // A listed class equal to this target is skipped (it is the normal class here).
                labelledClasses = setting.filter((c) => c !== target);
                setting.forEach((c, i) => {
                  if (c !== target && !anomalyClasses.includes(c)) {
                    throw new InvalidArgumentError(`protocol.labelledClasses[${i}]`, `an anomaly class of ${target}: ${anomalyClasses.join(', ')}`, JSON.stringify(c));
                  }
                });
              } else {
                const listed = Object.hasOwn(setting, target) ? setting[target] : undefined;
                const where = `protocol.labelledClasses[${JSON.stringify(target)}]`;
                if (listed === undefined) {
                  throw new InvalidArgumentError(where, `a list of labelled classes for ${target} (the object must name every normal class of the grid)`, 'nothing');
                }
                listed.forEach((c, i) => {
                  if (!anomalyClasses.includes(c)) {
                    throw new InvalidArgumentError(`${where}[${i}]`, `an anomaly class of ${target}: ${anomalyClasses.join(', ')}`, JSON.stringify(c));
                  }
                });
                labelledClasses = listed;
              }
            }
          }
          for (const labelledClass of labelledClasses) {
            const settings: RunSettings = {
              dataset: d,
              epochs: protocol.epochs,
              imageSize: protocol.imageSize,
              model: protocol.model,
              training: { ...protocol.training, ...arm.training },
              scoring: protocol.scoring,
              selection: protocol.selection,
              validationFraction: protocol.validationFraction,
              limits: protocol.limits,
              examplesPerClass: protocol.examplesPerClass,
            };
            const core = {
              seed,
              target,
              normalClass: multiClass ? target : MVTEC_GOOD,
              category: multiClass ? null : target,
              arm: arm.name,
              strategy: arm.strategy,
              labelled,
              labelledClass,
              anomalyClassCount: k,
              settings,
            };
            const parts = [target, arm.name, labelledTag(labelled)];
            if (labelledClass !== null) parts.push(labelledClass);
            else if (typeof labelled === 'number' && labelled > 0 && k > 1) parts.push(`k${k}`);
            parts.push(`s${seed}`);
            const id = parts.map(safe).join('__');
            const readable = parts.join(' / ');
            const clash = ids.get(id);
            if (clash !== undefined) {
              throw new InvalidArgumentError('protocol', `runs with distinct folder names`, `"${readable}" and "${clash}" both map to runs/${id}`);
            }
            ids.set(id, readable);
            const settingsHash = sha256Hex(canonicalJson(core));
            runs.push({ id, index: runs.length, ...core, settingsHash });
          }
        }
      }
    }
  }
  return runs;
}
