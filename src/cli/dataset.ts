/**
 * Datasets as the command line sees them: one of the library's readers chosen by
 * `--dataset`, its images as {@link CliItem}s (files, or images inside IDX files), and one way
 * to decode any list of them into batches of `size × size` RGB pixels.
 */

import { basename, extname, relative, sep } from 'node:path';

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { readBr35h } from '../node/readers/br35h.js';
import { readChestXray } from '../node/readers/chest-xray.js';
import type { DatasetDescription, Label } from '../data/labelled.js';
import { readFolderDataset } from '../node/readers/folder.js';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES, idxPixels, readIdxDataset } from '../node/readers/idx.js';
import type { IdxImages } from '../node/readers/idx.js';
import { readIsic2018 } from '../node/readers/isic.js';
import { readMvtec } from '../node/readers/mvtec.js';
import { readOct2017 } from '../node/readers/oct.js';
import { batchStream, decodeStream } from '../node/stream.js';
import type { PixelBatch, SkippedImage } from '../node/stream.js';
import { readVisa } from '../node/readers/visa.js';
import { OptionError } from './errors.js';
import { log } from './io.js';
import type { CliIo } from './io.js';

/** Values of `--dataset`. */
export const DATASET_KINDS = [
  'mvtec',
  'visa',
  'chest-xray',
  'oct2017',
  'br35h',
  'isic2018',
  'fashion-mnist',
  'mnist',
  'folder',
] as const;

/** One of {@link DATASET_KINDS}. */
export type DatasetKind = (typeof DATASET_KINDS)[number];

/**
 * How training data is formed:
 * - `industrial` (mvtec, visa): normal images only; labelled anomalies are elastic
 *   transformations of them (docs/reference-implementation.md §5);
 * - `protocol` (medical sets, IDX sets): every class in the training split; the paper's
 *   protocol keeps the normal class plus r_l labelled anomalies from k classes (docs/reference-implementation.md §8);
 * - `folder`: normal/ and, as labelled anomalies, everything in anomalous/.
 */
export type DatasetSetting = 'industrial' | 'protocol' | 'folder';

/** One image of a dataset. */
export interface CliItem {
  /** 0 normal, 1 anomalous. */
  label: Label;
  /** The sample's class (defect type, diagnosis, Fashion-MNIST class…). */
  className: string;
  /** Image file; for IDX sets `<images file>#<index>` (for messages only). */
  path: string;
  /** Ground-truth mask file, if any. */
  maskPath?: string;
  /** Short unique name for output files, e.g. `test/scratch/003` or `t10k-00042`. */
  name: string;
  /** For IDX sets: the in-memory stack and the image's index in it. */
  idx?: { stack: IdxImages; index: number };
}

/** A dataset opened with `--dataset` and `--root`. */
export interface CliDataset {
  kind: DatasetKind;
  setting: DatasetSetting;
  root: string;
  category?: string;
  normalClass: string;
  classes: readonly string[];
  train: CliItem[];
  test: CliItem[];
}

/** Options of {@link openDataset} (the `--dataset` group's values). */
export interface OpenDatasetOptions {
  dataset: DatasetKind;
  root: string;
  category?: string;
  normalClass?: string;
}

/** Copies `error` with its argument renamed to a command-line flag (e.g. `--normal-class`). */
export function asOptionError(error: InvalidArgumentError, flag: string): OptionError {
  const renamed = new OptionError(flag, '');
  renamed.message = error.message.replace(`Invalid ${error.argument}:`, `Invalid ${flag}:`);
  return renamed;
}

/** Runs a reader, renaming its option errors to the flags they came from. */
async function withFlags<T>(read: () => Promise<T>, flags: Record<string, string>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof InvalidArgumentError && flags[e.argument] !== undefined) throw asOptionError(e, flags[e.argument]);
    throw e;
  }
}

/** Name of a file sample for output files: its path below the root, without extension. */
function fileName(path: string, root: string): string {
  const rel = relative(root, path);
  const inside = rel !== '' && !rel.startsWith('..');
  const base = inside ? rel : basename(path);
  return base.slice(0, base.length - extname(base).length).split(sep).join('/');
}

function fromDescription(kind: DatasetKind, setting: DatasetSetting, d: DatasetDescription): CliDataset {
  const item = (s: DatasetDescription['train'][number]): CliItem => ({
    label: s.label,
    className: s.className,
    path: s.path,
    maskPath: s.maskPath,
    name: fileName(s.path, d.root),
  });
  return {
    kind,
    setting,
    root: d.root,
    category: d.category,
    normalClass: d.normalClass,
    classes: d.classes,
    train: d.train.map(item),
    test: d.test.map(item),
  };
}

/** The label value or name of `--normal-class` for an IDX set. */
function idxNormalClass(value: string | undefined, kind: DatasetKind): string | number {
  if (value === undefined) {
    const names = kind === 'fashion-mnist' ? FASHION_MNIST_CLASSES : MNIST_CLASSES;
    throw new OptionError('--normal-class', `the normal class of ${kind}: a label value 0…${names.length - 1} or a name (${names.join(', ')})`, 'nothing');
  }
  return /^\d+$/.test(value) && kind === 'fashion-mnist' ? Number(value) : value;
}

