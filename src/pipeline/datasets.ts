/**
 * The dataset kinds ckaad's applications know — one registry for the command line and the
 * experiment runner. Each kind names its reader, how its training data is formed (its
 * setting), its classes or categories where they are fixed, and how its masks are binarised;
 * {@link openDataset} lists any of them as one {@link Dataset} of {@link DataItem}s.
 */

import { basename, extname, relative, sep } from 'node:path';

import type { DatasetDescription, Label } from '../data/labelled.js';
import { SYNTHETIC_CLASSES } from '../data/synthetic.js';
import { InvalidArgumentError } from '../errors.js';
import { BR35H_CLASSES, readBr35h } from '../node/readers/br35h.js';
import { CHEST_XRAY_CLASSES, readChestXray } from '../node/readers/chest-xray.js';
import { readFolderDataset } from '../node/readers/folder.js';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES, readIdxDataset } from '../node/readers/idx.js';
import type { IdxImages } from '../node/readers/idx.js';
import { ISIC2018_CLASSES, readIsic2018 } from '../node/readers/isic.js';
import { MVTEC_AD_CATEGORIES, readMvtec } from '../node/readers/mvtec.js';
import { OCT2017_CLASSES, readOct2017 } from '../node/readers/oct.js';
import { VISA_CATEGORIES, readVisa } from '../node/readers/visa.js';

/** Sets with several classes, one of them normal and every other anomalous (paper protocol). */
export const MULTI_CLASS_KINDS = ['fashion-mnist', 'mnist', 'chest-xray', 'oct2017', 'br35h', 'isic2018'] as const;
/** Per-category sets in the MVTec AD layout: `good` is normal, the defect types anomalous. */
export const CATEGORY_KINDS = ['mvtec', 'visa', 'synthetic'] as const;
/** Every kind: the multi-class and per-category sets, and a plain folder of the user's. */
export const DATASET_KINDS = [...MULTI_CLASS_KINDS, ...CATEGORY_KINDS, 'folder'] as const;

/** One of {@link DATASET_KINDS}. */
export type DatasetKind = (typeof DATASET_KINDS)[number];
/** Kind of a multi-class set. */
export type MultiClassKind = (typeof MULTI_CLASS_KINDS)[number];
/** Kind of a per-category set. */
export type CategoryKind = (typeof CATEGORY_KINDS)[number];

/**
 * How training data is formed:
 * - `industrial` (mvtec, visa, synthetic): normal images only; labelled anomalies are elastic
 *   transformations of them (docs/reference-implementation.md §5), or, for the synthetic set,
 *   rendered images of the seen defect kinds;
 * - `protocol` (medical sets, IDX sets): every class in the training split; the paper's
 *   protocol keeps the normal class plus r_l labelled anomalies from k classes (§8);
 * - `folder`: normal/ and, as labelled anomalies, everything in anomalous/.
 */
export type DatasetSetting = 'industrial' | 'protocol' | 'folder';

/** One image of a dataset, whatever its kind. */
export interface DataItem {
  /** 0 normal, 1 anomalous. */
  label: Label;
  /** The sample's class (defect type, diagnosis, Fashion-MNIST class…). */
  className: string;
  /** Image file; for IDX sets `<images file>#<index>` (a unique key, for messages). */
  path: string;
  /** Ground-truth mask file, if any. */
  maskPath?: string;
  /** Short unique name for output files, e.g. `test/scratch/003` or `t10k-00042`. */
  name: string;
  /** For IDX sets: the in-memory stack and the image's index in it. */
  idx?: { stack: IdxImages; index: number };
}

/** A listed dataset. */
export interface Dataset {
  kind: DatasetKind;
  setting: DatasetSetting;
  /** The root folder as given. */
  root: string;
  category?: string;
  normalClass: string;
  /** Every class, in the dataset's canonical order. */
  classes: readonly string[];
  train: DataItem[];
  test: DataItem[];
}

/** What {@link openDataset} needs. */
export interface OpenDatasetOptions {
  kind: DatasetKind;
  root: string;
  /** Per-category sets: the category (required). */
  category?: string;
  /** Multi-class sets: the normal class (IDX sets: a name or, for Fashion-MNIST, a label value; required). */
  normalClass?: string;
  /** VisA: the split file relative to `root` (default the reader's). */
  splitFile?: string;
}

/** What the registry knows of a kind. */
export interface DatasetKindInfo {
  readonly setting: DatasetSetting;
  /** Multi-class sets: every class in canonical order. */
  readonly classes?: readonly string[];
  /** Per-category sets with a fixed list: every category. */
  readonly categories?: readonly string[];
  /** The normal class a reader uses when none is given (medical sets). */
  readonly defaultNormalClass?: string;
  /**
   * Mask binarisation of the reference code at the decoded size: foreground where the resized
   * mask exceeds this fraction of 255 (MVTec AD 0.5, VisA 0: every non-zero pixel).
   */
  readonly maskThreshold: number;
}

