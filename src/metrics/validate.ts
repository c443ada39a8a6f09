/**
 * Input checks shared by the metrics. Every failure is a typed error that names the argument
 * (and the element index) and says what was expected.
 */

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import type { LabelArray, ScoreArray, ScorePrecision } from './types.js';

/** Throws unless `value` is a score array (Float32Array, Float64Array or number[]). */
export function checkScoreArray(argument: string, value: unknown): asserts value is ScoreArray {
  if (value instanceof Float32Array || value instanceof Float64Array || Array.isArray(value)) return;
  throw new InvalidArgumentError(argument, 'a Float32Array, Float64Array or number[]', describeValue(value));
}

/** Throws unless `value` is array-like (a typed array or an array). */
export function checkLabelArray(argument: string, value: unknown): asserts value is LabelArray {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    if (!(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array)) return;
  }
  throw new InvalidArgumentError(argument, 'an array of 0/1 values (Uint8Array, number[] or boolean[])', describeValue(value));
}

/** Throws if the array is empty. */
export function checkNonEmpty(argument: string, length: number): void {
  if (length === 0) throw new InvalidArgumentError(argument, 'a non-empty array', 'length 0');
}

/** Throws if two arrays that pair element by element differ in length. */
export function checkSameLength(nameA: string, lengthA: number, nameB: string, lengthB: number): void {
  if (lengthA !== lengthB) {
    throw new ShapeMismatchError(`${nameA} and ${nameB}`, `${nameB}.length = ${nameA}.length = ${lengthA}`, `${nameB}.length = ${lengthB}`);
  }
}

/** The error for a score that is NaN, ±Infinity, or overflows float32 storage. */
export function invalidScore(argument: string, index: number, value: number, precision?: ScorePrecision): InvalidArgumentError {
  const finite = Number.isFinite(value);
  return new InvalidArgumentError(
    `${argument}[${index}]`,
    finite && precision === 'float32' ? 'a finite score within float32 range (or use precision: "float64")' : 'a finite number',
    String(value),
  );
}

/** The error for a label that is neither 0/1 nor a boolean. */
export function invalidLabel(argument: string, index: number, value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${argument}[${index}]`, '0 or 1 (or false / true)', describeValue(value));
}

/** 1 for an anomaly (1 / true), 0 for normal (0 / false); throws for anything else. */
export function labelBit(labels: LabelArray, index: number, argument: string): 0 | 1 {
  const v = labels[index];
  if (v === 1 || v === true) return 1;
  if (v === 0 || v === false) return 0;
  throw invalidLabel(argument, index, v);
}

/** Throws unless both classes are present (ROC AUC is undefined with one class). */
export function requireBothClasses(argument: string, positives: number, negatives: number, metric = 'AUROC'): void {
  if (positives > 0 && negatives > 0) return;
  const only = positives > 0 ? `only 1s (${positives} of them)` : `only 0s (${negatives} of them)`;
  throw new InvalidArgumentError(argument, `both classes (0 and 1) to be present, ${metric} is undefined with one class`, only);
}

/** Throws unless `value` is an integer ≥ `min`. */
export function checkInteger(argument: string, value: unknown, min: number): asserts value is number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min) return;
  throw new InvalidArgumentError(argument, `an integer ≥ ${min}`, describeValue(value));
}

/** Throws unless `fprLimit` is a number in (0, 1]. */
export function checkFprLimit(argument: string, fprLimit: unknown): asserts fprLimit is number {
  if (typeof fprLimit === 'number' && fprLimit > 0 && fprLimit <= 1) return;
  throw new InvalidArgumentError(argument, 'a number in (0, 1]', describeValue(fprLimit));
}

/** Throws unless `precision` is `'float32'` or `'float64'`. */
export function checkPrecision(argument: string, precision: unknown): asserts precision is ScorePrecision {
  if (precision === 'float32' || precision === 'float64') return;
  throw new InvalidArgumentError(argument, "'float32' or 'float64'", describeValue(precision));
}

/** Short human description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `an object (${value.constructor?.name ?? 'Object'})`;
}
