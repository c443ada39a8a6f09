/**
 * From a {@link TrainingSplit} (lists of items) to what the trainer takes: the pixels of the
 * normal images, of the labelled anomalies (or elastic / rendered ones) and of the validation
 * hold-out, as `ImageDataset`s. Where the pixels come from is the caller's
 * {@link PixelLoader}: decoded into memory per list (the command line), or picked from one
 * decode of the whole training list cached on disk (the experiment runner).
 */

import type { TrainingData } from '../training/trainer.js';
import { InvalidArgumentError } from '../errors.js';
import type { DataItem } from './datasets.js';
import { loadAll } from './decode.js';
import type { LoadOptions, LoadedItems } from './decode.js';
import { concatPixels, elasticCopies, elasticSourceDataset, sourceDataset, subsetPixels } from './pixels.js';
import type { PixelSource } from './pixels.js';
import type { RenderedAnomalies, TrainingSplit } from './split.js';

/** Where the pixels of a list of items come from. */
export interface PixelLoader {
  /**
   * The pixels of `items` and the items they are (an unreadable image may be skipped).
   *
   * @param what How the images are called in errors, e.g. `'validation images'`.
   */
  load(items: readonly DataItem[], what: string): Promise<LoadedItems>;
}

/** Decodes each list into memory when asked (see `loadAll`). */
export function memoryLoader(options: Omit<LoadOptions, 'batchSize'>): PixelLoader {
  return { load: (items, what) => loadAll(items, options, what) };
}

/**
 * Picks the images of a list from `pixels`, the decoded images of `all` (items are matched by
 * path, so copies of the same item are found too).
 */
export function pickingLoader(all: readonly DataItem[], pixels: PixelSource): PixelLoader {
  const position = new Map(all.map((item, i) => [item.path, i]));
  return {
    async load(items) {
      const indices = items.map((item) => {
        const i = position.get(item.path);
        if (i === undefined) throw new InvalidArgumentError('items', 'items of the decoded list', item.path);
        return i;
      });
      return { pixels: subsetPixels(pixels, indices), items: [...items] };
    },
  };
}

/** The lists of a split `loadRunData` reads (a {@link TrainingSplit}, or the command line's narrower one). */
export type RunLists = Pick<TrainingSplit, 'normal' | 'anomalies' | 'validation'> & Partial<Pick<TrainingSplit, 'validationAnomalies'>>;

/** Options of {@link loadRunData}. */
export interface RunDataOptions {
  loader: PixelLoader;
  /** Seeds of the elastic anomalies: drawn per batch for training, once for validation. */
  seeds: { elastic: number; validationElastic: number };
  /** Renders the synthetic set's seen-kind anomalies (needed for rendered anomalies in the split). */
  render?: (purpose: 'labelled' | 'validation', anomalies: RenderedAnomalies) => PixelSource;
  /**
   * Fewest normal images that must decode (the batch size), checked before anything else is
   * decoded. Default: no check.
   */
  minNormal?: number;
}

/** What {@link loadRunData} returns. */
export interface LoadedRun {
  data: TrainingData;
  /** The normal images' pixels. */
  normal: PixelSource;
  /** Images used; `anomalies` is `'elastic'` for elastic ones. */
  counts: { normal: number; anomalies: number | 'elastic'; validationNormal: number; validationAnomalous: number };
}

function labelsOf(items: readonly DataItem[]): Uint8Array {
  return Uint8Array.from(items.map((i) => i.label));
}

/**
 * Loads the pixels of `split` and builds the trainer's datasets. The validation set is kept
 * only when it holds both normal and anomalous images.
 *
 * @throws InvalidArgumentError naming `batchSize` when fewer than `minNormal` normal images
 *   decoded, or `render` for rendered anomalies without a renderer; the loader's errors.
 */
export async function loadRunData(split: RunLists, o: RunDataOptions): Promise<LoadedRun> {
  const render = (purpose: 'labelled' | 'validation', r: RenderedAnomalies): PixelSource => {
    if (o.render === undefined) throw new InvalidArgumentError('render', 'a renderer of the synthetic set for rendered anomalies');
    return o.render(purpose, r);
  };
  const normal = await o.loader.load(split.normal, 'normal training images');
  if (o.minNormal !== undefined && normal.pixels.count < o.minNormal) {
    throw new InvalidArgumentError('batchSize', `at most the number of normal training images (${normal.pixels.count})`, String(o.minNormal));
  }
  const data: TrainingData = { normal: sourceDataset(normal.pixels) };
  let anomalies: number | 'elastic' = 0;
  if (split.anomalies === 'elastic') {
    data.anomalies = elasticSourceDataset(normal.pixels, o.seeds.elastic);
    anomalies = 'elastic';
  } else if (split.anomalies !== null && !Array.isArray(split.anomalies)) {
    if (split.anomalies.count > 0) {
      const rendered = render('labelled', split.anomalies);
      data.anomalies = sourceDataset(rendered);
      anomalies = rendered.count;
    }
  } else if (split.anomalies !== null && split.anomalies.length > 0) {
    const loaded = await o.loader.load(split.anomalies, 'labelled anomalous training images');
    data.anomalies = sourceDataset(loaded.pixels);
    anomalies = loaded.pixels.count;
  }

  let validationNormal = 0;
  let validationAnomalous = 0;
  if (split.validation.length > 0) {
    const loaded = await o.loader.load(split.validation, 'validation images');
    let pixels = loaded.pixels;
    let labels = labelsOf(loaded.items);
    const extra = split.validationAnomalies ?? null;
    if (extra !== null) {
      const made = extra === 'elastic' ? elasticCopies(pixels, o.seeds.validationElastic) : render('validation', extra);
      pixels = concatPixels(pixels, made);
      labels = Uint8Array.from([...labels, ...new Array<number>(made.count).fill(1)]);
    }
    validationNormal = labels.filter((l) => l === 0).length;
    validationAnomalous = labels.length - validationNormal;
    if (validationNormal > 0 && validationAnomalous > 0) data.validation = { images: sourceDataset(pixels), labels };
  }
  return { data, normal: normal.pixels, counts: { normal: normal.pixels.count, anomalies, validationNormal, validationAnomalous } };
}
