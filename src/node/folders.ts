/**
 * The two {@link Storage}s of ckaad in Node, both crash-safe:
 *
 * - {@link modelFolder}: a saved model is a folder of plain files (model.json,
 *   autoencoder.safetensors) that people copy around and `ckaad score` reads. A save writes a
 *   temporary sibling folder and swaps it in; only an empty folder or an earlier ckaad model
 *   is ever replaced — never a folder of someone else's files.
 * - {@link checkpointFolder}: every save is a new numbered generation folder; a small pointer
 *   file (current.json, written last, atomically) names the complete one, and older
 *   generations are removed after it. A crash leaves the previous generation in force.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { MODEL_FORMAT } from '../io/saved-model.js';
import type { Storage } from '../io/storage.js';
import { folderState, guardedWrite, removeAbandoned, replaceFolder, temporarySibling, writeFileAtomic, writeJsonAtomic } from './atomic.js';

/** The file and format that mark a folder as a saved ckaad model. */
export const MODEL_MARKER = { file: 'model.json', formats: [MODEL_FORMAT] } as const;

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FileFormatError(path, `cannot read file (${(e as Error).message})`);
  }
}

/**
 * Checks that a model may be written to `target`: it does not exist, is an empty folder, or
 * (with `overwrite`) is a ckaad model folder. Any other folder, `.` or a dataset root among
 * them, is refused whatever `overwrite` says: ckaad never deletes a folder of the user's files.
 *
 * @param argument The option `target` came from, for the error (e.g. `'dir'`, `'--model'`).
 * @param overwriteHint How the caller asks for overwriting (e.g. `'add --overwrite'`).
 * @param ErrorType The error class to throw (an {@link InvalidArgumentError} or a subclass).
 * @throws InvalidArgumentError (or `ErrorType`) naming `argument` and `target`.
 */
export async function checkModelTarget(
  target: string,
  overwrite: boolean,
  argument: string,
  overwriteHint: string,
  ErrorType: typeof InvalidArgumentError = InvalidArgumentError,
): Promise<void> {
  const state = await folderState(target, MODEL_MARKER);
  if (state === 'file') throw new ErrorType(argument, 'a folder to save the model in', `${target} (a file)`);
  if (state === 'foreign') {
    throw new ErrorType(
      argument,
      'a new or empty folder, or a ckaad model folder to replace; ckaad never deletes a folder that holds other files',
      `${target} (holds files and no ckaad model.json)`,
    );
  }
  if (state === 'ours' && !overwrite) {
    throw new ErrorType(argument, `a folder where no model exists yet (or ${overwriteHint} to replace the model)`, `${target} (a ckaad model)`);
  }
}

/** Options of {@link modelFolder}. */
export interface ModelFolderOptions {
  /** Replace an existing ckaad model in the folder. Default false. A folder of other files is never replaced. */
  overwrite?: boolean;
}

/**
 * The {@link Storage} of a saved model in folder `dir` (see the module notes).
 *
 * @example
 * ```ts
 * await saveModel(modelFolder('models/xray'), model);
 * const loaded = await loadModel(modelFolder('models/xray'));
 * ```
 */
export function modelFolder(dir: string, options: ModelFolderOptions = {}): Storage {
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('dir', 'a folder path', String(dir));
  const target = resolve(dir);
  return {
    location: target,
    read: (name) => readOrNull(join(target, name)),
    // Weights inside the model folder or beside it are recorded relative to it, so that the
    // folder and its weights can move together; anything else by its absolute path.
    recordPath(path) {
      const rel = relative(target, resolve(path));
      return rel.split(sep).filter((part) => part === '..').length <= 1 && !isAbsolute(rel) ? rel.split(sep).join('/') : resolve(path);
    },
    resolvePath: (recorded) => resolve(target, recorded),
    async write(files) {
      // What a killed save of this model left beside it goes first (it may hold the model).
      await removeAbandoned(target);
      await checkModelTarget(target, options.overwrite === true, 'dir', 'options.overwrite: true');
      const staging = await temporarySibling(target);
      await guardedWrite(async () => {
        try {
          await mkdir(staging, { recursive: true });
          for (const [name, bytes] of files) await writeFileAtomic(join(staging, name), bytes);
          await replaceFolder(staging, target);
        } catch (e) {
          await rm(staging, { recursive: true, force: true });
          if (e instanceof FileFormatError) throw e;
          throw new FileFormatError(target, `cannot write model (${(e as Error).message})`);
        }
      });
    },
  };
}

