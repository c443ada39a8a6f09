/**
 * The synthetic defect set's extras in a pipeline: the set generated on first use (and
 * checked against the settings it was generated with afterwards), and labelled anomalies
 * rendered by its generator — new images of the seen defect kinds, drawn from a random stream
 * of their own, which must never equal a test image ({@link assertNotInTest}).
 */

import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { renderSyntheticSample } from '../data/synthetic.js';
import type { SyntheticClass, SyntheticDefect } from '../data/synthetic.js';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { Rng } from '../nn/random.js';
import { sha256Hex } from '../node/sha256.js';
import { generateSyntheticDefects } from '../node/synthetic-writer.js';
import { derivedSeed } from './keys.js';
import { memoryPixels, range } from './pixels.js';
import type { PixelSource } from './pixels.js';
import type { RenderedAnomalies } from './split.js';

/** What a synthetic set is generated with (its manifest records the same). */
export interface SyntheticSettings {
  seed: number;
  size: number;
  classes: SyntheticClass[];
  defects: SyntheticDefect[];
  trainCount: number;
  testGoodCount: number;
  testDefectCount: number;
}

/**
 * Generates the synthetic set at `root` unless it exists; an existing one must have been
 * generated with `settings`.
 *
 * @returns `root`.
 * @throws FileFormatError naming the manifest when it is unreadable or records other settings.
 */
export async function ensureSynthetic(root: string, settings: SyntheticSettings): Promise<string> {
  const manifestPath = join(root, 'ckaad-synthetic.json');
  const exists = await access(root).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await generateSyntheticDefects({ target: root, ...settings });
    return root;
  }
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

/**
 * Throws unless every image of `sources` differs from every test image (byte for byte): the
 * rendered labelled and validation anomalies must be new images.
 *
 * @throws InvalidArgumentError naming the category and the offending image.
 */
export function assertNotInTest(sources: readonly (PixelSource | null)[], test: PixelSource, category: string): void {
  const per = test.size * test.size * test.channels;
  const all = test.read(range(test.count));
  const hashes = new Set(range(test.count).map((i) => sha256Hex(all.subarray(i * per, (i + 1) * per))));
  sources.forEach((s, k) => {
    if (s === null) return;
    const bytes = s.read(range(s.count));
    for (let i = 0; i < s.count; i++) {
      if (hashes.has(sha256Hex(bytes.subarray(i * per, (i + 1) * per)))) {
        throw new InvalidArgumentError('labelled anomalies', `images that are not in the test set of ${category}`, `image ${i} of set ${k} equals a test image`);
      }
    }
  });
}

/**
 * A renderer of a synthetic category's seen-kind anomalies for `loadRunData`: each purpose
 * draws from its own stream (seeded from the set's seed, the run's seed and the purpose); image
 * i shows the defect kind `defects[i mod n]`. Every rendered set is checked against `test`.
 */
export function syntheticRenderer(o: {
  category: string;
  size: number;
  /** The set's generator seed. */
  datasetSeed: number;
  /** The run's seed. */
  seed: number;
  /** The test images (none may be rendered again). */
  test: PixelSource;
}): (purpose: 'labelled' | 'validation', anomalies: RenderedAnomalies) => PixelSource {
  return (purpose, anomalies) => {
    const rng = new Rng(derivedSeed(purpose, o.datasetSeed, o.seed));
    const per = o.size * o.size * 3;
    const bytes = new Uint8Array(anomalies.count * per);
    for (let i = 0; i < anomalies.count; i++) {
      const kind = anomalies.defects[i % anomalies.defects.length] as SyntheticDefect;
      bytes.set(renderSyntheticSample(o.category as SyntheticClass, kind, o.size, rng.fork()).image, i * per);
    }
    const rendered = memoryPixels(bytes, anomalies.count, o.size);
    // Set 0 is the labelled anomalies, set 1 the validation ones.
    assertNotInTest(purpose === 'labelled' ? [rendered] : [null, rendered], o.test, o.category);
    return rendered;
  };
}
