/** The results folder: atomic writes, what counts as a complete run, reading results and scores back. */

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FileFormatError } from '../../src/errors.js';
import { expandGrid } from '../../src/experiment/grid.js';
import { parseProtocol } from '../../src/experiment/protocol.js';
import {
  parseRunResult,
  readRunResult,
  readRunResults,
  readRunScores,
  resultPath,
  runDir,
  writeRunResult,
  writeRunScores,
} from '../../src/experiment/results.js';
import type { RunResult } from '../../src/experiment/results.js';
import { tempDir } from '../data/helpers.js';

const [runA, runB] = expandGrid(
  parseProtocol({
    name: 'r',
    dataset: { kind: 'mnist', root: '/x' },
    normalClasses: ['0'],
    arms: [{ strategy: 'Recon', labelled: [0] }],
    seeds: [0, 1],
    epochs: 1,
    imageSize: 64,
    model: { arch: 'resnet18', layers: ['layer2', 'layer3'] },
  }),
);

function result(run = runA): RunResult {
  return {
    format: 'ckaad-experiment-run',
    version: 1,
    protocol: 'r',
    run,
    data: { normal: 1, labelledAnomalies: 0, validationNormal: 1, validationAnomalous: 1, test: 2, labelledClasses: [] },
    training: { epochs: 1, steps: 1, reportedEpoch: 1, validationAuroc: 0.5, history: [], seconds: 1 },
    metrics: { all: { images: 2, anomalous: 1, imageAuroc: 1, f1: 1, accuracy: 1 } },
    files: { scores: 'scores.json', examples: null },
    environment: { backend: 'cpu', node: process.version, extractorWeightsSha256: null, finishedAt: new Date(0).toISOString() },
  };
}

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('ckaad-results-')));
afterEach(async () => cleanup());

describe('run results', () => {
  it('round-trips and leaves no temporary file behind', async () => {
    await writeRunResult(dir, result());
    expect(await readRunResult(dir, runA.id)).toEqual(result());
    expect(await readdir(runDir(dir, runA.id))).toEqual(['result.json']);
    // Overwriting replaces the whole file.
    const again = result();
    again.training.seconds = 2;
    await writeRunResult(dir, again);
    expect((await readRunResult(dir, runA.id))?.training.seconds).toBe(2);
    expect(await readdir(runDir(dir, runA.id))).toEqual(['result.json']);
  });

  it('is atomic: a reader running alongside repeated writes never sees a partial file', async () => {
    const big = result();
    big.training.history = Array.from({ length: 30000 }, (_, i) => ({ epoch: i + 1, steps: 1, lRec: i / 7, lAdv: 0, lD: 0, lAe: i / 7, validationAuroc: null, seconds: 1 }));
    await writeRunResult(dir, big); // several MB: a plain writeFile is observed half-written by the reader
    let stop = false;
    let reads = 0;
    let partial = 0;
    const reader = (async () => {
      while (!stop) {
        const r = await readRunResult(dir, runA.id);
        reads++;
        if (r === null || r.training.history.length !== 30000) partial++;
      }
    })();
    for (let i = 0; i < 8; i++) await writeRunResult(dir, big);
    stop = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(partial).toBe(0);
  });

  it('treats a missing, truncated or malformed result as incomplete', async () => {
    expect(await readRunResult(dir, runA.id)).toBeNull();
    const text = JSON.stringify(result());
    await mkdir(runDir(dir, runA.id), { recursive: true });
    // What a crash during a plain (non-atomic) write could leave:
    await writeFile(resultPath(dir, runA.id), text.slice(0, text.length / 2));
    expect(await readRunResult(dir, runA.id)).toBeNull();
    // What a crash during writeRunResult leaves: a temporary sibling, no result.json.
    await writeFile(resultPath(dir, runA.id) + '.tmp', text);
    await writeFile(join(runDir(dir, runA.id), '.result.json.abc.tmp'), text);
    await writeFile(resultPath(dir, runA.id), '');
    expect(await readRunResult(dir, runA.id)).toBeNull();
    const broken = (patch: (r: Record<string, unknown>) => void) => {
      const r = JSON.parse(text) as Record<string, unknown>;
      patch(r);
      return parseRunResult(JSON.stringify(r));
    };
    expect(broken(() => undefined)).not.toBeNull();
    expect(broken((r) => (r.format = 'other'))).toBeNull();
    expect(broken((r) => (r.version = 2))).toBeNull();
    expect(broken((r) => delete r.metrics)).toBeNull();
    expect(broken((r) => ((r.metrics as { all: { imageAuroc: unknown } }).all.imageAuroc = null))).toBeNull();
    expect(broken((r) => delete (r.run as Record<string, unknown>).settingsHash)).toBeNull();
  });

  it('readRunResults lists complete runs only, sorted, and ignores a result filed under another id', async () => {
    expect(await readRunResults(dir)).toEqual([]);
    await writeRunResult(dir, result(runB));
    await writeRunResult(dir, result(runA));
    await mkdir(runDir(dir, 'in-progress'), { recursive: true });
    await mkdir(runDir(dir, 'misfiled'), { recursive: true });
    await writeFile(resultPath(dir, 'misfiled'), JSON.stringify(result(runA)));
    const all = await readRunResults(dir);
    expect(all.map((r) => r.run.id)).toEqual([runA.id, runB.id].sort());
  });
});

describe('scores', () => {
  it('round-trips and refuses inconsistent files', async () => {
    const scores = { format: 'ckaad-experiment-scores' as const, version: 1 as const, runId: runA.id, names: ['a', 'b'], classNames: ['0', '1'], labels: [0, 1], scores: [0.1, 0.9] };
    await writeRunScores(dir, scores);
    expect(await readRunScores(dir, runA.id)).toEqual(scores);
    await writeFile(join(runDir(dir, runA.id), 'scores.json'), JSON.stringify({ ...scores, labels: [0] }));
    await expect(readRunScores(dir, runA.id)).rejects.toThrow(FileFormatError);
    expect(JSON.parse(await readFile(join(runDir(dir, runA.id), 'scores.json'), 'utf8')).labels).toEqual([0]);
  });
});
