/**
 * Named float32 tensors in and out of safetensors files: module parameters, optimiser
 * moments, kept "best epoch" weights. Loading checks names and shapes and reports every
 * mismatch at once ({@link WeightsMismatchError}).
 */

import * as tf from '@tensorflow/tfjs-core';

import type { ByteSource } from './byte-source.js';
import { encodeSafetensors, readSafetensors } from './safetensors.js';
import type { SafetensorsTensorInput } from './safetensors.js';
import { WeightsMismatchError } from '../errors.js';
import type { WeightProblem } from '../errors.js';

/** Downloads named tensors into safetensors input records (float32, exact). */
export async function toSafetensorsRecord(
  tensors: ReadonlyMap<string, tf.Tensor>,
): Promise<Record<string, SafetensorsTensorInput>> {
  const record: Record<string, SafetensorsTensorInput> = {};
  for (const [name, t] of tensors) {
    record[name] = { dtype: 'F32', shape: t.shape, data: (await t.data<'float32'>()) as Float32Array };
  }
  return record;
}

/** Named tensors as the bytes of a float32 safetensors file (exact). */
export async function encodeTensors(tensors: ReadonlyMap<string, tf.Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  return encodeSafetensors(await toSafetensorsRecord(tensors), metadata);
}

/**
 * Reads the tensors named by `expected` from the safetensors file or bytes `source`, checking
 * that the names are exactly those expected and that shapes agree. Returns new tensors the
 * caller owns.
 *
 * @param expected name → expected shape.
 * @param label How the source is named in errors (defaults to the path).
 * @throws WeightsMismatchError listing every missing, unexpected and wrongly shaped tensor.
 */
export async function loadTensors(
  source: ByteSource,
  expected: ReadonlyMap<string, readonly number[]>,
  label?: string,
): Promise<Map<string, tf.Tensor>> {
  const reader = await readSafetensors(source, label);
  try {
    const problems: WeightProblem[] = [];
    for (const [name, shape] of expected) {
      if (!reader.has(name)) {
        problems.push({ name, kind: 'missing', expected: shape });
        continue;
      }
      const found = reader.info(name).shape;
      if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
        problems.push({ name, kind: 'shape', expected: shape, found });
      }
    }
    for (const name of reader.names) {
      if (!expected.has(name)) problems.push({ name, kind: 'unexpected', found: reader.info(name).shape });
    }
    if (problems.length > 0) throw new WeightsMismatchError(reader.source, problems);
    const out = new Map<string, tf.Tensor>();
    for (const [name, shape] of expected) {
      out.set(name, tf.tensor(await reader.float32(name), [...shape], 'float32'));
    }
    return out;
  } finally {
    await reader.close();
  }
}

/** The expected shapes of a module's parameters, for {@link loadTensors}. */
export function parameterShapes(parameters: ReadonlyMap<string, tf.Variable>): Map<string, number[]> {
  return new Map([...parameters].map(([name, v]) => [name, v.shape]));
}

/**
 * Loads a module's parameters from safetensors bytes written by {@link encodeTensors}
 * (e.g. `encodeTensors(module.parameters())`) and assigns them in place.
 *
 * @throws WeightsMismatchError if the file's tensors do not match the module exactly.
 */
export async function loadParameters(
  parameters: ReadonlyMap<string, tf.Variable>,
  source: ByteSource,
  label?: string,
): Promise<void> {
  const loaded = await loadTensors(source, parameterShapes(parameters), label);
  for (const [name, v] of parameters) v.assign(loaded.get(name) as tf.Tensor);
  tf.dispose([...loaded.values()]);
}
