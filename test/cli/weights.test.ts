/**
 * `score` and `eval` with backbone weights that moved since training: without `--weights` the
 * one-line error says to pass it; `--weights <file>` is used when its SHA-256 is the recorded
 * one, refused (naming the file) when it is not, and refused for a randomly initialised
 * backbone. In-process on the cpu backend; nothing is trained (an untrained auto-encoder).
 */

import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import { useBackend } from '../../src/backend/select.js';
import { RESNET_CONFIGS } from '../../src/backbone/configs.js';
import { resnetWeightSpecs } from '../../src/backbone/resnet-weights.js';
import { EXIT } from '../../src/cli/errors.js';
import { describeExtractor, saveModel } from '../../src/io/saved-model.js';
import type { SafetensorsTensorInput } from '../../src/io/safetensors.js';
import { modelFolder } from '../../src/node/folders.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import { Rng } from '../../src/nn/random.js';
import { errorLine, runCli, scratchDir, tinySynthetic, untrainedModel } from './helpers.js';

let scratch: { dir: string; cleanup: () => Promise<void> };
let synthetic: string;
let model: string; // trained on weights/a.safetensors, which then moved to moved/a.safetensors
let randomModel: string;
let moved: string;
let other: string; // weights of the same architecture, other values

/** resnet18's stem … layer3 under torchvision names, small random values from `seed`. */
async function weightsFile(path: string, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const record: Record<string, SafetensorsTensorInput> = {};
  for (const spec of resnetWeightSpecs(RESNET_CONFIGS.resnet18).filter((s) => s.stage <= 3)) {
    const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    const isVar = spec.name.endsWith('running_var');
    for (let i = 0; i < data.length; i++) data[i] = isVar ? 1 : (rng.next() - 0.5) * 0.1;
    record[spec.name] = { dtype: 'F32', shape: spec.shape, data };
  }
  await writeSafetensors(path, record);
}

beforeAll(async () => {
  await useBackend('cpu');
  scratch = await scratchDir('ckaad-weights-');
  synthetic = await tinySynthetic(scratch.dir);
  const original = join(scratch.dir, 'weights', 'a.safetensors');
  await mkdir(join(scratch.dir, 'weights'));
  await weightsFile(original, 1);
  other = join(scratch.dir, 'b.safetensors');
  await weightsFile(other, 2);
  model = join(scratch.dir, 'models', 'm');
  const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers: ['layer2', 'layer3'], seed: 1 });
  try {
    const extractor = await describeExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: original });
    await saveModel(modelFolder(model), { extractor, autoencoder, imageSize: 64 });
  } finally {
    autoencoder.dispose();
  }
  moved = join(scratch.dir, 'moved.safetensors');
  await rename(original, moved);
  randomModel = await untrainedModel(scratch.dir, 'random-model');
});

afterAll(() => scratch.cleanup());

const image = () => join(synthetic, 'weave', 'test', 'good');
const score = (m: string, extra: string[]) => ['score', '--backend', 'cpu', '--model', m, image(), '--heatmaps', '0', '--out', join(scratch.dir, `s-${Math.random()}`), ...extra];
const evalArgs = (m: string, extra: string[]) => [
  'eval', '--backend', 'cpu', '--model', m, '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--heatmaps', '0', '--out', join(scratch.dir, `e-${Math.random()}`), ...extra,
];

describe('--weights on score and eval', () => {
  it('without it, moved weights give one line saying to pass --weights', async () => {
    for (const argv of [score(model, []), evalArgs(model, [])]) {
      const r = await runCli(argv);
      expect(r.code).toBe(EXIT.input);
      expect(errorLine(r)).toMatch(/^ckaad: error: .*weights\/a\.safetensors: cannot read the backbone weights recorded in .*model\.json .*pass their new location \(.*--weights/);
    }
  });

  it('with the moved file, score and eval run; with another file, one line naming it and the SHA-256s', async () => {
    const s = await runCli(score(model, ['--weights', moved]));
    expect(s.code, s.err).toBe(EXIT.ok);
    expect(s.out).toMatch(/images scored/);
    const e = await runCli(evalArgs(model, ['--weights', other, '--weights', moved]));
    expect(e.code, e.err).toBe(EXIT.ok);
    const wrong = await runCli(score(model, ['--weights', other]));
    expect(wrong.code).toBe(EXIT.input);
    expect(errorLine(wrong)).toMatch(new RegExp(`^ckaad: error: ${other}: SHA-256 [0-9a-f]{64} differs from [0-9a-f]{64} recorded in .*model\\.json: not the backbone weights`));
    const neither = await runCli(evalArgs(model, ['--weights', other, '--weights', other]));
    expect(neither.code).toBe(EXIT.usage);
    expect(errorLine(neither)).toMatch(/Invalid --weights: expected a file with the SHA-256 recorded in .*model\.json/);
  });

  it('a missing --weights file, and --weights for a random backbone, are refused in one line', async () => {
    const missing = join(scratch.dir, 'nope.safetensors');
    const r = await runCli(score(model, ['--weights', missing]));
    expect(r.code).toBe(EXIT.input);
    expect(errorLine(r)).toBe(`ckaad: error: ${missing}: file not found (--weights: the backbone weights the model was trained with, a model.safetensors)`);
    const random = await runCli(score(randomModel, ['--weights', moved]));
    expect(random.code).toBe(EXIT.usage);
    expect(errorLine(random)).toMatch(/Invalid --weights: expected only for models trained with backbone weights from a file, found .*random-model was trained with a randomly initialised backbone/);
  });
});
