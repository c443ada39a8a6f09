/**
 * The one-shot pixel metrics take either one flat array (all pixels, or N images of H×W
 * back to back) or a list of such arrays, for both maps and masks. This pairs them up.
 */

import { InvalidArgumentError } from '../errors.js';
import type { LabelArray, ScoreArray, ScorePrecision } from './types.js';
import { checkLabelArray, checkNonEmpty, checkSameLength, checkScoreArray, describeValue } from './validate.js';

/** One (map, mask) entry with the names its elements get in error messages. */
export interface MapEntry {
  map: ScoreArray;
  mask: LabelArray;
  mapName: string;
  maskName: string;
}

function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value) && value.length > 0 && typeof value[0] === 'object' && value[0] !== null;
}

/**
 * Pairs maps with masks. Both must be flat arrays, or lists of the same length whose
 * entries pair up (each entry's lengths must agree).
 *
 * @throws InvalidArgumentError for empty input or wrong types; ShapeMismatchError if the
 *   lists or entries differ in length.
 */
export function mapEntries(maps: ScoreArray | readonly ScoreArray[], masks: LabelArray | readonly LabelArray[]): MapEntry[] {
  if (isList(maps)) {
    if (!isList(masks)) {
      throw new InvalidArgumentError('masks', 'a list of masks, one per entry of maps', describeValue(masks));
    }
    checkSameLength('maps', maps.length, 'masks', masks.length);
    const entries: MapEntry[] = [];
    for (let i = 0; i < maps.length; i++) {
      const map = maps[i];
      const mask = masks[i];
      checkScoreArray(`maps[${i}]`, map);
      checkLabelArray(`masks[${i}]`, mask);
      checkSameLength(`maps[${i}]`, map.length, `masks[${i}]`, mask.length);
      entries.push({ map, mask, mapName: `maps[${i}]`, maskName: `masks[${i}]` });
    }
    return entries;
  }
  checkScoreArray('maps', maps);
  checkLabelArray('masks', masks);
  checkNonEmpty('maps', maps.length);
  if (isList(masks)) throw new InvalidArgumentError('masks', 'a flat 0/1 array, like maps', 'a list of arrays');
  checkSameLength('maps', maps.length, 'masks', masks.length);
  return [{ map: maps, mask: masks, mapName: 'maps', maskName: 'masks' }];
}

/** `'float32'` when every map is a Float32Array (no rounding needed), else `'float64'`. */
export function exactPrecision(entries: readonly MapEntry[]): ScorePrecision {
  return entries.every((e) => e.map instanceof Float32Array) ? 'float32' : 'float64';
}
