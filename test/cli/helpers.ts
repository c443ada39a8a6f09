/**
 * Helpers of the command-line tests: run `ckaad` in-process with captured output, and build
 * small datasets on disk (synthetic MVTec-style sets, IDX files, saved models).
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import type { CliIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { generateSyntheticDefects } from '../../src/node/synthetic-writer.js';
import { modelFolder } from '../../src/node/folders.js';
import { describeExtractor, saveModel } from '../../src/io/saved-model.js';
import { LAYERS, SIZE } from '../training/fixtures.js';

/** What a command run printed, and its exit code. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
  /** Non-empty lines of stderr. */
  errLines: string[];
}

/** An io that records everything; `isTTY` false (plain log lines). */
export function captureIo(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, now: () => performance.now() },
    out: () => out,
    err: () => err,
  };
}

/** Runs `ckaad <argv…>` in this process. */
export async function runCli(argv: string[], signal: AbortSignal = new AbortController().signal): Promise<CliRun> {
  const c = captureIo();
  const code = await run(argv, { io: c.io, signal });
  const err = c.err();
  return { code, out: c.out(), err, errLines: err.split('\n').filter((l) => l.trim() !== '') };
}

/** The one `ckaad: …` line a failed run printed (the last line of stderr). */
export function errorLine(r: CliRun): string {
  return r.errLines[r.errLines.length - 1] ?? '';
}

/** A fresh temporary folder. */
export async function scratchDir(prefix = 'ckaad-cli-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A tiny synthetic MVTec-style set (one class, 64×64) at `<dir>/<name>`; returns its root. */
export async function tinySynthetic(dir: string, name = 'synthetic', trainCount = 4): Promise<string> {
  const root = join(dir, name);
  await generateSyntheticDefects({
    target: root,
    size: 64,
    seed: 3,
    classes: ['weave'],
    defects: ['hole', 'scratch'],
    trainCount,
    testGoodCount: 2,
    testDefectCount: 1,
  });
  return root;
}

/**
 * An untrained resnet18 {layer1, layer2} model at 32×32 (random backbone, seed-1 auto-encoder),
 * saved with `saveModel` at `<dir>/<name>`: enough to exercise `eval` and `score` quickly.
 */
export async function untrainedModel(dir: string, name = 'model'): Promise<string> {
  const path = join(dir, name);
  const extractor = { arch: 'resnet18', layers: LAYERS, weights: 'random', seed: 0 } as const;
  const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers: LAYERS, seed: 1 });
  try {
    await saveModel(modelFolder(path), { extractor: await describeExtractor(extractor), autoencoder, imageSize: SIZE });
  } finally {
    autoencoder.dispose();
  }
  return path;
}

/** Encodes an IDX file: magic (type 0x08, `dims.length` dimensions), big-endian sizes, data. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  const view = new DataView(header.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/**
 * A Fashion-MNIST-format folder (gzipped IDX files) of 28×28 images whose labels cycle through
 * `labels`; every image is a distinct gradient.
 */
export async function tinyIdx(dir: string, labels: number[], perSplit = 40): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const split of ['train', 't10k']) {
    const pixels = new Uint8Array(perSplit * 28 * 28);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + Math.floor(i / 784) * 13) % 256;
    const values = Uint8Array.from({ length: perSplit }, (_, i) => labels[i % labels.length]);
    await writeFile(join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(idx([perSplit, 28, 28], pixels)));
    await writeFile(join(dir, `${split}-labels-idx1-ubyte.gz`), gzipSync(idx([perSplit], values)));
  }
  return dir;
}

/** Writes `bytes` to `path`, creating folders. */
export async function writeBytes(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}
