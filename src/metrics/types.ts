/**
 * Input types shared by the metrics (pure TypeScript, no tensors): scores are real numbers,
 * labels and masks are 0/1 (or booleans). Get them from a tensor with `await t.data()`.
 */

/** Anomaly scores: one number per image or per pixel. Must be finite. */
export type ScoreArray = Float32Array | Float64Array | readonly number[];

/**
 * Binary ground truth: one 0/1 value (or boolean) per image or per pixel; 1 / `true` marks an
 * anomaly. Any array-like works: `Uint8Array`, `Int32Array`, `Float32Array`, `number[]`,
 * `boolean[]`; every value must be exactly 0 or 1.
 */
export type LabelArray = ArrayLike<number> | ArrayLike<boolean>;

/**
 * How pixel scores are stored by the streaming accumulators.
 * - `'float32'`: 4 bytes per pixel. Exact for `Float32Array` maps (what the scoring code
 *   produces); a float64 score is rounded to the nearest float32 first, which can merge two
 *   scores closer than float32 resolution into a tie.
 * - `'float64'`: 8 bytes per pixel, exact for any input.
 */
export type ScorePrecision = 'float32' | 'float64';
