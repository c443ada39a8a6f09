/**
 * Training checkpoints on disk.
 *
 *   <checkpointDir>/
 *     checkpoint.json            ← the pointer: options, counters, RNG states, history, and
 *                                  the name of the directory holding this checkpoint's tensors
 *     ckpt-<step>-<id>/
 *       autoencoder.safetensors  ← auto-encoder parameters
 *       discriminator.safetensors (if the strategy has one)
 *       ae-adam.safetensors      ← Adam moments m.<param>, v.<param> of the auto-encoder
 *       d-adam.safetensors       (if the strategy has a discriminator)
 *       best-autoencoder.safetensors (if a validation split selected a best epoch)
 *
 * Saving writes the tensors into a fresh temporary directory (each file itself temp + rename),
 * renames it to `ckpt-<step>-<id>`, then replaces checkpoint.json (temp + rename), and only
 * then deletes older `ckpt-*` directories. A crash at any point leaves checkpoint.json
 * pointing at a complete, earlier checkpoint.
 */

import type * as tf from '@tensorflow/tfjs-core';

import { FileFormatError } from '../errors.js';
import type { AdamScalars } from './adam.js';
import type { AnomalyCyclerState } from './batches.js';
import { nodeModules, writeJsonAtomic } from '../node/atomic.js';
import type { EpochLog } from './history.js';
import { saveTensors } from '../io/state-dict.js';

/** Name of the pointer file inside a checkpoint directory. */
export const CHECKPOINT_FILE = 'checkpoint.json';

/** Value of the `format` field of checkpoint.json. */
export const CHECKPOINT_FORMAT = 'ckaad-checkpoint';

/** The tensor files of a checkpoint, by role. */
export type CheckpointFile = 'autoencoder' | 'discriminator' | 'ae-adam' | 'd-adam' | 'best-autoencoder';

/** Running sums of the losses of an epoch in progress. */
export interface LossSums {
  steps: number;
  lRec: number;
  lAdv: number;
  lD: number;
  lAe: number;
}

/** Everything in checkpoint.json. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  /** Sub-directory (of the checkpoint directory) holding this checkpoint's tensor files. */
  files: string;
  /** Which tensor files exist. */
  contents: CheckpointFile[];
  /** The options that define the run (see `optionsRecord`); must match on resume. */
  options: Record<string, number | string>;
  /** Auto-encoder architecture and image size, checked on resume. */
  model: { backbone: string; layers: string[]; imageSize: [number, number] };
  /** Sizes of the training datasets, checked on resume (the batch order depends on them). */
  data: { normal: number; anomalies: number };
  /** Where training stands. */
  progress: {
    /** Completed epochs. */
    epoch: number;
    /** Steps already done in the epoch in progress (0 at an epoch boundary). */
    batchInEpoch: number;
    /** Completed steps in total. */
    step: number;
    /** State of the batch-order generator at the start of the epoch in progress (or the next). */
    epochRng: number[];
    /** The anomaly batch stream, or null when the run uses no anomalies. */
    anomaly: AnomalyCyclerState | null;
    /** Loss sums of the epoch in progress. */
    partial: LossSums;
    /** Seconds spent in the epoch in progress so far. */
    partialSeconds: number;
  };
  /** One entry per completed epoch. */
  history: EpochLog[];
  /** Best validation epoch so far (its weights are in best-autoencoder.safetensors). */
  best: { epoch: number; auroc: number } | null;
  /** Scalar Adam state of the two optimisers. */
  adam: { ae: AdamScalars; d: AdamScalars | null };
}

/**
 * Writes a checkpoint: every tensor file first, the pointer last, then removes older ones.
 *
 * @param dir The checkpoint directory (created if needed).
 * @param state checkpoint.json without `files` and `contents` (filled in here).
 * @param tensors Named tensors per file; tensors are read, not disposed.
 */
export async function writeCheckpoint(
  dir: string,
  state: Omit<CheckpointState, 'files' | 'contents'>,
  tensors: ReadonlyMap<CheckpointFile, ReadonlyMap<string, tf.Tensor>>,
): Promise<void> {
  const { fs, path, crypto } = await nodeModules();
  const { join } = path;
  await fs.mkdir(dir, { recursive: true });
  const name = `ckpt-${String(state.progress.step).padStart(8, '0')}-${crypto.randomBytes(4).toString('hex')}`;
  const staging = join(dir, `.${name}.tmp`);
  try {
    await fs.mkdir(staging);
    for (const [file, named] of tensors) await saveTensors(join(staging, `${file}.safetensors`), named);
    await fs.rename(staging, join(dir, name));
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true });
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(join(dir, name), `cannot write checkpoint (${(e as Error).message})`);
  }
  await writeJsonAtomic(join(dir, CHECKPOINT_FILE), { ...state, files: name, contents: [...tensors.keys()] });
  // The new pointer is in place: older checkpoints and abandoned staging directories can go.
  for (const entry of await fs.readdir(dir)) {
    const ours = /^ckpt-\d+-[0-9a-f]+$/.test(entry) || /^\.ckpt-\d+-[0-9a-f]+\.tmp$/.test(entry);
    if (ours && entry !== name) await fs.rm(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Reads checkpoint.json of `dir`, or returns null when there is none.
 *
 * @returns the state and the directory of its tensor files.
 * @throws FileFormatError if checkpoint.json exists but is not a valid ckaad checkpoint.
 */
export async function readCheckpoint(dir: string): Promise<{ state: CheckpointState; filesDir: string } | null> {
  const { fs, path: p } = await nodeModules();
  const path = p.join(dir, CHECKPOINT_FILE);
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FileFormatError(path, `cannot read file (${(e as Error).message})`);
  }
  let state: CheckpointState;
  try {
    state = JSON.parse(text) as CheckpointState;
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof state !== 'object' || state === null || state.format !== CHECKPOINT_FORMAT) {
    throw new FileFormatError(path, `not a ckaad checkpoint (expected "format": "${CHECKPOINT_FORMAT}")`);
  }
  if (state.version !== 1) {
    throw new FileFormatError(path, `unsupported checkpoint version ${String(state.version)} (this ckaad reads version 1)`);
  }
  const wellFormed =
    typeof state.files === 'string' &&
    /^ckpt-\d+-[0-9a-f]+$/.test(state.files) &&
    Array.isArray(state.contents) &&
    typeof state.options === 'object' &&
    typeof state.model === 'object' &&
    typeof state.data === 'object' &&
    typeof state.progress === 'object' &&
    Number.isInteger(state.progress.epoch) &&
    Number.isInteger(state.progress.batchInEpoch) &&
    Number.isInteger(state.progress.step) &&
    Array.isArray(state.progress.epochRng) &&
    Array.isArray(state.history) &&
    typeof state.adam === 'object';
  if (!wellFormed) throw new FileFormatError(path, 'checkpoint.json is missing fields or has fields of the wrong type');
  return { state, filesDir: p.join(dir, state.files) };
}
