/**
 * The data of one run: normal training images, labelled anomalies, the validation split used
 * to choose the reported epoch, and the test set — built from the protocol's data set.
 *
 * Multi-class sets (Fashion-MNIST, MNIST, the medical sets; docs/reference-implementation.md §8): `sampleProtocol` holds
 * out a balanced 5 % validation split (normal class vs. every other class), keeps the other
 * normal images, and draws r_l labelled anomalies from the run's labelled class (k = 1) or
 * from k random classes. The test set is the data set's test split: the normal class is
 * normal, every other class anomalous.
 *
 * Per-category sets (MVTec AD, VisA, the synthetic set): training images are all normal. A
 * seeded fraction of them is held out for validation. Labelled anomalies are:
 * - `'elastic'`: elastic transformations of the normal training images, fresh per batch (docs/reference-implementation.md §5);
 * - r_l > 0 (synthetic set only): m = round(n / (1 − r_l) − n) images of the seen defect kind,
 *   rendered by the generator with a random stream of their own (seeded from the data set's
 *   seed, the run's seed and the purpose), so they are new images — never test images. The
 *   runner checks this: a rendered image identical to a test image is an error.
 * Validation anomalies are rendered images of the seen kind (synthetic set with r_l > 0, from
 * another stream than the labelled ones), else fixed elastic transformations of the held-out
 * normal images.
 */

import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';

import { readBr35h } from '../node/readers/br35h.js';
import { readChestXray } from '../node/readers/chest-xray.js';
import type { DatasetDescription, ImageSample, Label, LabelledItem } from '../data/labelled.js';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES, idxPixels, readIdxDataset } from '../node/readers/idx.js';
import type { IdxDataset, IdxSample } from '../node/readers/idx.js';
import { readIsic2018 } from '../node/readers/isic.js';
import { readMvtec } from '../node/readers/mvtec.js';
import { readOct2017 } from '../node/readers/oct.js';
import { labelledAnomalyCount, sampleProtocol } from '../data/sampler.js';
import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS, renderSyntheticSample } from '../data/synthetic.js';
import { generateSyntheticDefects } from '../node/synthetic-writer.js';
import type { SyntheticClass, SyntheticDefect } from '../data/synthetic.js';
import { readVisa } from '../node/readers/visa.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import type { ImageDataset, ValidationSet } from '../data/image-dataset.js';
import type { RunSpec } from './grid.js';
import { decodeToCache, elasticCopies, elasticSourceDataset, memoryPixels, sourceDataset, subsetPixels } from './pixels.js';
import type { DecodedFiles, PixelSource } from './pixels.js';
import type { SyntheticDatasetSpec } from './protocol.js';

/** One test image's identity. */
export interface TestItem {
  /** Short unique name (relative path, or `t10k-00042` for IDX sets). */
  name: string;
  /** Its class (defect kind, diagnosis, Fashion-MNIST class). */
  className: string;
  /** 0 normal, 1 anomalous. */
  label: Label;
}

/** The test split of a run. */
export interface TestSet {
  /** One entry per test image. */
  items: TestItem[];
  /** RGB pixels, one image per item. */
  pixels: PixelSource;
  /** Ground-truth masks (1 channel, 0/1), or null for sets without masks. */
  masks: PixelSource | null;
}

/** Everything a run trains, selects and tests on. */
export interface RunData {
  /** Normal training images. */
  normal: ImageDataset;
  /** Labelled anomalies, or null for none. */
  anomalies: ImageDataset | null;
  /** The validation split (null with `selection: 'last'`). */
  validation: ValidationSet | null;
  /** The test split. */
  test: TestSet;
  /** Anomaly classes the labelled anomalies came from: [] for none, ['elastic'] for elastic ones. */
  labelledClasses: string[];
  /** Image counts of each part (validation counts even when selection is 'last'). */
  counts: { normal: number; labelledAnomalies: number; validationNormal: number; validationAnomalous: number; test: number };
}

/** Options of {@link ExperimentData}. */
export interface ExperimentDataOptions {
  /** The results folder (decode cache in `cache/`, a generated synthetic set in `data/`). */
  resultsDir: string;
  /** Stops long decodes (throws the runner's aborted error). */
  signal?: AbortSignal;
}

/** A seed derived from a purpose and numbers (48 bits of SHA-256): independent random streams. */
export function derivedSeed(purpose: string, ...values: number[]): number {
  const hex = createHash('sha256').update(`${purpose}:${values.join(':')}`).digest('hex');
  return parseInt(hex.slice(0, 12), 16);
}

