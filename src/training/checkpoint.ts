/**
 * Training checkpoints: everything a run needs to continue exactly where it stopped, as one
 * set of files written all at once to a {@link Storage} (in Node, ckaad/node's
 * `checkpointFolder(dir)`; anywhere, `memoryStorage()`):
 *
 *   checkpoint.json               options, model, data sizes, counters, every random stream's
 *                                 state, the epoch history, scalar Adam state
 *   autoencoder.safetensors       auto-encoder parameters
 *   discriminator.safetensors     (when the run has a discriminator)
 *   ae-adam.safetensors           Adam moments m.<param>, v.<param> of the auto-encoder
 *   d-adam.safetensors            (when the run has a discriminator)
 *   best-autoencoder.safetensors  (when a validation split selected a best epoch)
 *
 * A storage's write is all-or-nothing, so a crash at any point leaves the previous complete
 * checkpoint readable.
 */

import * as tf from '@tensorflow/tfjs-core';

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { encodeTensors, loadParameters, loadTensors, parameterShapes } from '../io/state-dict.js';
import { jsonBytes, readJsonRecord } from '../io/storage.js';
import type { Storage } from '../io/storage.js';
import { adamShapes, adamState, restoreAdam } from './adam.js';
import type { AdamScalars } from './adam.js';
import { AnomalyCycler } from './batches.js';
import type { AnomalyCyclerState } from './batches.js';
import type { EpochLog } from './history.js';
import type { RunModels } from './step.js';

/** Name of the state file of a checkpoint. */
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

/** The mutable state of a run: what a checkpoint stores besides the networks. */
export interface RunState {
  /** Completed epochs. */
  epoch: number;
  /** Steps already done in the epoch in progress (0 at an epoch boundary). */
  batchInEpoch: number;
  /** Completed steps in total. */
  step: number;
  /** State of the batch-order generator at the start of the epoch in progress (or the next). */
  epochRng: number[];
  /** The anomaly batch stream, or null when the run uses no anomalies. */
  anomalies: AnomalyCycler | null;
  /** Loss sums of the epoch in progress. */
  partial: LossSums;
  /** Seconds spent in the epoch in progress so far. */
  partialSeconds: number;
  /** One entry per completed epoch. */
  history: EpochLog[];
  /** Best validation epoch so far, its best-F1 threshold, and a copy of its auto-encoder weights. */
  best: { epoch: number; auroc: number; threshold: number; weights: Map<string, tf.Tensor> } | null;
}

/** Everything in checkpoint.json. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: 2;
  /** Which tensor files exist. */
  contents: CheckpointFile[];
  /** The options that define the run (see `optionsRecord`); must match on resume. */
  options: Record<string, number | string>;
  /** Auto-encoder architecture and image size, checked on resume. */
  model: { backbone: string; layers: string[]; imageSize: [number, number] };
  /** Sizes of the training datasets, checked on resume (the batch order depends on them). */
  data: { normal: number; anomalies: number };
  /** Where training stands (see {@link RunState}). */
  progress: {
    epoch: number;
    batchInEpoch: number;
    step: number;
    epochRng: number[];
    anomaly: AnomalyCyclerState | null;
    partial: LossSums;
    partialSeconds: number;
  };
  history: EpochLog[];
  /** Best validation epoch so far (its weights are in best-autoencoder.safetensors). */
  best: { epoch: number; auroc: number; threshold: number } | null;
  /** Scalar Adam state of the two optimisers. */
  adam: { ae: AdamScalars; d: AdamScalars | null };
}

/** What identifies a run, checked when resuming. */
export interface RunIdentity {
  options: Record<string, number | string>;
  model: CheckpointState['model'];
  data: CheckpointState['data'];
}

function fileName(file: CheckpointFile): string {
  return `${file}.safetensors`;
}

