/**
 * Evaluation metrics as the paper reports them (docs/reference-implementation.md §7), in pure TypeScript: image AUROC,
 * precision–recall curve, best F1 / ACC, pixel AUROC and AUPRO (streaming, exact), connected
 * components, and the authors' per-image PRO variant.
 */

export type { LabelArray, ScoreArray, ScorePrecision } from './types.js';
export { imageAuroc } from './auroc.js';
export { precisionRecallCurve, bestF1, type PrecisionRecallCurve, type BestF1 } from './pr-curve.js';
export { PixelAurocAccumulator, pixelAuroc, type PixelAurocOptions } from './pixel-auroc.js';
export { connectedComponents, type Components } from './connected-components.js';
export { AuproAccumulator, aupro, type AuproOptions } from './aupro.js';
export { perImagePro, type PerImageProOptions, type PerImageProResult } from './per-image-pro.js';