/**
 * At most `perClass` items of each class, chosen by a seeded shuffle, in their original order.
 */
export function limitPerClass<T extends LabelledItem>(items: readonly T[], perClass: number, seed: number): T[] {
  const rng = new Rng(seed);
  const byClass = new Map<string, number[]>();
  items.forEach((item, i) => {
    const list = byClass.get(item.className) ?? [];
    list.push(i);
    byClass.set(item.className, list);
  });
  const keep = new Set<number>();
  for (const name of [...byClass.keys()].sort()) {
    for (const i of rng.shuffle(byClass.get(name) as number[]).slice(0, perClass)) keep.add(i);
  }
  return items.filter((_, i) => keep.has(i));
}

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Throws unless every image of `sources` differs from every test image (byte for byte): the
 * rendered labelled and validation anomalies must be new images.
 *
 * @throws InvalidArgumentError naming the category and the offending image.
 */
export function assertNotInTest(sources: readonly (PixelSource | null)[], test: PixelSource, category: string): void {
  const per = test.size * test.size * test.channels;
  const all = test.read(Array.from({ length: test.count }, (_, i) => i));
  const hashes = new Set(Array.from({ length: test.count }, (_, i) => sha(all.subarray(i * per, (i + 1) * per))));
  sources.forEach((s, k) => {
    if (s === null) return;
    const bytes = s.read(Array.from({ length: s.count }, (_, i) => i));
    for (let i = 0; i < s.count; i++) {
      if (hashes.has(sha(bytes.subarray(i * per, (i + 1) * per)))) {
        throw new InvalidArgumentError('labelled anomalies', `images that are not in the test set of ${category}`, `image ${i} of set ${k} equals a test image`);
      }
    }
  });
}

function labelsOf(items: readonly LabelledItem[]): Uint8Array {
  return Uint8Array.from(items.map((i) => i.label));
}

function concatSources(a: PixelSource, b: PixelSource): PixelSource {
  const all = (s: PixelSource) => s.read(Array.from({ length: s.count }, (_, i) => i));
  const bytes = new Uint8Array(a.count * a.size * a.size * 3 + b.count * b.size * b.size * 3);
  if (a.count > 0) bytes.set(all(a), 0);
  if (b.count > 0) bytes.set(all(b), a.count * a.size * a.size * 3);
  return memoryPixels(bytes, a.count + b.count, a.size, 3);
}

/**
 * Builds the data of each run of an experiment, reading every data set once and caching
 * decoded files on disk. Call {@link ExperimentData.close} when done.
 */
export class ExperimentData {
  private readonly resultsDir: string;
  private readonly signal: AbortSignal | undefined;
  private readonly idx = new Map<string, Promise<IdxDataset>>();
  private readonly listings = new Map<string, Promise<DatasetDescription>>();
  private readonly decoded = new Map<string, Promise<DecodedFiles>>();
  private readonly synthetic = new Map<string, Promise<string>>();

  constructor(options: ExperimentDataOptions) {
    this.resultsDir = resolve(options.resultsDir);
    this.signal = options.signal;
  }

  /** Closes every cached file. */
  async close(): Promise<void> {
    for (const d of this.decoded.values()) (await d).close();
    this.decoded.clear();
  }

  /**
   * The data of `run`.
   *
   * @throws InvalidArgumentError when the validation split would be empty, or labelled
   *   anomalies are asked of a set that has none; FileFormatError from the readers.
   */
  async prepare(run: RunSpec): Promise<RunData> {
    const kind = run.settings.dataset.kind;
    if (kind === 'fashion-mnist' || kind === 'mnist') return this.prepareIdx(run);
    if (kind === 'mvtec' || kind === 'visa' || kind === 'synthetic') return this.prepareCategory(run);
    return this.prepareMedical(run);
  }

  // ---------------------------------------------------------------------------------------
  // multi-class sets

  private limited<T extends LabelledItem>(items: readonly T[], which: 'trainPerClass' | 'testPerClass', run: RunSpec): T[] {
    const limits = run.settings.limits;
    const n = limits?.[which];
    return n === undefined || limits === null ? [...items] : limitPerClass(items, n, limits.seed ?? 0);
  }

