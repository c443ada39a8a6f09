/**
 * `ckaad/node`: everything of ckaad that needs Node.js — the readers of the paper's dataset
 * layouts (MVTec AD, VisA, the medical sets, IDX files, plain folders), image decoding with
 * sharp (PNG, JPEG, TIFF, BMP), model and checkpoint folders, the synthetic defect set on disk,
 * and the experiment runner. Loading it also gives ckaad's core the Node platform: file paths
 * wherever the core takes bytes, checkpoint folders, the feature worker thread, spill files.
 *
 * @packageDocumentation
 */

import { installNodePlatform } from './platform.js';

installNodePlatform();

// --- dataset readers ---
export { readMvtec, MVTEC_AD_CATEGORIES } from './readers/mvtec.js';
export type { MvtecOptions } from './readers/mvtec.js';
export { readVisa, VISA_CATEGORIES } from './readers/visa.js';
export type { VisaOptions } from './readers/visa.js';
export { readChestXray, CHEST_XRAY_CLASSES } from './readers/chest-xray.js';
export type { ChestXrayOptions } from './readers/chest-xray.js';
export { readOct2017, OCT2017_CLASSES } from './readers/oct.js';
export type { Oct2017Options } from './readers/oct.js';
export { readBr35h, BR35H_CLASSES } from './readers/br35h.js';
export type { Br35hOptions } from './readers/br35h.js';
export { readIsic2018, ISIC2018_CLASSES } from './readers/isic.js';
export type { Isic2018Options } from './readers/isic.js';
export { readIdxDataset, idxPixels, FASHION_MNIST_CLASSES, MNIST_CLASSES } from './readers/idx.js';
export type { IdxDataset, IdxDatasetOptions, IdxImages, IdxSample } from './readers/idx.js';
export { readFolderDataset } from './readers/folder.js';
export { readClassFolders } from './readers/class-folders.js';
export type { ClassFoldersOptions } from './readers/class-folders.js';
export { verifyDataset } from './readers/verify.js';
export type { DatasetProblem, VerifyReport } from './readers/verify.js';
export type { DatasetDescription, ImageSample } from '../data/labelled.js';

// --- images ---
export { decodeImage, decodeMask } from './images.js';
export type { ImageSource, ImageFormat, DecodedPixels, DecodeImageOptions, DecodeMaskOptions } from './images.js';
export { decodeStream, batchStream, loadImages } from './stream.js';
export type { StreamSource, DecodeStreamOptions, DecodedItem, SkippedImage, DecodeSummary, PixelBatch } from './stream.js';

// --- files ---
export { modelFolder, checkpointFolder } from './folders.js';
export type { ModelFolderOptions } from './folders.js';
export { writeSafetensors } from './safetensors-file.js';
export { sha256File } from './platform.js';
export { generateSyntheticDefects } from './synthetic-writer.js';
export type { SyntheticOptions, SyntheticSummary } from './synthetic-writer.js';

// --- experiments ---
export { readProtocol, parseProtocol } from '../experiment/protocol.js';
export type { ExperimentProtocol, ResolvedProtocol } from '../experiment/protocol.js';
export { runExperiment } from '../experiment/runner.js';
export type { RunExperimentOptions, ExperimentOutcome, ExperimentEvent } from '../experiment/runner.js';
export { expandGrid } from '../experiment/grid.js';
export type { RunSpec } from '../experiment/grid.js';
export { aggregateResults, formatSummaryMarkdown, writeSummary } from '../experiment/aggregate.js';
export type { ExperimentSummary } from '../experiment/aggregate.js';
export { readRunResults, readRunScores } from '../experiment/results.js';
export type { RunResult, RunScores } from '../experiment/results.js';
export { pairedComparisons, formatPairedMarkdown } from '../experiment/paired.js';
export { writeFigures } from '../experiment/figures.js';
