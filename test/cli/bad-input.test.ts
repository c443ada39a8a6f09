/**
 * Every kind of bad input the command line must reject with a clear one-line error naming the
 * file or option and what was expected, and the right exit code (1 bad input, 2 bad command
 * line); `--on-bad-image skip|fail`; and failed runs leaving earlier outputs untouched.
 * Commands run in-process on the cpu backend; nothing here trains a model.
 */

import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { RESNET_CONFIGS } from '../../src/backbone/configs.js';
import { resnetWeightSpecs } from '../../src/backbone/resnet-weights.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';
import type { SafetensorsTensorInput } from '../../src/io/safetensors.js';
import { EXIT } from '../../src/cli/errors.js';
import { errorLine, runCli, scratchDir, tinyIdx, tinySynthetic, untrainedModel } from './helpers.js';

let scratch: { dir: string; cleanup: () => Promise<void> };
let synthetic: string; // pristine synthetic set (never modified)
let idx: string; // Fashion-MNIST-format set with images of classes 0, 1, 2 only
let model: string; // an untrained saved model (32×32)

beforeAll(async () => {
  await useBackend('cpu');
  scratch = await scratchDir();
  synthetic = await tinySynthetic(scratch.dir);
  idx = await tinyIdx(join(scratch.dir, 'idx'), [0, 1, 2]);
  model = await untrainedModel(scratch.dir);
});

afterAll(() => scratch.cleanup());

/** A private copy of the synthetic set, to break. */
async function copyOfSynthetic(name: string): Promise<string> {
  const root = join(scratch.dir, name);
  const copy = async (from: string, to: string): Promise<void> => {
    await mkdir(to, { recursive: true });
    for (const e of await readdir(from, { withFileTypes: true })) {
      if (e.isDirectory()) await copy(join(from, e.name), join(to, e.name));
      else await copyFile(join(from, e.name), join(to, e.name));
    }
  };
  await copy(synthetic, root);
  return root;
}

const train = (extra: string[]) => ['train', '--backend', 'cpu', '--model', join(scratch.dir, `never-${Math.random()}`), ...extra];
const trainIdx = (extra: string[]) => train(['--dataset', 'fashion-mnist', '--root', idx, '--normal-class', '0', ...extra]);
const evalOn = (root: string, out: string, extra: string[] = []) => [
  'eval', '--backend', 'cpu', '--model', model, '--dataset', 'mvtec', '--root', root, '--category', 'weave', '--out', out, '--heatmaps', '2', ...extra,
];

/** Checks a failed run: exit code, exactly one stderr line saying `ckaad: error: …`, matching `pattern`. */
function expectFailure(r: Awaited<ReturnType<typeof runCli>>, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  const line = errorLine(r);
  expect(line.startsWith('ckaad: error: ')).toBe(true);
  expect(line).toMatch(pattern);
  expect(r.errLines.filter((l) => l.startsWith('ckaad: error'))).toHaveLength(1);
  expect(r.out).toBe('');
}