  private split<T extends LabelledItem>(train: readonly T[], classes: readonly string[], run: RunSpec) {
    const ratio = run.labelled === 'elastic' ? 0 : run.labelled;
    const split = sampleProtocol(train as T[], {
      normalClass: run.normalClass,
      labelledRatio: ratio,
      anomalyClassCount: run.anomalyClassCount,
      anomalyClass: run.labelledClass ?? undefined,
      validationFraction: run.settings.validationFraction,
      seed: run.seed,
      classes,
    });
    if (run.settings.selection === 'validation' && split.validation.length === 0) {
      throw new InvalidArgumentError(
        'protocol.validationFraction',
        `a fraction that holds out at least one normal and one anomalous training image (${train.length} training images for ${run.target})`,
        String(run.settings.validationFraction),
      );
    }
    return split;
  }

  private labelledClassesOf(run: RunSpec, drawn: string[]): string[] {
    if (run.labelled === 'elastic') return ['elastic'];
    return run.labelled > 0 ? drawn : [];
  }

  private async prepareIdx(run: RunSpec): Promise<RunData> {
    const { root, kind } = run.settings.dataset as { root: string; kind: 'fashion-mnist' | 'mnist' };
    const classes = kind === 'fashion-mnist' ? FASHION_MNIST_CLASSES : MNIST_CLASSES;
    const key = `${kind}:${root}`;
    if (!this.idx.has(key)) this.idx.set(key, readIdxDataset(root, { normalClass: classes[0], classNames: classes, name: kind }));
    const ds = await (this.idx.get(key) as Promise<IdxDataset>);
    const size = run.settings.imageSize;
    const train = this.limited(ds.train, 'trainPerClass', run);
    const test = this.limited(ds.test, 'testPerClass', run);
    const split = this.split(train, classes, run);
    const pixels = (items: readonly IdxSample[], images = ds.trainImages) =>
      memoryPixels(idxPixels(images, items.map((s) => s.index), size), items.length, size);
    const normal = pixels(split.normal);
    const testItems: TestItem[] = test.map((s) => ({
      name: `t10k-${String(s.index).padStart(5, '0')}`,
      className: s.className,
      label: s.className === run.normalClass ? 0 : 1,
    }));
    return this.assemble(run, {
      normal,
      labelled: split.labelledAnomalies.length > 0 ? pixels(split.labelledAnomalies) : null,
      validation: split.validation.length > 0 ? { pixels: pixels(split.validation), labels: labelsOf(split.validation) } : null,
      test: { items: testItems, pixels: pixels(test, ds.testImages), masks: null },
      labelledClasses: this.labelledClassesOf(run, split.labelledClasses),
    });
  }

  private async prepareMedical(run: RunSpec): Promise<RunData> {
    const { root, kind } = run.settings.dataset as { root: string; kind: 'chest-xray' | 'oct2017' | 'br35h' | 'isic2018' };
    const key = `${kind}:${root}:${run.normalClass}`;
    if (!this.listings.has(key)) {
      const options = { normalClass: run.normalClass };
      const read =
        kind === 'chest-xray' ? readChestXray(root, options) : kind === 'oct2017' ? readOct2017(root, options) : kind === 'br35h' ? readBr35h(root, options) : readIsic2018(root, options);
      this.listings.set(key, read);
    }
    const ds = await (this.listings.get(key) as Promise<DatasetDescription>);
    const size = run.settings.imageSize;
    const train = this.limited(ds.train, 'trainPerClass', run).map((s, index) => ({ ...s, index }));
    const test = this.limited(ds.test, 'testPerClass', run);
    const trainFiles = await this.decode(train, size, false);
    const testFiles = await this.decode(test, size, test.some((s) => s.maskPath !== undefined));
    const split = this.split(train, ds.classes, run);
    const pick = (items: readonly { index: number }[]) => subsetPixels(trainFiles.images, items.map((s) => s.index));
    return this.assemble(run, {
      normal: pick(split.normal),
      labelled: split.labelledAnomalies.length > 0 ? pick(split.labelledAnomalies) : null,
      validation: split.validation.length > 0 ? { pixels: pick(split.validation), labels: labelsOf(split.validation) } : null,
      test: { items: this.testItems(test, root), pixels: testFiles.images, masks: testFiles.masks },
      labelledClasses: this.labelledClassesOf(run, split.labelledClasses),
    });
  }

  // ---------------------------------------------------------------------------------------
  // per-category sets