/** The registry: what each kind is (see {@link DatasetKindInfo}). */
export const DATASET_REGISTRY: Readonly<Record<DatasetKind, DatasetKindInfo>> = {
  'fashion-mnist': { setting: 'protocol', classes: FASHION_MNIST_CLASSES, maskThreshold: 0.5 },
  mnist: { setting: 'protocol', classes: MNIST_CLASSES, maskThreshold: 0.5 },
  'chest-xray': { setting: 'protocol', classes: CHEST_XRAY_CLASSES, defaultNormalClass: 'NORMAL', maskThreshold: 0.5 },
  oct2017: { setting: 'protocol', classes: OCT2017_CLASSES, defaultNormalClass: 'NORMAL', maskThreshold: 0.5 },
  br35h: { setting: 'protocol', classes: BR35H_CLASSES, defaultNormalClass: 'no', maskThreshold: 0.5 },
  isic2018: { setting: 'protocol', classes: ISIC2018_CLASSES, defaultNormalClass: 'NV', maskThreshold: 0.5 },
  mvtec: { setting: 'industrial', categories: MVTEC_AD_CATEGORIES, maskThreshold: 0.5 },
  visa: { setting: 'industrial', categories: VISA_CATEGORIES, maskThreshold: 0 },
  synthetic: { setting: 'industrial', categories: SYNTHETIC_CLASSES, maskThreshold: 0.5 },
  folder: { setting: 'folder', maskThreshold: 0.5 },
};

/** True for the kinds of {@link MULTI_CLASS_KINDS}. */
export function isMultiClassKind(kind: string): kind is MultiClassKind {
  return (MULTI_CLASS_KINDS as readonly string[]).includes(kind);
}

/** Name of a file sample for output files: its path below the root, without extension. */
function fileName(path: string, root: string): string {
  const rel = relative(root, path);
  const inside = rel !== '' && !rel.startsWith('..');
  const base = inside ? rel : basename(path);
  return base.slice(0, base.length - extname(base).length).split(sep).join('/');
}

function fromDescription(kind: DatasetKind, d: DatasetDescription): Dataset {
  const item = (s: DatasetDescription['train'][number]): DataItem => ({
    label: s.label,
    className: s.className,
    path: s.path,
    maskPath: s.maskPath,
    name: fileName(s.path, d.root),
  });
  return {
    kind,
    setting: DATASET_REGISTRY[kind].setting,
    root: d.root,
    category: d.category,
    normalClass: d.normalClass,
    classes: d.classes,
    train: d.train.map(item),
    test: d.test.map(item),
  };
}

/** The label value or name of the normal class of an IDX set. */
function idxNormalClass(value: string | undefined, kind: 'fashion-mnist' | 'mnist'): string | number {
  if (value === undefined) {
    const names = DATASET_REGISTRY[kind].classes as readonly string[];
    throw new InvalidArgumentError('normalClass', `the normal class of ${kind}: a label value 0…${names.length - 1} or a name (${names.join(', ')})`, 'nothing');
  }
  return /^\d+$/.test(value) && kind === 'fashion-mnist' ? Number(value) : value;
}

async function openIdx(kind: 'fashion-mnist' | 'mnist', root: string, normalClass: string | undefined): Promise<Dataset> {
  const ds = await readIdxDataset(root, { normalClass: idxNormalClass(normalClass, kind), classNames: DATASET_REGISTRY[kind].classes, name: kind });
  const items = (split: 'train' | 't10k', stack: IdxImages, samples: typeof ds.train): DataItem[] =>
    samples.map((s) => ({
      label: s.label,
      className: s.className,
      path: `${root}/${split}-images-idx3-ubyte#${s.index}`,
      name: `${split}-${String(s.index).padStart(5, '0')}`,
      idx: { stack, index: s.index },
    }));
  return {
    kind,
    setting: 'protocol',
    root,
    normalClass: ds.normalClass,
    classes: ds.classes,
    train: items('train', ds.trainImages, ds.train),
    test: items('t10k', ds.testImages, ds.test),
  };
}

/**
 * Lists a dataset of any kind with its reader. Argument errors name this function's options
 * (`category`, `normalClass`) or the reader's (`options.category`, `options.normalClass`);
 * callers rename them to their own inputs (see `renameArguments`).
 *
 * @throws InvalidArgumentError for a missing category or normal class, or one the dataset
 *   does not have; FileFormatError naming the folder or file for a missing or empty folder, a
 *   missing mask, or a malformed IDX file.
 */
export async function openDataset(options: OpenDatasetOptions): Promise<Dataset> {
  const { kind, root, category, normalClass, splitFile } = options;
  const normal = normalClass === undefined ? {} : { normalClass };
  switch (kind) {
    case 'mvtec':
    case 'visa':
    case 'synthetic': {
      if (category === undefined) throw new InvalidArgumentError('category', `the object category of the ${kind} set (a folder of ${root})`, 'nothing');
      // The synthetic set is written in the MVTec AD layout.
      const read = kind === 'visa' ? readVisa(root, splitFile === undefined ? { category } : { category, splitFile }) : readMvtec(root, { category });
      return fromDescription(kind, await read);
    }
    case 'chest-xray':
      return fromDescription(kind, await readChestXray(root, normal));
    case 'oct2017':
      return fromDescription(kind, await readOct2017(root, normal));
    case 'br35h':
      return fromDescription(kind, await readBr35h(root, normal));
    case 'isic2018':
      return fromDescription(kind, await readIsic2018(root, normal));
    case 'folder':
      return fromDescription(kind, await readFolderDataset(root));
    case 'fashion-mnist':
    case 'mnist':
      return openIdx(kind, root, normalClass);
    default:
      throw new InvalidArgumentError('kind', `one of ${DATASET_KINDS.join(', ')}`, String(kind));
  }
}

/**
 * `dataset` with another normal class: every item relabelled (0 for `normalClass`, 1 for the
 * other classes). Lets one listing of a multi-class set serve runs of every normal class.
 */
export function withNormalClass(dataset: Dataset, normalClass: string): Dataset {
  if (normalClass === dataset.normalClass) return dataset;
  const relabel = (t: DataItem): DataItem => ({ ...t, label: t.className === normalClass ? 0 : 1 });
  return { ...dataset, normalClass, train: dataset.train.map(relabel), test: dataset.test.map(relabel) };
}
