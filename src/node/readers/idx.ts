/**
 * Reader for MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST…), gzipped or not,
 * into memory: images `[N, rows, cols]` uint8 and labels `[N]`, with one class chosen as
 * normal (one-class / semi-supervised protocols on these sets).
 *
 * IDX layout: 2 zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
 * then each dimension as a big-endian uint32, then the data in row-major order.
 * Debian's `dataset-fashion-mnist` package installs the four files of Fashion-MNIST in
 * `/usr/share/datasets/fashion-mnist/`.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { FileFormatError, InvalidArgumentError } from '../../errors.js';
import { labelFor, type DatasetDescription, type LabelledItem } from '../../data/labelled.js';
import { isFile } from './files.js';
import { resizeBilinear } from '../../data/resize.js';

const gunzipAsync = promisify(gunzip);

/** Class names of Fashion-MNIST, by label value. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Class names of MNIST (the digits). */
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** A stack of grayscale images held in memory. */
export interface IdxImages {
  /** Pixels, `count × rows × cols` bytes, row-major. */
  data: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** One in-memory sample: its index into the split's {@link IdxImages}. */
export interface IdxSample extends LabelledItem {
  /** Index into the split's images. */
  index: number;
  /** Raw label value from the labels file. */
  labelValue: number;
}

/** An IDX dataset: the listing plus the pixels of both splits. */
export interface IdxDataset extends DatasetDescription<IdxSample> {
  trainImages: IdxImages;
  testImages: IdxImages;
}

/** Read a whole file, gunzipping when it starts with the gzip magic bytes. */
async function readMaybeGzipped(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileFormatError(path, code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (e) {
      throw new FileFormatError(path, `corrupt or truncated gzip stream (${(e as Error).message})`);
    }
  }
  return bytes;
}

/** Parse an IDX header and check the data length; returns dims and the data view. */
function parseIdx(bytes: Uint8Array, path: string, ndim: number): { dims: number[]; data: Uint8Array } {
  const what = ndim === 3 ? 'an IDX3 image file (magic 0x00000803)' : 'an IDX1 label file (magic 0x00000801)';
  if (bytes.length < 4) throw new FileFormatError(path, `truncated header: ${bytes.length} bytes, expected ${what}`);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08 || bytes[3] !== ndim) {
    const magic = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('');
    throw new FileFormatError(path, `magic 0x${magic}, expected ${what}`);
  }
  if (bytes.length < 4 + 4 * ndim) throw new FileFormatError(path, `truncated header: ${bytes.length} bytes, expected ${4 + 4 * ndim}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const offset = 4 + 4 * ndim;
  const expected = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - offset !== expected) {
    throw new FileFormatError(
      path,
      `${bytes.length - offset} data bytes, expected ${expected} for dimensions [${dims.join(', ')}]${bytes.length - offset < expected ? ' (truncated)' : ''}`,
    );
  }
  return { dims, data: bytes.subarray(offset, offset + expected) };
}

/**
 * Read an IDX3 image file (`…-images-idx3-ubyte[.gz]`).
 *
 * @throws FileFormatError for a missing file, a bad magic number, or a data length that
 *   does not match the header (truncated file).
 */
export async function readIdxImages(path: string): Promise<IdxImages> {
  const { dims, data } = parseIdx(await readMaybeGzipped(path), path, 3);
  return { data, count: dims[0], rows: dims[1], cols: dims[2] };
}

/**
 * Read an IDX1 label file (`…-labels-idx1-ubyte[.gz]`).
 *
 * @throws FileFormatError as {@link readIdxImages}.
 */
export async function readIdxLabels(path: string): Promise<Uint8Array> {
  return parseIdx(await readMaybeGzipped(path), path, 1).data;
}

/** Options of {@link readIdxDataset}. */
export interface IdxDatasetOptions {
  /** Normal class: a class name or a label value. Required. */
  normalClass: string | number;
  /** Class names by label value; default {@link MNIST_CLASSES} (`'0'`…`'9'`). */
  classNames?: readonly string[];
  /** Reader name recorded in the description; default `'idx'`. */
  name?: string;
}

/** Find `<base>` or `<base>.gz` in `dir`. */
async function findFile(dir: string, base: string): Promise<string> {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) {
    if (await isFile(candidate)) return candidate;
  }
  throw new FileFormatError(join(dir, base), `file not found (also tried ${base}.gz)`);
}

/** Read one split (images + labels) and check they agree. */
async function readSplit(dir: string, prefix: string, names: readonly string[], normal: string) {
  const imagesPath = await findFile(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = await findFile(dir, `${prefix}-labels-idx1-ubyte`);
  const images = await readIdxImages(imagesPath);
  const labels = await readIdxLabels(labelsPath);
  if (labels.length !== images.count) {
    throw new FileFormatError(labelsPath, `${labels.length} labels for ${images.count} images in ${imagesPath}`);
  }
  const samples: IdxSample[] = [];
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v >= names.length) {
      throw new FileFormatError(labelsPath, `label ${v} at index ${i}, expected 0…${names.length - 1} (${names.length} classes)`);
    }
    samples.push({ index: i, labelValue: v, className: names[v], label: labelFor(names[v], normal) });
  }
  return { images, samples };
}

/**
 * Read an MNIST-format dataset folder (`train-images-idx3-ubyte[.gz]`,
 * `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`,
 * `t10k-labels-idx1-ubyte[.gz]`) into memory, with `normalClass` as the normal class.
 *
 * @throws InvalidArgumentError for an unknown normal class.
 * @throws FileFormatError naming the file for a missing file, a bad header, a truncated
 *   file, a label/image count mismatch or an out-of-range label.
 *
 * @example
 * ```ts
 * const fm = await readIdxDataset('/usr/share/datasets/fashion-mnist',
 *   { normalClass: 'Trouser', classNames: FASHION_MNIST_CLASSES });
 * fm.trainImages.count; // 60000
 * ```
 */
export async function readIdxDataset(dir: string, options: IdxDatasetOptions): Promise<IdxDataset> {
  const names = options.classNames ?? MNIST_CLASSES;
  if (!Array.isArray(names) || names.length === 0) {
    throw new InvalidArgumentError('options.classNames', 'a non-empty array of class names');
  }
  let normal: string;
  if (typeof options.normalClass === 'number') {
    if (!Number.isInteger(options.normalClass) || options.normalClass < 0 || options.normalClass >= names.length) {
      throw new InvalidArgumentError('options.normalClass', `a label value in [0, ${names.length})`, String(options.normalClass));
    }
    normal = names[options.normalClass];
  } else if (names.includes(options.normalClass)) {
    normal = options.normalClass;
  } else {
    throw new InvalidArgumentError('options.normalClass', `one of ${names.map((n) => `'${n}'`).join(', ')} or a label value`, `'${String(options.normalClass)}'`);
  }
  const train = await readSplit(dir, 'train', names, normal);
  const test = await readSplit(dir, 't10k', names, normal);
  return {
    name: options.name ?? 'idx',
    root: dir,
    normalClass: normal,
    classes: [...names],
    train: train.samples,
    test: test.samples,
    trainImages: train.images,
    testImages: test.images,
  };
}

/**
 * Selected in-memory images as RGB pixels `[indices.length, size, size, 3]` (grayscale
 * replicated, resized with Pillow's bilinear filter), ready for `pixelsToTensor`.
 *
 * @throws InvalidArgumentError for an index outside the stack or a bad size.
 *
 * @example
 * ```ts
 * const pixels = idxPixels(fm.trainImages, [0, 1, 2], 64); // Uint8Array of 3·64·64·3
 * ```
 */
export function idxPixels(images: IdxImages, indices: readonly number[], size: number): Uint8Array {
  if (!Number.isInteger(size) || size < 1) throw new InvalidArgumentError('size', 'a positive integer', String(size));
  const { rows, cols, count } = images;
  const out = new Uint8Array(indices.length * size * size * 3);
  indices.forEach((index, n) => {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new InvalidArgumentError('indices', `integers in [0, ${count})`, String(index));
    }
    const gray = { data: images.data.subarray(index * rows * cols, (index + 1) * rows * cols), width: cols, height: rows, channels: 1 };
    const resized = rows === size && cols === size ? gray : resizeBilinear(gray, size, size);
    const base = n * size * size * 3;
    for (let i = 0; i < size * size; i++) {
      const v = resized.data[i];
      out[base + 3 * i] = v;
      out[base + 3 * i + 1] = v;
      out[base + 3 * i + 2] = v;
    }
  });
  return out;
}