  private async prepareCategory(run: RunSpec): Promise<RunData> {
    const spec = run.settings.dataset;
    const category = run.category as string;
    const size = run.settings.imageSize;
    let root: string;
    let ds: DatasetDescription;
    if (spec.kind === 'synthetic') {
      root = await this.syntheticRoot(spec, size);
      ds = await this.listing(`synthetic:${root}:${category}`, () => readMvtec(root, { category }));
    } else if (spec.kind === 'mvtec') {
      root = spec.root;
      ds = await this.listing(`mvtec:${root}:${category}`, () => readMvtec(root, { category }));
    } else if (spec.kind === 'visa') {
      root = spec.root;
      const splitFile = spec.splitFile;
      ds = await this.listing(`visa:${root}:${category}:${splitFile ?? ''}`, () => readVisa(root, { category, splitFile }));
    } else {
      throw new InvalidArgumentError('protocol.dataset.kind', 'a per-category data set', spec.kind);
    }
    const train = this.limited(ds.train, 'trainPerClass', run);
    const test = this.limited(ds.test, 'testPerClass', run);
    const trainFiles = await this.decode(train, size, false);
    // VisA's reference keeps every non-zero mask pixel after resizing; MVTec AD's keeps > 0.5.
    const testFiles = await this.decode(test, size, test.some((s) => s.maskPath !== undefined), spec.kind === 'visa' ? 0 : 0.5);

    // Validation hold-out of normal images (seeded by the run's seed).
    const order = new Rng(derivedSeed('holdout', run.seed)).shuffle(train.map((_, i) => i));
    const nVal = Math.floor(run.settings.validationFraction * train.length);
    if (run.settings.selection === 'validation' && nVal < 1) {
      throw new InvalidArgumentError(
        'protocol.validationFraction',
        `a fraction that holds out at least one of the ${train.length} normal training images of ${category}`,
        String(run.settings.validationFraction),
      );
    }
    const heldOut = order.slice(0, nVal).sort((a, b) => a - b);
    const kept = order.slice(nVal).sort((a, b) => a - b);
    const normal = subsetPixels(trainFiles.images, kept);
    const valNormal = subsetPixels(trainFiles.images, heldOut);

    let labelled: PixelSource | ImageDataset | null = null;
    let labelledClasses: string[] = [];
    let valAnomalous: PixelSource | null = null;
    const datasetSeed = spec.kind === 'synthetic' ? (spec.seed ?? 0) : 0;
    if (run.labelled === 'elastic') {
      labelled = elasticSourceDataset(normal, derivedSeed('elastic', datasetSeed, run.seed));
      labelledClasses = ['elastic'];
    } else if (run.labelled > 0) {
      if (spec.kind !== 'synthetic') {
        throw new InvalidArgumentError('labelled', `0 or "elastic" for ${spec.kind} (no anomalous training images)`, String(run.labelled));
      }
      const defects = spec.defects ?? SYNTHETIC_DEFECTS;
      labelledClasses =
        run.labelledClass !== null
          ? [run.labelledClass]
          : new Rng(derivedSeed('kinds', datasetSeed, run.seed)).shuffle([...defects]).slice(0, run.anomalyClassCount);
      const m = labelledAnomalyCount(normal.count, run.labelled);
      const render = (purpose: string, count: number) => {
        const rng = new Rng(derivedSeed(purpose, datasetSeed, run.seed));
        const per = size * size * 3;
        const bytes = new Uint8Array(count * per);
        for (let i = 0; i < count; i++) {
          const kind = labelledClasses[i % labelledClasses.length] as SyntheticDefect;
          bytes.set(renderSyntheticSample(category as SyntheticClass, kind, size, rng.fork()).image, i * per);
        }
        return memoryPixels(bytes, count, size);
      };
      labelled = m > 0 ? render('labelled', m) : null;
      valAnomalous = nVal > 0 ? render('validation', nVal) : null;
      assertNotInTest([labelled, valAnomalous], testFiles.images, category);
    }
    if (valAnomalous === null && nVal > 0) valAnomalous = elasticCopies(valNormal, derivedSeed('validation-elastic', datasetSeed, run.seed));

    return this.assemble(run, {
      normal,
      labelled,
      validation:
        nVal > 0 && valAnomalous !== null
          ? { pixels: concatSources(valNormal, valAnomalous), labels: Uint8Array.from([...new Array<number>(nVal).fill(0), ...new Array<number>(valAnomalous.count).fill(1)]) }
          : null,
      test: { items: this.testItems(test, root), pixels: testFiles.images, masks: testFiles.masks },
      labelledClasses,
    });
  }

