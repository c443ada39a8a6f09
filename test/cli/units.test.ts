/**
 * The command line's pure parts: option parsers, error formatting and exit codes, tables,
 * progress numbers, heat-map composition, subsets and the training split.
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { InvalidArgumentError as CommanderArgumentError } from 'commander';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { stratifiedSubset, modelNames } from '../../src/cli/commands/eval.js';
import type { CliDataset, CliItem } from '../../src/cli/dataset.js';
import { EXIT, InterruptedError, OptionError, exitCodeFor, oneLine } from '../../src/cli/errors.js';
import { pickHeatmaps } from '../../src/cli/evaluation.js';
import { OUTLINE, PANEL_GAP, PANEL_MIN, composeOverlay, scoreLine } from '../../src/cli/heatmap.js';
import type { OverlayInput } from '../../src/cli/heatmap.js';
import { jet } from '../../src/pipeline/raster.js';
import {
  integerAtLeast,
  numberIn,
  parseBackbone,
  parseHeatmaps,
  parseLayers,
  parseStrategy,
  parseTopK,
} from '../../src/cli/options.js';
import { RESULTS_FILE, fmt, markdownTable, safeName, stageOutput } from '../../src/cli/output.js';
import { LOG_INTERVAL_MS, formatDuration, rate, startProgress } from '../../src/cli/progress.js';
import { subsample, trainingSplit } from '../../src/cli/split.js';
import { FileFormatError, InvalidArgumentError, WeightsMismatchError } from '../../src/errors.js';
import { STRATEGIES } from '../../src/training/strategies.js';
import { captureIo, scratchDir } from './helpers.js';

describe('option parsers', () => {
  it('integerAtLeast accepts integers ≥ min and rejects the rest', () => {
    expect(integerAtLeast(1)('16')).toBe(16);
    for (const bad of ['0', '1.5', 'abc', '', '-3', '1e400']) expect(() => integerAtLeast(1)(bad)).toThrow(CommanderArgumentError);
  });

  it('numberIn honours open and closed ends (r_l ∈ [0, 1))', () => {
    const ratio = numberIn(0, 1, { hiOpen: true });
    expect(ratio('0')).toBe(0);
    expect(ratio('0.05')).toBe(0.05);
    expect(() => ratio('1')).toThrow(/\[0, 1\)/);
    expect(() => ratio('-0.1')).toThrow(CommanderArgumentError);
    expect(() => ratio('NaN')).toThrow(CommanderArgumentError);
    const gamma = numberIn(0, 1, { loOpen: true });
    expect(() => gamma('0')).toThrow(/\(0, 1\]/);
    expect(gamma('1')).toBe(1);
  });

  it('parses layers, backbones, strategies, top-k and heat-map counts', () => {
    expect(parseLayers('layer2,layer3')).toEqual(['layer2', 'layer3']);
    expect(() => parseLayers('layer2,layer9')).toThrow(/unknown: layer9/);
    expect(() => parseLayers('layer2,layer2')).toThrow(/at most once/);
    expect(parseBackbone('wide_resnet50_2')).toBe('wide_resnet50_2');
    expect(() => parseBackbone('resnet19')).toThrow(/resnet18, resnet34/);
    expect(parseStrategy('ckapatch')).toBe(STRATEGIES.CKAPatch);
    expect(parseStrategy('Recon')).toBe(STRATEGIES.Recon);
    expect(() => parseStrategy('CKA')).toThrow(/Recon, ReconSub, GAN, CKAImg, CKAPatch/);
    expect(parseTopK('mean')).toBe('mean');
    expect(parseTopK('100')).toBe(100);
    expect(() => parseTopK('0')).toThrow(CommanderArgumentError);
    expect(parseHeatmaps('all')).toBe('all');
    expect(parseHeatmaps('0')).toBe(0);
  });
});

describe('errors and exit codes', () => {
  it('maps error kinds to exit codes', () => {
    expect(exitCodeFor(new OptionError('--k', 'x'))).toBe(EXIT.usage);
    expect(exitCodeFor(new FileFormatError('/a.png', 'bad'))).toBe(EXIT.input);
    expect(exitCodeFor(new InvalidArgumentError('options.gamma', 'x'))).toBe(EXIT.input);
    expect(exitCodeFor(new InterruptedError('stop'))).toBe(EXIT.interrupted);
    expect(exitCodeFor(new TypeError('bug'))).toBe(EXIT.internal);
  });

  it('reports a weights mismatch on one line, quoting the first problems and counting the rest', () => {
    const problems = Array.from({ length: 7 }, (_, i) => ({ name: `layer1.${i}.conv1.weight`, kind: 'missing' as const, expected: [64, 64, 3, 3] }));
    const line = oneLine(new WeightsMismatchError('/w/r18.safetensors (for resnet34)', problems));
    expect(line).not.toContain('\n');
    expect(line).toContain('/w/r18.safetensors (for resnet34)');
    expect(line).toContain('missing: layer1.0.conv1.weight');
    expect(line).toContain('missing: layer1.2.conv1.weight');
    expect(line).not.toContain('layer1.3.');
    expect(line).toContain('… and 4 more');
  });

  it('joins multi-line messages', () => {
    expect(oneLine(new Error('first\n  second\n\nthird'))).toBe('first; second; third');
  });

  it('OptionError names the flag', () => {
    expect(new OptionError('--ratio', 'a number in [0, 1)', '1.5').message).toBe('Invalid --ratio: expected a number in [0, 1), found 1.5.');
  });
});

describe('markdown tables and formatting', () => {
  it('pads columns, right-aligns the numeric ones, and renders missing metrics as —', () => {
    const table = markdownTable(['model', 'AUROC'], [['recon', fmt(0.91234)], ['ckapatch', fmt(null)]], ['AUROC']);
    expect(table.split('\n')).toEqual(['| model    | AUROC |', '|----------|------:|', '| recon    | 0.912 |', '| ckapatch |     — |']);
  });

  it('safeName keeps names usable as file names', () => {
    expect(safeName('test/scratch/003')).toBe('test_scratch_003');
    expect(safeName('T-shirt/top')).toBe('T-shirt_top');
    expect(safeName('///')).toBe('image');
  });

  it('modelNames numbers duplicate base names', () => {
    expect(modelNames(['a/recon', 'b/ckapatch'])).toEqual(['recon', 'ckapatch']);
    expect(modelNames(['a/model', 'b/model'])).toEqual(['model-1', 'model-2']);
  });
});

describe('progress', () => {
  it('formats durations', () => {
    expect(formatDuration(5.4)).toBe('5s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(7380)).toBe('2h03m');
    expect(formatDuration(Infinity)).toBe('?');
  });

  it('computes speed and ETA', () => {
    const r = rate(30, 120, 10_000);
    expect(r.perSecond).toBeCloseTo(3);
    expect(r.etaSeconds).toBeCloseTo(30);
    expect(rate(0, 10, 0).etaSeconds).toBe(Infinity);
  });

  it('without a terminal, logs at most one line per interval and a final summary', () => {
    let now = 0;
    const c = captureIo();
    const io = { ...c.io, now: () => now };
    const p = startProgress(io, 'train Recon', 100);
    for (let done = 1; done <= 100; done++) {
      now += LOG_INTERVAL_MS / 4; // 4 updates per interval
      p.update(done, `L_rec ${done}`);
    }
    p.stop();
    const lines = c.err().trim().split('\n');
    expect(lines.length).toBe(26); // 25 interval lines + the final one
    expect(lines[0]).toMatch(/^train Recon: 4\/100 images \(4%\) · 0\.4 img\/s · ETA 4m00s · L_rec 4$/);
    expect(lines[25]).toMatch(/^train Recon: done, 100 images in 4m10s \(0\.4 img\/s\)$/);
    expect(c.out()).toBe('');
  });
});

describe('heat maps', () => {
  it('jet runs blue → cyan → yellow → red and clamps', () => {
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(0.5)).toEqual([128, 255, 128]);
    expect(jet(-3)).toEqual(jet(0));
    expect(jet(7)).toEqual(jet(1));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (t) => jet(t).every((c) => Number.isInteger(c) && c >= 0 && c <= 255)),
    );
  });

  const size = 4;
  const image = new Uint8Array(size * size * 3).fill(100);
  const map = new Float32Array(size * size).fill(0);
  map[5] = 2; // the hottest pixel of the run (range [0, 2]) at (1, 1)
  const mask = new Uint8Array(size * size);
  mask[5] = 1;

  it('draws enlarged, titled panels: image | ground truth | map, the ground truth outlined on the map', () => {
    const { raster, layout, labels } = composeOverlay({ size, image, map, mask, lo: 0, hi: 2 });
    expect(layout.panel).toBeGreaterThanOrEqual(PANEL_MIN);
    expect(layout.panelX).toHaveLength(3);
    expect(layout.panelX[1] - layout.panelX[0]).toBe(layout.panel + PANEL_GAP);
    const s = layout.scale;
    const at = (panel: number, x: number, y: number) => raster.at(layout.panelX[panel] + x, layout.panelY + y);
    expect(at(0, s + 1, s + 1)).toEqual([100, 100, 100]); // image, enlarged
    expect(at(0, layout.panel - 1, layout.panel - 1)).toEqual([100, 100, 100]);
    expect(raster.at(layout.panelX[0] + layout.panel + 1, layout.panelY)).toEqual([255, 255, 255]); // gap
    expect(at(1, s + s / 2, s + s / 2)).toEqual([255, 255, 255]); // mask pixel on
    expect(at(1, 0, 0)).toEqual([0, 0, 0]); // mask pixel off
    expect(at(2, s, s + s / 2)).toEqual([...OUTLINE]); // left edge of the ground-truth region
    const hot = at(2, s + s / 2, s + s / 2); // inside the region: the map's hottest pixel
    const cold = at(2, 0, 0);
    expect(hot[0]).toBeGreaterThan(hot[2]); // red dominates where the map peaks
    expect(cold[2]).toBeGreaterThan(cold[0]); // blue elsewhere
    expect(labels.join('\n')).toMatch(/>image<.*>ground truth<.*>anomaly map \(outline: ground truth\)</s);
    expect(composeOverlay({ size, image, map, lo: 0, hi: 2 }).layout.panelX).toHaveLength(2); // no mask panel
  });

  it('has a colour bar from the hottest value (top) to the coldest (bottom), labelled with the map range', () => {
    const { raster, layout, labels } = composeOverlay({ size, image, map, mask, lo: 0.5, hi: 2.5 });
    expect(raster.at(layout.barX + 2, layout.panelY)).toEqual(jet(1));
    expect(raster.at(layout.barX + 2, layout.panelY + layout.panel - 1)).toEqual(jet(0));
    expect(labels.join('\n')).toMatch(/>2\.5<.*>1\.5<.*>0\.5</s);
  });

  it('names the image and its ground truth, and compares its score with the threshold', () => {
    const text = (o: Partial<OverlayInput>) => composeOverlay({ size, image, map, lo: 0, hi: 2, ...o }).labels.join('\n');
    expect(text({ name: 'test/scratch/003', label: 1, className: 'scratch', score: 0.61234, threshold: 0.5891 })).toMatch(
      /test\/scratch\/003 · ground truth: anomalous \(scratch\)<.*score 0\.6123 ≥ threshold 0\.5891: anomalous</s,
    );
    expect(text({ score: 0.5, threshold: 0.5891 })).toContain('score 0.5000 &lt; threshold 0.5891: normal');
    expect(text({ score: 0.5, threshold: null })).toContain('score 0.5000 (the model stores no threshold)');
    expect(scoreLine(0.7, 0.7)).toBe('score 0.7000 ≥ threshold 0.7000: anomalous');
  });
});

const item = (label: 0 | 1, className: string, i: number): CliItem => ({ label, className, path: `/d/${className}/${i}.png`, name: `${className}/${i}` });

describe('subsets', () => {
  it('subsample keeps order, size and is seeded', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = subsample(items, 10, 1);
    expect(a).toHaveLength(10);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(subsample(items, 10, 1)).toEqual(a);
    expect(subsample(items, 10, 2)).not.toEqual(a);
    expect(subsample(items, 80, 1)).toEqual(items);
  });

  it('stratifiedSubset keeps the normal / anomalous proportion', () => {
    const items = [...Array.from({ length: 100 }, (_, i) => item(0, 'good', i)), ...Array.from({ length: 900 }, (_, i) => item(1, 'bad', i))];
    const s = stratifiedSubset(items, 200, 0);
    expect(s).toHaveLength(200);
    expect(s.filter((i) => i.label === 0)).toHaveLength(20);
    expect(new Set(s).size).toBe(200);
  });

  it('pickHeatmaps takes half anomalous, half normal, spread over each group', () => {
    const items = [...Array.from({ length: 10 }, (_, i) => item(0, 'good', i)), ...Array.from({ length: 6 }, (_, i) => item(1, i < 3 ? 'hole' : 'scratch', i))];
    const picked = [...pickHeatmaps(items, 4, true)].map((i) => items[i]);
    expect(picked.filter((i) => i.label === 1).map((i) => i.className).sort()).toEqual(['hole', 'scratch']);
    expect(picked.filter((i) => i.label === 0)).toHaveLength(2);
    expect(pickHeatmaps(items, 'all', true).size).toBe(16);
    expect(pickHeatmaps(items, 0, true).size).toBe(0);
    expect(pickHeatmaps(items.slice(0, 3), 8, true).size).toBe(3); // fewer images than asked
  });
});

describe('trainingSplit', () => {
  const protocolSet = (counts: Record<string, number>, normal = 'A'): CliDataset => {
    const train = Object.entries(counts).flatMap(([c, n]) => Array.from({ length: n }, (_, i) => item(c === normal ? 0 : 1, c, i)));
    return { kind: 'fashion-mnist', setting: 'protocol', root: '/d', normalClass: normal, classes: Object.keys(counts), train, test: [] };
  };
  const base = { ratio: 0.05, k: 1, validationFraction: 0.05, seed: 0 };

  it('follows the protocol: r_l of the final set from the chosen class, a balanced hold-out', () => {
    const split = trainingSplit(protocolSet({ A: 200, B: 100, C: 100 }), { ...base, anomalyClass: 'b' });
    expect(split.anomalyClasses).toEqual(['B']);
    expect(split.validation.filter((v) => v.label === 0)).toHaveLength(10);
    expect(split.validation.filter((v) => v.label === 1)).toHaveLength(10);
    expect(split.normal).toHaveLength(190);
    expect(split.anomalies).toHaveLength(10); // round(190 / 0.95 − 190)
    expect((split.anomalies as CliItem[]).every((a) => a.className === 'B')).toBe(true);
  });

  it('names --k when k exceeds the number of anomaly classes', () => {
    expect(() => trainingSplit(protocolSet({ A: 20, B: 20, C: 20 }), { ...base, k: 3 })).toThrow(OptionError);
    expect(() => trainingSplit(protocolSet({ A: 20, B: 20, C: 20 }), { ...base, k: 3 })).toThrow(/Invalid --k: expected at most the number of anomaly classes, 2 \('B', 'C'\), found 3/);
  });

  it('names --anomaly-class when it is missing, unknown, the normal class, or empty', () => {
    const set = protocolSet({ A: 20, B: 20, C: 0 });
    expect(() => trainingSplit(set, base)).toThrow(/Invalid --anomaly-class: expected the class of the labelled anomalies with --k 1: one of 'B', 'C'/);
    expect(() => trainingSplit(set, { ...base, anomalyClass: 'Z' })).toThrow(/Invalid --anomaly-class: .* found 'Z'/);
    expect(() => trainingSplit(set, { ...base, anomalyClass: 'A' })).toThrow(/--anomaly-class/);
    expect(() => trainingSplit(set, { ...base, anomalyClass: 'C' })).toThrow(/Invalid --anomaly-class: expected a class with training images in \/d, found 'C' \(no images\)/);
  });

  it('names --normal-class when the normal class has no training images', () => {
    expect(() => trainingSplit(protocolSet({ A: 0, B: 20 }), base)).toThrow(/Invalid --normal-class: .*'A' \(no images\)/);
  });

  it('caps the normal images with --max-normal and says so', () => {
    const split = trainingSplit(protocolSet({ A: 400, B: 100 }), { ...base, maxNormal: 100 });
    expect(split.validation.filter((v) => v.label === 0)).toHaveLength(5);
    expect(split.normal).toHaveLength(95);
    expect(split.notes.join()).toMatch(/using 100 of 400 normal training images/);
  });

  it('r_l = 0 trains without anomalies and ignores k', () => {
    const split = trainingSplit(protocolSet({ A: 40, B: 20, C: 20 }), { ...base, ratio: 0, k: 9 });
    expect(split.anomalies).toBeNull();
  });

  it('industrial sets use elastic anomalies, folder sets their anomalous/ images', () => {
    const industrial: CliDataset = { ...protocolSet({ good: 8 }, 'good'), setting: 'industrial', kind: 'mvtec' };
    expect(trainingSplit(industrial, base).anomalies).toBe('elastic');
    expect(trainingSplit(industrial, { ...base, ratio: 0 }).anomalies).toBeNull();
    const folder: CliDataset = { ...protocolSet({ normal: 8, crack: 2 }, 'normal'), setting: 'folder', kind: 'folder' };
    expect((trainingSplit(folder, base).anomalies as CliItem[]).map((a) => a.className)).toEqual(['crack', 'crack']);
  });
});

describe('stageOutput', () => {
  let scratch: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    scratch = await scratchDir();
  });
  afterAll(() => scratch.cleanup());

  it('publishes on commit, leaves the old output on discard, refuses foreign folders', async () => {
    const target = join(scratch.dir, 'out');
    const first = await stageOutput(target, '--out');
    await writeFile(join(first.dir, RESULTS_FILE), JSON.stringify({ format: 'ckaad-results', run: 1 }));
    await first.commit();
    expect(JSON.parse(await readFile(join(target, RESULTS_FILE), 'utf8')).run).toBe(1);

    const failed = await stageOutput(target, '--out');
    await writeFile(join(failed.dir, RESULTS_FILE), JSON.stringify({ format: 'ckaad-results', run: 2 }));
    await failed.discard();
    expect(JSON.parse(await readFile(join(target, RESULTS_FILE), 'utf8')).run).toBe(1);

    const second = await stageOutput(target, '--out');
    await writeFile(join(second.dir, RESULTS_FILE), JSON.stringify({ format: 'ckaad-results', run: 3 }));
    await second.commit();
    expect(JSON.parse(await readFile(join(target, RESULTS_FILE), 'utf8')).run).toBe(3);

    const foreign = join(scratch.dir, 'photos');
    await mkdir(foreign);
    await writeFile(join(foreign, 'holiday.jpg'), 'x');
    await expect(stageOutput(foreign, '--out')).rejects.toThrow(/Invalid --out: expected a new or empty folder, or one written by ckaad before/);
    await expect(stageOutput(join(foreign, 'holiday.jpg'), '--out')).rejects.toThrow(/\(a file\)/);
  });
});