/** Name of the pointer file of a checkpoint folder. */
export const CHECKPOINT_POINTER = 'current.json';
/** `format` of the pointer file. */
export const CHECKPOINT_FOLDER_FORMAT = 'ckaad-checkpoint-folder';
const GENERATION = /^gen-(\d+)-[0-9a-f]+$/;
const STAGING = /^\.gen-\d+-[0-9a-f]+\.tmp$/;

interface Pointer {
  format: typeof CHECKPOINT_FOLDER_FORMAT;
  generation: string;
}

async function readPointer(dir: string): Promise<Pointer | null> {
  const path = join(dir, CHECKPOINT_POINTER);
  const bytes = await readOrNull(path);
  if (bytes === null) {
    if ((await readOrNull(join(dir, 'checkpoint.json'))) !== null) {
      throw new FileFormatError(join(dir, 'checkpoint.json'), 'a checkpoint of ckaad 0.1, which this version cannot resume; delete the folder or pick another');
    }
    return null;
  }
  let pointer: Pointer;
  try {
    pointer = JSON.parse(new TextDecoder().decode(bytes)) as Pointer;
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (pointer?.format !== CHECKPOINT_FOLDER_FORMAT || typeof pointer.generation !== 'string' || !GENERATION.test(pointer.generation)) {
    throw new FileFormatError(path, `not a ckaad checkpoint pointer (expected "format": "${CHECKPOINT_FOLDER_FORMAT}" and a generation folder)`);
  }
  return pointer;
}

/**
 * Removes what earlier runs of ckaad left in the checkpoint folder `dir`: generations other
 * than the current one, staging folders of a save that was cut short, temporaries of the
 * pointer file — only names of its own. Run before training (`ckaad train`) and after every
 * save. Returns the names removed.
 */
export async function cleanCheckpointFolder(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const pointer = await readPointer(root);
  const removed = await removeAbandoned(join(root, CHECKPOINT_POINTER));
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (entry !== pointer?.generation && (GENERATION.test(entry) || STAGING.test(entry))) {
      await rm(join(root, entry), { recursive: true, force: true });
      removed.push(entry);
    }
  }
  return removed;
}

/**
 * The {@link Storage} of training checkpoints in folder `dir` (see the module notes). Writing
 * also removes what earlier runs of ckaad left there ({@link cleanCheckpointFolder}).
 */
export function checkpointFolder(dir: string): Storage {
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError('dir', 'a folder path', String(dir));
  const root = resolve(dir);
  return {
    location: root,
    async read(name) {
      const pointer = await readPointer(root);
      return pointer === null ? null : readOrNull(join(root, pointer.generation, name));
    },
    write: (files) =>
      guardedWrite(async () => {
        await mkdir(root, { recursive: true });
        const previous = await readPointer(root);
        const sequence = previous === null ? 1 : Number(GENERATION.exec(previous.generation)?.[1]) + 1;
        const generation = `gen-${String(sequence).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
        const staging = join(root, `.${generation}.tmp`);
        try {
          await mkdir(staging);
          for (const [name, bytes] of files) await writeFileAtomic(join(staging, name), bytes, { mkdir: false });
          await rename(staging, join(root, generation));
        } catch (e) {
          await rm(staging, { recursive: true, force: true });
          if (e instanceof FileFormatError) throw e;
          throw new FileFormatError(join(root, generation), `cannot write checkpoint (${(e as Error).message})`);
        }
        await writeJsonAtomic(join(root, CHECKPOINT_POINTER), { format: CHECKPOINT_FOLDER_FORMAT, generation } satisfies Pointer);
        // The pointer names the new generation: older ones and abandoned staging folders can go.
        await cleanCheckpointFolder(root);
      }),
  };
}
