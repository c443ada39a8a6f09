/**
 * The saved model directory: round trip (a loaded model scores identically), the backbone
 * weights' hash check, atomic replacement, and the errors for broken directories.
 */

import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FeatureAutoEncoder } from '../../src/autoencoder/autoencoder.js';
import { RESNET_CONFIGS } from '../../src/backbone/configs.js';
import { createResNetExtractor } from '../../src/backbone/extractor.js';
import { randomWeightSource, resnetWeightSpecs } from '../../src/backbone/resnet-weights.js';
import type { SafetensorsTensorInput } from '../../src/io/safetensors.js';
import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { Scorer } from '../../src/scoring/scorer.js';
import { createScorer, describeExtractor, loadModel, saveModel } from '../../src/io/saved-model.js';
import { modelFolder } from '../../src/node/folders.js';
import { sha256File } from '../../src/node/platform.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import { LAYERS, SIZE, setUpBackend, textures } from '../training/fixtures.js';

let scratch: string;
let images: tf.Tensor4D;
let weightsPath: string;

beforeAll(async () => {
  await setUpBackend();
  scratch = await mkdtemp(join(tmpdir(), 'ckaad-model-'));
  images = tf.concat([textures(2, 1), textures(1, 2, true)]);
  // A torchvision-named resnet18 file (stem … layer3, more than the model uses) holding the seed-5 random initialisation.
  const config = RESNET_CONFIGS.resnet18;
  const source = randomWeightSource(config, 5);
  const record: Record<string, SafetensorsTensorInput> = {};
  for (const spec of resnetWeightSpecs(config).filter((s) => s.stage <= 3)) {
    record[spec.name] = { dtype: 'F32', shape: spec.shape, data: await source.float32(spec.name) };
  }
  weightsPath = join(scratch, 'resnet18.safetensors');
  await writeSafetensors(weightsPath, record);
});

afterAll(async () => {
  images.dispose();
  await rm(scratch, { recursive: true, force: true });
});

const layers = LAYERS;

