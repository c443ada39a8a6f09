/**
 * The data of one run of an experiment: normal training images, labelled anomalies, the
 * validation split used to choose the reported epoch, and the test set — built with the
 * pipeline (`src/pipeline/`) from the protocol's data set, reading every data set once and
 * caching decoded files on disk.
 *
 * Multi-class sets (Fashion-MNIST, MNIST, the medical sets; §8 of
 * docs/reference-implementation.md): the paper's protocol split (`trainingSplit`). The test
 * set is the data set's test split: the normal class is normal, every other class anomalous.
 *
 * Per-category sets (MVTec AD, VisA, the synthetic set): training images are all normal. A
 * seeded fraction of them is held out for validation. Labelled anomalies are:
 * - `'elastic'`: elastic transformations of the normal training images, fresh per batch (§5);
 * - r_l > 0 (synthetic set only): m = round(n / (1 − r_l) − n) images of the seen defect kind,
 *   rendered by the generator with a random stream of their own (seeded from the data set's
 *   seed, the run's seed and the purpose), so they are new images — never test images (a
 *   rendered image identical to a test image is an error).
 * Validation anomalies are rendered images of the seen kind (synthetic set with r_l > 0, from
 * another stream than the labelled ones), else fixed elastic transformations of the held-out
 * normal images.
 */

import { join, relative, resolve } from 'node:path';

import type { ImageDataset, ValidationSet } from '../data/image-dataset.js';
import type { Label } from '../data/labelled.js';
import { SYNTHETIC_CLASSES, SYNTHETIC_DEFECTS } from '../data/synthetic.js';
import { InvalidArgumentError } from '../errors.js';
import { DATASET_REGISTRY, isMultiClassKind, openDataset, withNormalClass } from '../pipeline/datasets.js';
import type { Dataset, OpenDatasetOptions } from '../pipeline/datasets.js';
import { loadAll } from '../pipeline/decode.js';
import { canonicalJson, derivedSeed } from '../pipeline/keys.js';
import { decodeToCache } from '../pipeline/pixel-cache.js';
import type { CacheItem, DecodedFiles } from '../pipeline/pixel-cache.js';
import type { PixelSource } from '../pipeline/pixels.js';
import { loadRunData, memoryLoader, pickingLoader } from '../pipeline/run-data.js';
import type { PixelLoader } from '../pipeline/run-data.js';
import { limitDataset, trainingSplit } from '../pipeline/split.js';
import { ensureSynthetic, syntheticRenderer } from '../pipeline/synthetic.js';
import type { RunSpec } from './grid.js';
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
  /** Stops long decodes (throws the aborted error). */
  signal?: AbortSignal;
}

/**
 * Builds the data of each run of an experiment, reading every data set once and caching
 * decoded files on disk. Call {@link ExperimentData.close} when done.
 */
export class ExperimentData {
  private readonly resultsDir: string;
  private readonly signal: AbortSignal | undefined;
  private readonly datasets = new Map<string, Promise<Dataset>>();
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
   * @throws InvalidArgumentError when the validation split would be empty with
   *   `selection: 'validation'`; FileFormatError from the readers.
   */
  async prepare(run: RunSpec): Promise<RunData> {
    const s = run.settings;
    const spec = s.dataset;
    const size = s.imageSize;
    const dataset = limitDataset(withNormalClass(await this.dataset(run), run.normalClass), s.limits);
    const datasetSeed = spec.kind === 'synthetic' ? (spec.seed ?? 0) : 0;

    // The test set, and where the training pixels come from.
    let loader: PixelLoader;
    let test: TestSet;
    const testItem = (t: Dataset['test'][number]): TestItem => ({
      name: t.idx !== undefined ? t.name : relative(dataset.root, t.path),
      className: t.className,
      label: t.className === run.normalClass ? 0 : 1,
    });
    if (dataset.train[0]?.idx !== undefined) {
      loader = memoryLoader({ size, onBadImage: 'fail' });
      test = { items: dataset.test.map(testItem), pixels: (await loadAll(dataset.test, { size, onBadImage: 'fail' }, 'test images')).pixels, masks: null };
    } else {
      const trainFiles = await this.decode(dataset.train, size, false);
      const masks = dataset.test.some((t) => t.maskPath !== undefined);
      const testFiles = await this.decode(dataset.test, size, masks, DATASET_REGISTRY[spec.kind].maskThreshold);
      loader = pickingLoader(dataset.train, trainFiles.images);
      test = { items: dataset.test.map(testItem), pixels: testFiles.images, masks: testFiles.masks };
    }

    const split = trainingSplit(dataset, {
      labelled: run.labelled,
      k: run.anomalyClassCount,
      anomalyClass: run.labelledClass ?? undefined,
      validationFraction: s.validationFraction,
      industrialValidation: true,
      seed: run.seed,
      synthetic: spec.kind === 'synthetic' ? { defects: spec.defects ?? SYNTHETIC_DEFECTS, seed: datasetSeed } : undefined,
    });
    if (s.selection === 'validation' && split.validation.length === 0) {
      const expected = isMultiClassKind(spec.kind)
        ? `a fraction that holds out at least one normal and one anomalous training image (${dataset.train.length} training images for ${run.target})`
        : `a fraction that holds out at least one of the ${dataset.train.length} normal training images of ${run.category}`;
      throw new InvalidArgumentError('protocol.validationFraction', expected, String(s.validationFraction));
    }
    const loaded = await loadRunData(split, {
      loader,
      seeds: { elastic: derivedSeed('elastic', datasetSeed, run.seed), validationElastic: derivedSeed('validation-elastic', datasetSeed, run.seed) },
      render:
        spec.kind === 'synthetic' ? syntheticRenderer({ category: run.category as string, size, datasetSeed, seed: run.seed, test: test.pixels }) : undefined,
    });

    const { data, counts } = loaded;
    let labelledClasses: string[] = [];
    if (run.labelled === 'elastic') labelledClasses = ['elastic'];
    else if (run.labelled > 0) labelledClasses = split.anomalies !== null && !Array.isArray(split.anomalies) && split.anomalies !== 'elastic' ? split.anomalies.defects : split.anomalyClasses;
    return {
      normal: data.normal,
      anomalies: data.anomalies ?? null,
      validation: s.selection === 'validation' ? (data.validation ?? null) : null,
      test,
      labelledClasses,
      counts: {
        normal: counts.normal,
        labelledAnomalies: counts.anomalies === 'elastic' ? counts.normal : counts.anomalies,
        validationNormal: counts.validationNormal,
        validationAnomalous: counts.validationAnomalous,
        test: test.items.length,
      },
    };
  }

