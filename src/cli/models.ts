/**
 * Opening saved models on the command line (`score`, `eval`): a model folder, with the
 * backbone weights where its model.json records them or — when they moved — the files given
 * with `--weights`, each used for the models whose recorded SHA-256 it has.
 */

import { access } from 'node:fs/promises';

import { FileFormatError } from '../errors.js';
import { MODEL_FILE, MODEL_FORMAT, loadModel, sha256Of } from '../io/saved-model.js';
import type { LoadedModel, ModelRecord } from '../io/saved-model.js';
import { readJsonRecord } from '../io/storage.js';
import { modelFolder } from '../node/folders.js';
import { OptionError } from './errors.js';

/** The files given with `--weights`, with their SHA-256 computed once. */
export interface WeightsFiles {
  readonly files: readonly string[];
  /** SHA-256 of each file, by path. */
  readonly hashes: ReadonlyMap<string, string>;
}

/**
 * Checks the `--weights` files (they must exist) and hashes them.
 *
 * @throws FileFormatError naming a file that is missing or unreadable.
 */
export async function weightsFiles(files: readonly string[] = []): Promise<WeightsFiles> {
  const hashes = new Map<string, string>();
  for (const file of files) {
    try {
      await access(file);
    } catch {
      throw new FileFormatError(file, 'file not found (--weights: the backbone weights the model was trained with, a model.safetensors)');
    }
    hashes.set(file, await sha256Of(file));
  }
  return { files, hashes };
}

/**
 * Loads the model in folder `dir`. Its backbone weights come from the `--weights` file whose
 * SHA-256 is the one model.json records, else from where model.json records them.
 *
 * @throws OptionError naming `--weights` when weights are given for a model whose backbone is
 *   randomly initialised, or when several are given and none is this model's;
 *   FileFormatError as `loadModel` (its message says to pass `--weights` when the recorded
 *   weights are missing, and names the file whose SHA-256 differs).
 */
export async function openModel(dir: string, weights: WeightsFiles): Promise<LoadedModel> {
  const storage = modelFolder(dir);
  if (weights.files.length === 0) return loadModel(storage);
  const record = await readJsonRecord<ModelRecord>(storage, MODEL_FILE, MODEL_FORMAT, 'ckaad model');
  if (record === null) return loadModel(storage); // loadModel names what is missing
  const recorded = record.extractor?.weights;
  if (recorded?.kind === 'random') {
    throw new OptionError('--weights', 'only for models trained with backbone weights from a file', `${storage.location} was trained with a randomly initialised backbone`);
  }
  const matching = weights.files.find((f) => weights.hashes.get(f) === recorded?.sha256);
  if (matching !== undefined) return loadModel(storage, { weights: matching });
  // One file that is not this model's: loadModel says so, naming the file and both hashes.
  if (weights.files.length === 1) return loadModel(storage, { weights: weights.files[0] });
  throw new OptionError(
    '--weights',
    `a file with the SHA-256 recorded in ${storage.location}/${MODEL_FILE} (${String(recorded?.sha256)})`,
    `none of ${weights.files.join(', ')}`,
  );
}