  private async syntheticRoot(spec: SyntheticDatasetSpec, size: number): Promise<string> {
    const seed = spec.seed ?? 0;
    const root = resolve(spec.root ?? join(this.resultsDir, 'data', `synthetic-${seed}-${size}`));
    if (!this.synthetic.has(root)) {
      const settings = {
        seed,
        size,
        classes: [...(spec.categories ?? SYNTHETIC_CLASSES)],
        defects: [...(spec.defects ?? SYNTHETIC_DEFECTS)],
        trainCount: spec.trainCount ?? 64,
        testGoodCount: spec.testGoodCount ?? 16,
        testDefectCount: spec.testDefectCount ?? 8,
      };
      this.synthetic.set(root, this.ensureSynthetic(root, settings));
    }
    return this.synthetic.get(root) as Promise<string>;
  }

  private async ensureSynthetic(
    root: string,
    settings: { seed: number; size: number; classes: SyntheticClass[]; defects: SyntheticDefect[]; trainCount: number; testGoodCount: number; testDefectCount: number },
  ): Promise<string> {
    const manifestPath = join(root, 'ckaad-synthetic.json');
    const exists = await access(root).then(
      () => true,
      () => false,
    );
    if (exists) {
      let manifest: Record<string, unknown>;
      try {
        manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new FileFormatError(manifestPath, `cannot read the synthetic set's manifest (${(e as Error).message}); remove ${root} to regenerate it`);
      }
      const differing = Object.entries(settings).filter(([k, v]) => JSON.stringify(manifest[k]) !== JSON.stringify(v));
      if (differing.length > 0) {
        throw new FileFormatError(
          manifestPath,
          `the synthetic set was generated with other settings (${differing.map(([k, v]) => `${k}: ${JSON.stringify(manifest[k])}, protocol wants ${JSON.stringify(v)}`).join('; ')}); remove ${root} or set dataset.root`,
        );
      }
      return root;
    }
    await generateSyntheticDefects({ target: root, ...settings });
    return root;
  }

  // ---------------------------------------------------------------------------------------
  // shared

  private listing(key: string, read: () => Promise<DatasetDescription>): Promise<DatasetDescription> {
    if (!this.listings.has(key)) this.listings.set(key, read());
    return this.listings.get(key) as Promise<DatasetDescription>;
  }

  private decode(items: readonly ImageSample[], size: number, masks: boolean, maskThreshold = 0.5): Promise<DecodedFiles> {
    const key = JSON.stringify([size, masks, maskThreshold, items.map((i) => [i.path, i.maskPath ?? null])]);
    if (!this.decoded.has(key)) {
      const promise = decodeToCache(join(this.resultsDir, 'cache'), items, size, masks, this.signal, maskThreshold);
      // A failed decode is not cached: the next run retries (and reports the same error).
      promise.catch(() => this.decoded.delete(key));
      this.decoded.set(key, promise);
    }
    return this.decoded.get(key) as Promise<DecodedFiles>;
  }

  private testItems(test: readonly ImageSample[], root: string): TestItem[] {
    return test.map((s) => ({ name: relative(root, s.path), className: s.className, label: s.label }));
  }

  private assemble(
    run: RunSpec,
    parts: {
      normal: PixelSource;
      labelled: PixelSource | ImageDataset | null;
      validation: { pixels: PixelSource; labels: Uint8Array } | null;
      test: TestSet;
      labelledClasses: string[];
    },
  ): RunData {
    const { normal, labelled, validation, test } = parts;
    const anomalies = labelled === null ? null : 'read' in labelled ? sourceDataset(labelled) : labelled;
    const useValidation = run.settings.selection === 'validation' && validation !== null;
    const validationNormal = validation === null ? 0 : validation.labels.filter((l) => l === 0).length;
    return {
      normal: sourceDataset(normal),
      anomalies,
      validation: useValidation ? { images: sourceDataset(validation.pixels), labels: validation.labels } : null,
      test,
      labelledClasses: parts.labelledClasses,
      counts: {
        normal: normal.count,
        labelledAnomalies: anomalies?.size ?? 0,
        validationNormal,
        validationAnomalous: validation === null ? 0 : validation.labels.length - validationNormal,
        test: test.items.length,
      },
    };
  }
}