/** Writes the checkpoint of a run to `storage` (all files at once). */
export async function saveCheckpoint(storage: Storage, identity: RunIdentity, state: RunState, models: RunModels): Promise<void> {
  const files = new Map<string, Uint8Array>();
  const contents: CheckpointFile[] = [];
  const put = async (file: CheckpointFile, tensors: ReadonlyMap<string, tf.Tensor>) => {
    files.set(fileName(file), await encodeTensors(tensors));
    contents.push(file);
  };
  const aeParameters = models.autoencoder.parameters();
  await put('autoencoder', aeParameters);
  const aeAdam = await adamState(models.aeOptimizer, aeParameters);
  await put('ae-adam', aeAdam.tensors);
  let dScalars: AdamScalars | null = null;
  if (models.discriminator !== null && models.dOptimizer !== null) {
    const dParameters = models.discriminator.parameters();
    await put('discriminator', dParameters);
    const dAdam = await adamState(models.dOptimizer, dParameters);
    await put('d-adam', dAdam.tensors);
    dScalars = dAdam.scalars;
  }
  if (state.best !== null) await put('best-autoencoder', state.best.weights);
  const record: CheckpointState = {
    format: CHECKPOINT_FORMAT,
    version: 2,
    contents,
    ...identity,
    progress: {
      epoch: state.epoch,
      batchInEpoch: state.batchInEpoch,
      step: state.step,
      epochRng: state.epochRng,
      anomaly: state.anomalies?.state() ?? null,
      partial: { ...state.partial },
      partialSeconds: state.partialSeconds,
    },
    history: state.history,
    best: state.best === null ? null : { epoch: state.best.epoch, auroc: state.best.auroc, threshold: state.best.threshold },
    adam: { ae: aeAdam.scalars, d: dScalars },
  };
  files.set(CHECKPOINT_FILE, jsonBytes(record));
  await storage.write(files);
}

/**
 * Reads the state file of the checkpoint in `storage`, or null when there is none.
 *
 * @throws FileFormatError if there is one but it is not a valid ckaad checkpoint.
 */
export async function readCheckpointState(storage: Storage): Promise<CheckpointState | null> {
  const state = await readJsonRecord<CheckpointState>(storage, CHECKPOINT_FILE, CHECKPOINT_FORMAT, 'ckaad checkpoint');
  if (state === null) return null;
  const where = `${storage.location}/${CHECKPOINT_FILE}`;
  if (state.version !== 2) {
    throw new FileFormatError(where, `checkpoint version ${String(state.version)} cannot be resumed by this ckaad (it reads version 2); start the run afresh`);
  }
  const p = state.progress;
  const wellFormed =
    Array.isArray(state.contents) &&
    typeof state.options === 'object' &&
    typeof state.model === 'object' &&
    typeof state.data === 'object' &&
    typeof p === 'object' &&
    p !== null &&
    Number.isInteger(p.epoch) &&
    Number.isInteger(p.batchInEpoch) &&
    Number.isInteger(p.step) &&
    Array.isArray(p.epochRng) &&
    Array.isArray(state.history) &&
    typeof state.adam === 'object';
  if (!wellFormed) throw new FileFormatError(where, 'checkpoint.json is missing fields or has fields of the wrong type');
  return state;
}

/** Where a checkpointed run stands: what to know before resuming it. */
export interface CheckpointProgress {
  /** Completed epochs. */
  epoch: number;
  /** Steps already done in the epoch in progress (0 at an epoch boundary). */
  batchInEpoch: number;
  /** Completed steps in total. */
  step: number;
  /** One entry per completed epoch. */
  history: EpochLog[];
  /** Best validation epoch so far and its validation AUROC, or null without a validation split. */
  best: { epoch: number; auroc: number } | null;
}

/**
 * Reads where the checkpoint in `storage` stands (completed epochs and steps, the epoch
 * history, the best validation epoch), or null when `storage` holds no checkpoint.
 *
 * @throws FileFormatError if it holds one that is not a valid ckaad checkpoint.
 */
export async function readCheckpointProgress(storage: Storage): Promise<CheckpointProgress | null> {
  const state = await readCheckpointState(storage);
  if (state === null) return null;
  const { epoch, batchInEpoch, step } = state.progress;
  return { epoch, batchInEpoch, step, history: state.history, best: state.best === null ? null : { epoch: state.best.epoch, auroc: state.best.auroc } };
}