  /** The run's data set, listed once per data set (and normal class or category). */
  private async dataset(run: RunSpec): Promise<Dataset> {
    const spec = run.settings.dataset;
    let options: OpenDatasetOptions;
    if (spec.kind === 'fashion-mnist' || spec.kind === 'mnist') {
      // Listed once for every normal class: the runs relabel by class name.
      options = { kind: spec.kind, root: spec.root, normalClass: (DATASET_REGISTRY[spec.kind].classes as readonly string[])[0] };
    } else if (isMultiClassKind(spec.kind)) {
      options = { kind: spec.kind, root: (spec as { root: string }).root, normalClass: run.normalClass };
    } else if (spec.kind === 'synthetic') {
      options = { kind: 'synthetic', root: await this.syntheticRoot(spec, run.settings.imageSize), category: run.category as string };
    } else if (spec.kind === 'mvtec' || spec.kind === 'visa') {
      options = { kind: spec.kind, root: spec.root, category: run.category as string, ...(spec.kind === 'visa' && spec.splitFile !== undefined ? { splitFile: spec.splitFile } : {}) };
    } else {
      throw new InvalidArgumentError('protocol.dataset.kind', 'a data set kind of the protocol', (spec as { kind: string }).kind);
    }
    const key = canonicalJson(options);
    if (!this.datasets.has(key)) this.datasets.set(key, openDataset(options));
    return this.datasets.get(key) as Promise<Dataset>;
  }

  private async syntheticRoot(spec: SyntheticDatasetSpec, size: number): Promise<string> {
    const seed = spec.seed ?? 0;
    const root = resolve(spec.root ?? join(this.resultsDir, 'data', `synthetic-${seed}-${size}`));
    if (!this.synthetic.has(root)) {
      this.synthetic.set(
        root,
        ensureSynthetic(root, {
          seed,
          size,
          classes: [...(spec.categories ?? SYNTHETIC_CLASSES)],
          defects: [...(spec.defects ?? SYNTHETIC_DEFECTS)],
          trainCount: spec.trainCount ?? 64,
          testGoodCount: spec.testGoodCount ?? 16,
          testDefectCount: spec.testDefectCount ?? 8,
        }),
      );
    }
    return this.synthetic.get(root) as Promise<string>;
  }

  private decode(items: readonly CacheItem[], size: number, masks: boolean, maskThreshold = 0.5): Promise<DecodedFiles> {
    const key = JSON.stringify([size, masks, maskThreshold, items.map((i) => [i.path, i.maskPath ?? null])]);
    if (!this.decoded.has(key)) {
      const promise = decodeToCache(join(this.resultsDir, 'cache'), items, size, masks, this.signal, maskThreshold);
      // A failed decode is not cached: the next run retries (and reports the same error).
      promise.catch(() => this.decoded.delete(key));
      this.decoded.set(key, promise);
    }
    return this.decoded.get(key) as Promise<DecodedFiles>;
  }
}