/**
 * Lists a dataset with the reader `options.dataset` names.
 *
 * @throws OptionError naming `--category` / `--normal-class` for values the dataset does not
 *   have; FileFormatError naming the folder or file for a missing or empty folder, a missing
 *   mask, or a malformed IDX file.
 */
export async function openDataset(options: OpenDatasetOptions): Promise<CliDataset> {
  const { dataset: kind, root, category, normalClass } = options;
  const normal = normalClass === undefined ? {} : { normalClass };
  const flags = { 'options.category': '--category', 'options.normalClass': '--normal-class' };
  switch (kind) {
    case 'mvtec':
    case 'visa': {
      if (category === undefined) throw new OptionError('--category', `the object category of the ${kind} set (a folder of ${root})`, 'nothing');
      const read = kind === 'mvtec' ? readMvtec : readVisa;
      return fromDescription(kind, 'industrial', await withFlags(() => read(root, { category }), flags));
    }
    case 'chest-xray':
      return fromDescription(kind, 'protocol', await withFlags(() => readChestXray(root, normal), flags));
    case 'oct2017':
      return fromDescription(kind, 'protocol', await withFlags(() => readOct2017(root, normal), flags));
    case 'br35h':
      return fromDescription(kind, 'protocol', await withFlags(() => readBr35h(root, normal), flags));
    case 'isic2018':
      return fromDescription(kind, 'protocol', await withFlags(() => readIsic2018(root, normal), flags));
    case 'folder':
      return fromDescription(kind, 'folder', await readFolderDataset(root));
    case 'fashion-mnist':
    case 'mnist': {
      const ds = await withFlags(
        () =>
          readIdxDataset(root, {
            normalClass: idxNormalClass(normalClass, kind),
            classNames: kind === 'fashion-mnist' ? FASHION_MNIST_CLASSES : MNIST_CLASSES,
            name: kind,
          }),
        flags,
      );
      const items = (split: 'train' | 't10k', stack: IdxImages, samples: typeof ds.train): CliItem[] =>
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
    default:
      throw new OptionError('--dataset', `one of ${DATASET_KINDS.join(', ')}`, String(kind));
  }
}

/** Options of {@link loadBatches}. */
export interface LoadOptions {
  /** Side of the decoded images. */
  size: number;
  /** Images per batch. */
  batchSize: number;
  /** Also decode masks (all-zero for items without one). */
  masks?: boolean;
  /** Skip or fail on an image that cannot be decoded (or whose mask has another size). */
  onBadImage: 'skip' | 'fail';
  /** Called for every skipped image. */
  onSkip?: (skipped: SkippedImage) => void;
}

/**
 * Decodes `items` into batches of `size × size` RGB pixels (and masks), in order. Files are
 * decoded by `decodeStream` (a bounded number at once); IDX images are resized in memory.
 *
 * @throws FileFormatError for a bad file when `onBadImage` is `'fail'`.
 */
export async function* loadBatches(items: readonly CliItem[], options: LoadOptions): AsyncGenerator<PixelBatch<CliItem>> {
  const { size, batchSize, masks = false, onBadImage, onSkip } = options;
  if (items.length > 0 && items[0].idx !== undefined) {
    for (let start = 0; start < items.length; start += batchSize) {
      const chunk = items.slice(start, start + batchSize);
      const images = idxPixels(chunk[0].idx?.stack as IdxImages, chunk.map((i) => (i.idx as { index: number }).index), size);
      yield {
        images,
        masks: masks ? new Uint8Array(chunk.length * size * size) : undefined,
        items: chunk,
        indices: chunk.map((_, i) => start + i),
        count: chunk.length,
        size,
      };
    }
    return;
  }
  yield* batchStream(decodeStream(items, { size, masks, onBadImage, onSkip }), batchSize);
}

/**
 * Decodes all of `items` into one stack (for training sets).
 *
 * @param what How the images are called in errors, e.g. `'normal training images'`.
 * @throws FileFormatError when no image could be decoded.
 */
export async function loadAll(
  items: readonly CliItem[],
  options: Omit<LoadOptions, 'batchSize'>,
  what: string,
): Promise<{ images: Uint8Array; count: number; size: number; items: CliItem[] }> {
  const chunks: PixelBatch<CliItem>[] = [];
  for await (const batch of loadBatches(items, { ...options, batchSize: 256 })) chunks.push(batch);
  const count = chunks.reduce((n, c) => n + c.count, 0);
  if (count === 0) {
    throw new FileFormatError(items[0]?.path ?? '<none>', `none of the ${items.length} ${what} could be decoded`);
  }
  const per = options.size * options.size * 3;
  const images = new Uint8Array(count * per);
  let offset = 0;
  for (const c of chunks) {
    images.set(c.images, offset * per);
    offset += c.count;
  }
  return { images, count, size: options.size, items: chunks.flatMap((c) => c.items) };
}

/** An `onSkip` callback that logs each skipped image as a warning and collects it in `into`. */
export function skipLogger(io: CliIo, into: SkippedImage[]): (s: SkippedImage) => void {
  return (s) => {
    into.push(s);
    log(io, `warning: skipped ${s.path}: ${s.error.message.replace(/\n/g, '; ')}`);
  };
}