/** Throws unless the checkpoint was written by a run with the same options, model and data layout. */
function checkCompatible(saved: CheckpointState, identity: RunIdentity, hasDiscriminator: boolean, location: string): void {
  const mismatch = (what: string, expected: string, found: string) => {
    throw new InvalidArgumentError('options.resume', `a checkpoint in ${location} written with the same ${what} (${expected})`, found);
  };
  const current = identity.options;
  const keys = new Set([...Object.keys(current), ...Object.keys(saved.options)]);
  const differing = [...keys].filter((k) => current[k] !== saved.options[k]);
  if (differing.length > 0) {
    mismatch(
      'options',
      differing.map((k) => `${k} = ${String(current[k])}`).join(', '),
      differing.map((k) => `${k} = ${String(saved.options[k])}`).join(', '),
    );
  }
  const describe = (m: CheckpointState['model']) => `${m.backbone} [${m.layers.join(', ')}] at ${m.imageSize.join('×')}`;
  if (describe(identity.model) !== describe(saved.model)) mismatch('model', describe(identity.model), describe(saved.model));
  if (hasDiscriminator !== saved.contents.includes('discriminator')) {
    mismatch('use of a discriminator', String(hasDiscriminator), String(!hasDiscriminator));
  }
  const counts = (d: CheckpointState['data']) => `${d.normal} normal, ${d.anomalies} anomalous images`;
  if (counts(identity.data) !== counts(saved.data)) mismatch('training data', counts(identity.data), counts(saved.data));
}

/**
 * Loads the checkpoint in `storage` into a fresh run: the networks' and optimisers'
 * weights, and `state`. Returns false (changing nothing) when there is no checkpoint.
 *
 * @throws InvalidArgumentError naming `options.resume` when the checkpoint belongs to another
 *   run (options, model, data sizes); FileFormatError / WeightsMismatchError for broken files.
 */
export async function restoreCheckpoint(storage: Storage, identity: RunIdentity, state: RunState, models: RunModels): Promise<boolean> {
  const saved = await readCheckpointState(storage);
  if (saved === null) return false;
  checkCompatible(saved, identity, models.discriminator !== null, storage.location);
  const file = async (name: CheckpointFile): Promise<Uint8Array> => {
    const bytes = await storage.read(fileName(name));
    if (bytes === null) throw new FileFormatError(`${storage.location}/${fileName(name)}`, 'missing from the checkpoint');
    return bytes;
  };
  const label = (name: CheckpointFile) => `${storage.location}/${fileName(name)}`;
  const restoreOptimizer = async (optimizer: tf.AdamOptimizer, parameters: Map<string, tf.Variable>, name: CheckpointFile, scalars: AdamScalars) => {
    const tensors = scalars.iterations === 0 ? new Map<string, tf.Tensor>() : await loadTensors(await file(name), adamShapes(parameters), label(name));
    await restoreAdam(optimizer, parameters, tensors, scalars);
    tf.dispose([...tensors.values()]);
  };

  const aeParameters = models.autoencoder.parameters();
  await loadParameters(aeParameters, await file('autoencoder'), label('autoencoder'));
  await restoreOptimizer(models.aeOptimizer, aeParameters, 'ae-adam', saved.adam.ae);
  if (models.discriminator !== null && models.dOptimizer !== null) {
    const dParameters = models.discriminator.parameters();
    await loadParameters(dParameters, await file('discriminator'), label('discriminator'));
    await restoreOptimizer(models.dOptimizer, dParameters, 'd-adam', saved.adam.d as AdamScalars);
  }
  if (saved.best !== null) {
    const weights = await loadTensors(await file('best-autoencoder'), parameterShapes(aeParameters), label('best-autoencoder'));
    state.best = { ...saved.best, weights };
  }
  const p = saved.progress;
  state.epoch = p.epoch;
  state.batchInEpoch = p.batchInEpoch;
  state.step = p.step;
  state.epochRng = [...p.epochRng];
  state.partial = { ...p.partial };
  state.partialSeconds = p.partialSeconds;
  state.history = saved.history.map((h) => ({ ...h }));
  if (state.anomalies !== null && p.anomaly !== null) {
    const { size, batchSize, shuffle } = state.anomalies;
    state.anomalies = AnomalyCycler.fromState(size, batchSize, p.anomaly, shuffle);
  }
  return true;
}