describe('missing or empty folders', () => {
  it('a missing dataset root', async () => {
    const root = join(scratch.dir, 'no-such-dataset');
    const r = await runCli(train(['--dataset', 'mvtec', '--root', root, '--category', 'weave']));
    expectFailure(r, EXIT.input, new RegExp(`${root}: folder not found \\(expected an MVTec AD root`));
  });

  it('an empty training folder', async () => {
    const root = join(scratch.dir, 'empty-train');
    await mkdir(join(root, 'weave', 'train', 'good'), { recursive: true });
    const r = await runCli(train(['--dataset', 'mvtec', '--root', root, '--category', 'weave']));
    expectFailure(r, EXIT.input, /weave\/train\/good: no images in folder \(expected normal training images/);
  });

  it('a class folder with no images (folder layout) and an unknown category', async () => {
    const root = join(scratch.dir, 'folder-set');
    await copyFile(join(synthetic, 'weave', 'train', 'good', '000.png'), await ensure(join(root, 'normal'), '000.png'));
    await copyFile(join(synthetic, 'weave', 'test', 'good', '000.png'), await ensure(join(root, 'test', 'normal'), '000.png'));
    await mkdir(join(root, 'test', 'anomalous', 'crack'), { recursive: true });
    const r = await runCli(train(['--dataset', 'folder', '--root', root]));
    expectFailure(r, EXIT.input, /test\/anomalous\/crack: no images in folder/);

    const c = await runCli(train(['--dataset', 'mvtec', '--root', synthetic, '--category', 'bottle']));
    expectFailure(c, EXIT.usage, /Invalid --category: expected a category folder of .*\('weave'\), found 'bottle'/);
  });

  it('score: a missing path and a folder without images', async () => {
    const missing = join(scratch.dir, 'nothing-here');
    expectFailure(await runCli(['score', '--model', model, missing, '--out', join(scratch.dir, 's1')]), EXIT.input, new RegExp(`${missing}: no such file or folder`));
    const empty = join(scratch.dir, 'empty-folder');
    await mkdir(empty, { recursive: true });
    expectFailure(await runCli(['score', '--model', model, empty, '--out', join(scratch.dir, 's2')]), EXIT.input, new RegExp(`${empty}: no images in folder`));
  });
});

async function ensure(dir: string, file: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return join(dir, file);
}

describe('corrupt images and mismatched masks', () => {
  let broken: string;
  let corrupt: string;
  let mask: string;
  beforeAll(async () => {
    broken = await copyOfSynthetic('broken');
    corrupt = join(broken, 'weave', 'test', 'good', '001.png');
    const bytes = await readFile(corrupt);
    await writeFile(corrupt, bytes.subarray(0, Math.floor(bytes.length / 2))); // truncated PNG
    mask = join(broken, 'weave', 'ground_truth', 'hole', '000_mask.png');
    await writeFile(mask, await sharp(new Uint8Array(32 * 32), { raw: { width: 32, height: 32, channels: 1 } }).png().toBuffer());
  });

  it('--on-bad-image fail (the default) stops at the first bad file, naming it', async () => {
    const r = await runCli(evalOn(broken, join(scratch.dir, 'fail-out')));
    expect(r.code).toBe(EXIT.input);
    expect(errorLine(r)).toMatch(new RegExp(`^ckaad: error: ${corrupt}: `));
    await expect(stat(join(scratch.dir, 'fail-out'))).rejects.toThrow(); // nothing written
  });

  it('--on-bad-image skip skips the truncated image and the mismatched mask, and counts them', async () => {
    const out = join(scratch.dir, 'skip-out');
    const r = await runCli(evalOn(broken, out, ['--on-bad-image', 'skip']));
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).toContain(`warning: skipped ${corrupt}`);
    expect(r.err).toMatch(new RegExp(`warning: skipped .*hole/000.png: ${mask}: mask is 32×32 but its image .* is 64×64 \\(expected equal sizes\\)`));
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    const m = results.models[0];
    expect(m.counts).toEqual({ scored: 2, normal: 1, anomalous: 1, skipped: 2 });
    expect(m.skipped.map((s: { path: string }) => s.path).sort()).toEqual([corrupt, join(broken, 'weave', 'test', 'hole', '000.png')].sort());
    expect(r.out).toMatch(/\|\s+2 \|\s+2 \|$/m); // images and skipped columns
  });

  it('a mismatched mask alone, with fail, names the mask and both sizes', async () => {
    const root = await copyOfSynthetic('bad-mask');
    const badMask = join(root, 'weave', 'ground_truth', 'scratch', '000_mask.png');
    await writeFile(badMask, await sharp(new Uint8Array(64 * 48), { raw: { width: 64, height: 48, channels: 1 } }).png().toBuffer());
    const r = await runCli(evalOn(root, join(scratch.dir, 'mask-out')));
    expectFailure(r, EXIT.input, new RegExp(`${badMask}: mask is 64×48 but its image .*scratch/000.png is 64×64 \\(expected equal sizes\\)`));
  });

  it('a corrupt training image fails training before it starts, naming the file', async () => {
    const root = await copyOfSynthetic('bad-train');
    const bad = join(root, 'weave', 'train', 'good', '002.png');
    await writeFile(bad, 'not an image at all');
    const r = await runCli(train(['--dataset', 'mvtec', '--root', root, '--category', 'weave', '--image-size', '64', '--batch-size', '2']));
    expectFailure(r, EXIT.input, new RegExp(`^ckaad: error: ${bad}: `));
  });
});