describe('saveModel / loadModel', () => {
  it('a loaded model scores exactly as the saved one', async () => {
    const extractorOptions = { arch: 'resnet18', layers, weights: weightsPath } as const;
    const extractor = await createResNetExtractor(extractorOptions);
    const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers, seed: 7 }); // ≠ the default seed 0
    const dir = join(scratch, 'model-a');
    await saveModel(modelFolder(dir), {
      extractor: await describeExtractor(extractorOptions),
      autoencoder,
      imageSize: SIZE,
      scoring: { topK: 50 },
    });
    const expected = new Scorer({ extractor, autoencoder, topK: 50 }).scoreBatch(images);

    const before = tf.memory().numTensors;
    const model = await loadModel(modelFolder(dir));
    expect(model.imageSize).toBe(SIZE);
    expect(model.scoring).toEqual({ sigma: 4, topK: 50, threshold: null });
    // The weights lie beside the model folder: recorded relative to it, so both can move together.
    expect(model.record.extractor.weights).toEqual({ kind: 'file', path: '../resnet18.safetensors', sha256: await sha256File(weightsPath) });
    expect(model.record.autoencoder.parameters).toBe(autoencoder.parameterCount());
    const found = createScorer(model).scoreBatch(images);
    expect(Array.from(found.scores)).toEqual(Array.from(expected.scores));
    expect(found.maps).toEqual(expected.maps);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // The weights file moved: point at it; the hash must still match.
    const moved = join(scratch, 'moved.safetensors');
    await copyFile(weightsPath, moved);
    const relocated = await loadModel(modelFolder(dir), { weights: moved });
    expect(Array.from(createScorer(relocated).scoreBatch(images).scores)).toEqual(Array.from(expected.scores));
    relocated.dispose();
    // A different file at that place is refused.
    const bytes = await readFile(moved);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(moved, bytes);
    await expect(loadModel(modelFolder(dir), { weights: moved })).rejects.toThrow(/SHA-256.*not the backbone weights/);

    // The model folder and its weights moved together: found without being told.
    const elsewhere = join(scratch, 'elsewhere');
    await mkdir(join(elsewhere, 'model-a'), { recursive: true });
    await copyFile(weightsPath, join(elsewhere, 'resnet18.safetensors'));
    for (const f of ['model.json', 'autoencoder.safetensors']) await copyFile(join(dir, f), join(elsewhere, 'model-a', f));
    const together = await loadModel(modelFolder(join(elsewhere, 'model-a')));
    expect(Array.from(createScorer(together).scoreBatch(images).scores)).toEqual(Array.from(expected.scores));
    together.dispose();
    // Without them, the error names the option to pass.
    await rm(join(elsewhere, 'resnet18.safetensors'));
    await expect(loadModel(modelFolder(join(elsewhere, 'model-a')))).rejects.toThrow(
      /elsewhere\/resnet18\.safetensors: cannot read the backbone weights recorded in .*model\.json .*pass their new location \(options\.weights, --weights/,
    );
    // Weights two levels away are recorded by their absolute path.
    const deep = join(scratch, 'a', 'b', 'model-deep');
    await saveModel(modelFolder(deep), { extractor: await describeExtractor(extractorOptions), autoencoder, imageSize: SIZE });
    const deepModel = await loadModel(modelFolder(deep));
    expect(deepModel.record.extractor.weights.kind === 'file' && deepModel.record.extractor.weights.path).toBe(weightsPath);
    deepModel.dispose();

    extractor.dispose();
    autoencoder.dispose();
  });

  it('records random backbones by seed and rebuilds them', async () => {
    const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers, seed: 2 });
    const dir = join(scratch, 'model-random');
    const record = await describeExtractor({ arch: 'resnet18', layers: ['layer2', 'layer1'], seed: 5 });
    expect(record).toEqual({ arch: 'resnet18', layers, weights: { kind: 'random', seed: 5, generator: 'rng' } });
    await saveModel(modelFolder(dir), { extractor: record, autoencoder, imageSize: SIZE });
    const model = await loadModel(modelFolder(dir));
    // Random seed 5 and the file written from the same initialisation give the same features.
    const fromFile = await createResNetExtractor({ arch: 'resnet18', layers, weights: weightsPath });
    const a = model.extractor.extract(images);
    const b = fromFile.extract(images);
    a.forEach((m, i) => expect(m.dataSync()).toEqual(b[i].dataSync()));
    tf.dispose([...a, ...b]);
    fromFile.dispose();
    model.dispose();

    // A model of ckaad 0.2 (random weights from its former generator: no generator recorded) is refused.
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    delete json.extractor.weights.generator;
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await expect(loadModel(modelFolder(dir))).rejects.toThrow(/model\.json: the backbone's random weights of this model were drawn by the generator of ckaad 0\.1.*train the model again/);
    autoencoder.dispose();
  });

  it('replaces a model only when asked, atomically, leaving no temporary directories', async () => {
    const dir = join(scratch, 'model-replace');
    const ae1 = new FeatureAutoEncoder({ backbone: 'resnet18', layers, seed: 1 });
    const ae2 = new FeatureAutoEncoder({ backbone: 'resnet18', layers, seed: 2 });
    const extractor = await describeExtractor({ arch: 'resnet18', layers });
    await saveModel(modelFolder(dir), { extractor, autoencoder: ae1, imageSize: SIZE });
    const error = await saveModel(modelFolder(dir), { extractor, autoencoder: ae2, imageSize: SIZE }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/overwrite/);
    await saveModel(modelFolder(dir, { overwrite: true }), { extractor, autoencoder: ae2, imageSize: SIZE });
    const model = await loadModel(modelFolder(dir));
    const name = [...ae2.parameters().keys()][0];
    expect(model.autoencoder.parameters().get(name)?.dataSync()).toEqual(ae2.parameters().get(name)?.dataSync());
    model.dispose();
    expect((await readdir(scratch)).filter((e) => e.includes('model-replace'))).toEqual(['model-replace']);

    // A folder of other files is never replaced, overwrite or not; an empty folder is used.
    const user = join(scratch, 'model-user-files');
    await mkdir(user);
    await writeFile(join(user, 'keep.txt'), 'mine');
    for (const overwrite of [false, true]) {
      const refused = await saveModel(modelFolder(user, { overwrite }), { extractor, autoencoder: ae2, imageSize: SIZE }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InvalidArgumentError);
      expect((refused as Error).message).toMatch(/never deletes a folder that holds other files.*model-user-files/);
    }
    expect(await readdir(user)).toEqual(['keep.txt']);
    const empty = join(scratch, 'model-empty');
    await mkdir(empty);
    await saveModel(modelFolder(empty), { extractor, autoencoder: ae2, imageSize: SIZE });
    expect((await readdir(empty)).sort()).toEqual(['autoencoder.safetensors', 'model.json']);
    ae1.dispose();
    ae2.dispose();
  });

  it('rejects inconsistent input and broken directories with errors naming the file', async () => {
    const autoencoder = new FeatureAutoEncoder({ backbone: 'resnet18', layers, seed: 0 });
    const extractor = await describeExtractor({ arch: 'resnet18', layers });
    await expect(
      saveModel(modelFolder(join(scratch, 'x')), { extractor: { ...extractor, arch: 'resnet34' }, autoencoder, imageSize: SIZE }),
    ).rejects.toThrow(/model\.autoencoder/);
    await expect(saveModel(modelFolder(join(scratch, 'x')), { extractor, autoencoder, imageSize: SIZE / 2 })).rejects.toThrow(/32×32/);
    await expect(saveModel(modelFolder(join(scratch, 'x')), { extractor, autoencoder, imageSize: SIZE, scoring: { topK: 0 } })).rejects.toThrow(
      /model\.scoring\.topK/,
    );
    // Weights given as bytes have no path: the record keeps '<bytes>' and their SHA-256.
    expect((await describeExtractor({ arch: 'resnet18', layers, weights: new Uint8Array(4) })).weights).toEqual({
      kind: 'file',
      path: '<bytes>',
      sha256: 'df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119',
    });

    const dir = join(scratch, 'model-broken');
    await saveModel(modelFolder(dir), { extractor, autoencoder, imageSize: SIZE });
    const aeFile = join(dir, 'autoencoder.safetensors');
    const bytes = await readFile(aeFile);
    bytes[bytes.length - 1] ^= 0x01;
    await writeFile(aeFile, bytes);
    await expect(loadModel(modelFolder(dir))).rejects.toThrow(FileFormatError);
    await expect(loadModel(modelFolder(dir))).rejects.toThrow(/autoencoder\.safetensors.*SHA-256/);
    await writeFile(join(dir, 'model.json'), '{"format": "other"}');
    await expect(loadModel(modelFolder(dir))).rejects.toThrow(/model\.json.*not a ckaad model/);
    await expect(loadModel(modelFolder(join(scratch, 'nowhere')))).rejects.toThrow(/model\.json.*saveModel/);
    autoencoder.dispose();
  });
});
