/**
 * Ctrl-C and checkpoints on the command line, in-process (the first Ctrl-C is the command's
 * AbortSignal): an interrupted `train` says where it stopped — never "done" — and keeps its
 * checkpoint; without --resume an existing checkpoint is refused naming --resume; --resume
 * says where it resumes, or that there is nothing to resume; a later run removes what killed
 * runs left (only ckaad's names). The signal handler of the executable: a second Ctrl-C waits
 * for a save in progress. Tiny synthetic set, 64×64, wasm.
 */

import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { useBackend } from '../../src/backend/select.js';
import { EXIT } from '../../src/cli/errors.js';
import type { CliIo } from '../../src/cli/io.js';
import { run } from '../../src/cli/program.js';
import { signalHandler } from '../../src/cli/signals.js';
import { guardedWrite } from '../../src/node/atomic.js';
import { CHECKPOINT_POINTER } from '../../src/node/folders.js';
import { deadPid } from '../processes.js';
import { runCli, scratchDir, tinySynthetic } from './helpers.js';

let scratch: { dir: string; cleanup: () => Promise<void> };
let synthetic: string;

beforeAll(async () => {
  await useBackend('wasm');
  scratch = await scratchDir('ckaad-interrupt-');
  synthetic = await tinySynthetic(scratch.dir);
});

afterAll(() => scratch.cleanup());

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
const checkpoint = () => join(scratch.dir, 'ckpt');
const model = () => join(scratch.dir, 'models', 'm');
const train = (extra: string[]) => [
  'train', '--backend', 'wasm', '--dataset', 'mvtec', '--root', synthetic, '--category', 'weave', '--image-size', '64',
  '--epochs', '2', '--batch-size', '2', '--model', model(), ...extra,
];

describe('ckaad train and Ctrl-C', () => {
  it('interrupted after the first step: exit 130, "interrupted at", the step and epoch reached, no "done"', async () => {
    // A clock that moves 20 s per reading, so that every step prints a progress line; the
    // first line of the training progress is the cue for Ctrl-C.
    let clock = 0;
    let err = '';
    const controller = new AbortController();
    const io: CliIo = {
      out: () => undefined,
      err: (t) => {
        err += t;
        if (/^train CKAPatch: 2\/8 images/m.test(err)) controller.abort();
      },
      isTTY: false,
      now: () => (clock += 20_000),
    };
    const code = await run(train(['--checkpoint-dir', checkpoint()]), { io, signal: controller.signal });
    expect(code, err).toBe(EXIT.interrupted);
    const printed = lines(err);
    expect(printed[0]).toBe(`checkpoints go to ${checkpoint()}`);
    expect(err).not.toMatch(/: done, /);
    expect(printed).toContainEqual(expect.stringMatching(/^train CKAPatch: interrupted at 2\/8 images \(25%\) after /));
    expect(printed.at(-1)).toBe(
      `ckaad: interrupted: training interrupted after step 1 of 4 (epoch 1 of 2); checkpoint in ${checkpoint()} (resume with --resume)`,
    );
    expect(await readdir(checkpoint())).toContain(CHECKPOINT_POINTER);
  });

  it('without --resume the existing checkpoint is refused in one line naming --resume', async () => {
    const r = await runCli(train(['--checkpoint-dir', checkpoint()]));
    expect(r.code).toBe(EXIT.usage);
    expect(r.errLines).toEqual([
      `ckaad: error: Invalid --checkpoint-dir: expected a folder without a checkpoint (add --resume to continue the run it holds, or pick another folder), found ${checkpoint()} (a checkpoint: 0 epochs and 1 step done).`,
    ]);
  });

  it('--resume says where it resumes, finishes, and the run removes what killed runs left (only our names)', async () => {
    const dead = await deadPid();
    const parent = join(scratch.dir, 'models');
    await mkdir(parent, { recursive: true });
    const ours = [`.m.${dead}-0123456789ab.tmp`, `.m.${dead}-0123456789ab.tmp.old`];
    const kept = [`.m.${process.pid}-0123456789ab.tmp`, '.m.notes.tmp'];
    for (const name of [...ours, ...kept]) await mkdir(join(parent, name));
    const inCheckpoint = ['.gen-00000007-0badc0de.tmp', `.${CHECKPOINT_POINTER}.${dead}-0123456789ab.tmp`];
    for (const name of inCheckpoint) await writeFile(join(checkpoint(), name), 'partial');

    const r = await runCli(train(['--checkpoint-dir', checkpoint(), '--resume']));
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.errLines[0]).toBe(`resuming from epoch 1, step 2 (checkpoint in ${checkpoint()}: 0 epochs and 1 step done)`);
    expect(r.out).toMatch(/CKAPatch: 4 steps in /);
    expect((await readdir(parent)).sort()).toEqual(['m', ...kept].sort());
    const left = await readdir(checkpoint());
    for (const name of inCheckpoint) expect(left).not.toContain(name);
  });

  it('--resume without a checkpoint says so and starts fresh', async () => {
    const empty = join(scratch.dir, 'ckpt-empty');
    const r = await runCli(train(['--checkpoint-dir', empty, '--resume', '--epochs', '1', '--overwrite']));
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.errLines[0]).toBe(`no checkpoint in ${empty}: starting fresh`);
  });
});

describe('the executable’s signal handler', () => {
  const quietIo = (): CliIo & { text: () => string } => {
    let text = '';
    return { out: () => undefined, err: (t) => void (text += t), isTTY: false, now: () => 0, text: () => text };
  };

  it('a second Ctrl-C during a save quits only when the save is complete; a third at once', async () => {
    const io = quietIo();
    const controller = new AbortController();
    const exits: number[] = [];
    const onSignal = signalHandler(io, controller, (code) => void exits.push(code));
    let finish = (): void => undefined;
    let finished = false;
    const save = guardedWrite(
      () =>
        new Promise<void>((done) => {
          finish = () => {
            finished = true;
            done();
          };
        }),
    );
    onSignal();
    expect(controller.signal.aborted).toBe(true);
    expect(exits).toEqual([]);
    onSignal();
    expect(io.text()).toMatch(/finishing the save in progress, then quitting/);
    await new Promise((tick) => setTimeout(tick, 20));
    expect(exits).toEqual([]);
    finish();
    await save;
    await new Promise((tick) => setTimeout(tick, 0));
    expect(finished).toBe(true);
    expect(exits).toEqual([EXIT.interrupted]);
    onSignal();
    expect(exits).toEqual([EXIT.interrupted, EXIT.interrupted]);
  });

  it('a second Ctrl-C with no save in progress quits at once', () => {
    const exits: number[] = [];
    const onSignal = signalHandler(quietIo(), new AbortController(), (code) => void exits.push(code));
    onSignal();
    onSignal();
    expect(exits).toEqual([EXIT.interrupted]);
  });
});