describe('protocol options', () => {
  it('r_l ≥ 1 or < 0', async () => {
    expectFailure(await runCli(trainIdx(['--ratio', '1'])), EXIT.usage, /option '--ratio <r_l>' argument '1' is invalid\. Expected a number in \[0, 1\)/);
    expectFailure(await runCli(trainIdx(['--ratio=-0.1'])), EXIT.usage, /option '--ratio <r_l>' argument '-0.1' is invalid/);
    expectFailure(await runCli(trainIdx(['--micro-batches', '0'])), EXIT.usage, /option '--micro-batches <k>' argument '0' is invalid/);
    expectFailure(await runCli(trainIdx(['--anomaly-shuffle', 'never'])), EXIT.usage, /option '--anomaly-shuffle <when>' argument 'never' is invalid\. Allowed choices are every-pass, every-epoch/);
  });

  it('--threads below 1, or with another backend than wasm', async () => {
    expectFailure(await runCli(trainIdx(['--threads', '0'])), EXIT.usage, /option '--threads <n>' argument '0' is invalid/);
    expectFailure(await runCli(trainIdx(['--threads', '2'])), EXIT.usage, /Invalid --threads: expected to be given only with the wasm backend .*found --backend cpu/);
  });

  it('k larger than the number of anomaly classes', async () => {
    const r = await runCli(trainIdx(['--k', '10']));
    expectFailure(r, EXIT.usage, /Invalid --k: expected at most the number of anomaly classes, 9 \('Trouser', .*'Ankle boot'\), found 10\./);
  });

  it('a normal or anomaly class with no images', async () => {
    const r = await runCli(train(['--dataset', 'fashion-mnist', '--root', idx, '--normal-class', '5']));
    expectFailure(r, EXIT.usage, /Invalid --normal-class: expected a class with training images in .*, found 'Sandal' \(no images\)\./);
    const a = await runCli(trainIdx(['--anomaly-class', 'Coat']));
    expectFailure(a, EXIT.usage, /Invalid --anomaly-class: expected a class with training images in .*, found 'Coat' \(no images\)\./);
  });

  it('a missing or unknown normal class of an IDX set', async () => {
    expectFailure(await runCli(train(['--dataset', 'fashion-mnist', '--root', idx])), EXIT.usage, /Invalid --normal-class: expected the normal class of fashion-mnist/);
    expectFailure(
      await runCli(train(['--dataset', 'fashion-mnist', '--root', idx, '--normal-class', 'Hat'])),
      EXIT.usage,
      /Invalid --normal-class: expected one of 'T-shirt\/top', .* found 'Hat'/,
    );
  });

  it('a batch larger than the normal images', async () => {
    const r = await runCli(train(['--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--batch-size', '16']));
    expectFailure(r, EXIT.usage, /Invalid --batch-size: expected at most the number of normal training images \(4\), found 16\./);
  });
});

describe('model options', () => {
  const base = () => train(['--dataset', 'mvtec', '--root', synthetic, '--category', 'weave']);

  it('an unknown backbone or layer, non-consecutive layers, a too-small image size', async () => {
    expectFailure(await runCli([...base(), '--backbone', 'resnet19']), EXIT.usage, /option '--backbone <arch>' argument 'resnet19' is invalid\. Expected one of resnet18, /);
    expectFailure(await runCli([...base(), '--layers', 'layer2,layer5']), EXIT.usage, /option '--layers <list>' argument 'layer2,layer5' is invalid\. .*unknown: layer5/);
    expectFailure(await runCli([...base(), '--layers', 'layer1,layer3']), EXIT.usage, /Invalid --layers: expected consecutive layers/);
    expectFailure(await runCli([...base(), '--image-size', '32']), EXIT.usage, /Invalid --image-size: .*64/);
  });

  it('train --top-k larger than the image fails at once (before reading any data), naming --top-k', async () => {
    const noData = train(['--dataset', 'mvtec', '--root', join(scratch.dir, 'no-such-dataset'), '--category', 'weave']);
    const r = await runCli([...noData, '--top-k', '5000', '--image-size', '64']);
    expectFailure(r, EXIT.usage, /Invalid --top-k: expected an integer in \[1, 4096\] \(H·W of 64×64 images\) or 'mean', found 5000/);
    expect(r.errLines).toHaveLength(1);
    // The same for the demo, before it generates its data.
    const out = join(scratch.dir, 'demo-top-k');
    const d = await runCli(['demo', '--backend', 'cpu', '--top-k', '5000', '--out', out]);
    expectFailure(d, EXIT.usage, /Invalid --top-k: expected an integer in \[1, 4096\]/);
    expect(d.errLines).toHaveLength(1);
    expect(await readdir(scratch.dir)).not.toContain('demo-top-k');
  });

  it('a weights file for another architecture, and a missing one', async () => {
    // resnet18's stem … layer3 under torchvision names (zeros: only the names and shapes matter).
    const record: Record<string, SafetensorsTensorInput> = {};
    for (const spec of resnetWeightSpecs(RESNET_CONFIGS.resnet18).filter((s) => s.stage <= 3)) {
      record[spec.name] = { dtype: 'F16', shape: spec.shape, data: new Float32Array(spec.shape.reduce((a, b) => a * b, 1)) };
    }
    const weights = join(scratch.dir, 'resnet18.safetensors');
    await writeSafetensors(weights, record);
    const r = await runCli([...base(), '--backbone', 'resnet34', '--weights', weights]);
    expectFailure(r, EXIT.input, new RegExp(`${weights} \\(for resnet34\\): weights do not match the architecture \\(\\d+ problems\\): missing: layer1\\.2\\.`));

    const missing = join(scratch.dir, 'nope.safetensors');
    expectFailure(await runCli([...base(), '--weights', missing]), EXIT.input, new RegExp(`${missing}: file not found \\(--weights: a model.safetensors of resnet18`));
  });

  it('an existing model folder without --overwrite, a folder that is not a model', async () => {
    const r = await runCli(['train', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--model', model]);
    expectFailure(r, EXIT.usage, /Invalid --model: expected a folder where no model exists yet \(or add --overwrite to replace the model\)/);
    const e = await runCli(['eval', '--backend', 'cpu', '--model', synthetic, '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--out', join(scratch.dir, 'e')]);
    expectFailure(e, EXIT.input, new RegExp(`${synthetic}/model.json: missing: is this a model written by saveModel`));
  });
});

describe('train --overwrite never deletes a folder of the user\'s files', () => {
  /** Every file under `dir` with its bytes, to compare before and after. */
  async function snapshot(dir: string): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else files.set(join(d, e.name), (await readFile(join(d, e.name))).toString('base64'));
      }
    };
    await walk(dir);
    return files;
  }
  const refused = /Invalid --model: expected a new or empty folder, or a ckaad model folder to replace; ckaad never deletes a folder that holds other files, found .* \(holds files and no ckaad model\.json\)/;

  it('a folder of user files, the dataset root and a parent of the dataset are refused, untouched', async () => {
    const root = await copyOfSynthetic('overwrite-root');
    const user = join(scratch.dir, 'user-files');
    await mkdir(user);
    await writeFile(join(user, 'thesis.txt'), 'years of work');
    for (const target of [user, root, join(root, 'weave'), scratch.dir]) {
      const before = await snapshot(target);
      const r = await runCli(['train', '--backend', 'cpu', '--dataset', 'mvtec', '--root', root, '--category', 'weave', '--model', target, '--overwrite']);
      expectFailure(r, EXIT.usage, refused);
      expect(await snapshot(target)).toEqual(before);
    }
  });

  it("'.' is refused, untouched", async () => {
    const cwd = join(scratch.dir, 'cwd');
    await mkdir(cwd);
    await writeFile(join(cwd, 'notes.md'), '# mine');
    const previous = process.cwd();
    process.chdir(cwd);
    try {
      const r = await runCli(['train', '--backend', 'cpu', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--model', '.', '--overwrite']);
      expectFailure(r, EXIT.usage, refused);
    } finally {
      process.chdir(previous);
    }
    expect(await readFile(join(cwd, 'notes.md'), 'utf8')).toBe('# mine');
  });

  it('a file is refused; an empty folder and a ckaad model folder pass the check', async () => {
    const file = join(scratch.dir, 'a-file');
    await writeFile(file, 'x');
    expectFailure(
      await runCli(['train', '--backend', 'cpu', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--model', file, '--overwrite']),
      EXIT.usage,
      /Invalid --model: expected a folder to save the model in, found .*a-file \(a file\)/,
    );
    // Past the check, the missing dataset root fails the run: the target itself was accepted.
    const empty = join(scratch.dir, 'empty-target');
    await mkdir(empty);
    for (const target of [empty, model]) {
      const r = await runCli(['train', '--backend', 'cpu', '--dataset', 'mvtec', '--root', join(scratch.dir, 'no-such-root'), '--category', 'weave', '--model', target, '--overwrite']);
      expect(errorLine(r)).not.toMatch(/--model/);
    }
  });
});

describe('the command line itself', () => {
  it('unknown commands and options, missing required options, bad values', async () => {
    expectFailure(await runCli(['trian']), EXIT.usage, /unknown command 'trian'.*train/);
    expectFailure(await runCli(['train', '--dataset', 'mvtec']), EXIT.usage, /required option '--root <dir>' not specified/);
    expectFailure(await runCli(['train', '--dataset', 'imagenet', '--root', '.', '--model', 'm']), EXIT.usage, /argument 'imagenet' is invalid\. Allowed choices are mvtec, visa/);
    expectFailure(await runCli([...train(['--dataset', 'mvtec', '--root', synthetic]), '--epochs', 'many']), EXIT.usage, /option '--epochs <n>' argument 'many' is invalid/);
    expectFailure(await runCli(['eval', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave']), EXIT.usage, /Invalid --model: expected at least one model folder/);
    expectFailure(await runCli(['score', '--model', model]), EXIT.usage, /missing required argument 'images'/);
  });

  it('--help and --version exit 0 and print to stdout', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(EXIT.ok);
    for (const c of ['train', 'eval', 'score', 'demo']) expect(help.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(help.out).toContain('Exit codes');
    const version = await runCli(['--version']);
    expect(version.code).toBe(EXIT.ok);
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const sub = await runCli(['train', '--help']);
    expect(sub.code).toBe(EXIT.ok);
    for (const o of ['--ratio', '--k', '--weights', '--strategy', '--on-bad-image', '--backend', '--seed']) expect(sub.out).toContain(o);
  });
});

describe('outputs of earlier runs', () => {
  it('a failed run leaves the previous --out untouched, and no temporary folder behind', async () => {
    const root = await copyOfSynthetic('later-broken');
    const out = join(scratch.dir, 'kept');
    expect((await runCli(evalOn(root, out))).code).toBe(EXIT.ok);
    const before = await readFile(join(out, 'results.json'), 'utf8');
    const heatmaps = (await readdir(join(out, 'heatmaps', 'model'))).sort();
    expect(heatmaps).toHaveLength(2);

    await writeFile(join(root, 'weave', 'test', 'scratch', '000.png'), 'garbage');
    const r = await runCli(evalOn(root, out));
    expect(r.code).toBe(EXIT.input);
    expect(await readFile(join(out, 'results.json'), 'utf8')).toBe(before);
    expect((await readdir(join(out, 'heatmaps', 'model'))).sort()).toEqual(heatmaps);
    expect((await readdir(scratch.dir)).filter((n) => n.startsWith('.kept'))).toEqual([]);
  });

  it('refuses to replace a folder ckaad did not write', async () => {
    const foreign = join(scratch.dir, 'my-photos');
    await mkdir(foreign, { recursive: true });
    await writeFile(join(foreign, 'keep.txt'), 'precious');
    const r = await runCli(evalOn(synthetic, foreign));
    expectFailure(r, EXIT.usage, /Invalid --out: expected a new or empty folder, or one written by ckaad before \(with results.json\), found .*my-photos \(holds other files\)/);
    expect(await readFile(join(foreign, 'keep.txt'), 'utf8')).toBe('precious');
    await rm(foreign, { recursive: true });
  });
});
