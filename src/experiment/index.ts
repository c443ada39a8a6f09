/**
 * Experiments: protocol files, grid expansion, the resumable runner, aggregation into
 * mean ± std tables, and the figures (score histograms, heat-map grids).
 */

export {
  parseProtocol,
  readProtocol,
  PROTOCOL_FORMAT,
  MULTI_CLASS_KINDS,
  CATEGORY_KINDS,
  DEFAULT_GROUP_BY,
  DEFAULT_NORMAL_CLASS,
} from './protocol.js';
export type {
  ExperimentProtocol,
  ResolvedProtocol,
  ResolvedArm,
  ArmSpec,
  DatasetSpec,
  MultiClassDatasetSpec,
  RealCategoryDatasetSpec,
  SyntheticDatasetSpec,
  MultiClassKind,
  CategoryKind,
  LabelledClasses,
  LabelledSetting,
  TrainingSettings,
  ModelSettings,
  ScoringSettings,
  LimitSettings,
  ReportSettings,
  GroupField,
} from './protocol.js';
export { expandGrid, gridTargets, anomalyClassesOf, multiClassClasses, canonicalJson, labelledTag } from './grid.js';
export type { RunSpec, RunSettings } from './grid.js';
export { runExperiment } from './runner.js';
export type { RunExperimentOptions, ExperimentOutcome, ExperimentEvent } from './runner.js';
export {
  aggregateResults,
  formatSummaryMarkdown,
  writeSummary,
  flattenMetrics,
  meanStd,
  groupValue,
  metricLabel,
  SUMMARY_FORMAT,
} from './aggregate.js';
export type { ExperimentSummary, SummaryTable, SummaryRow, MetricSummary, AggregateOptions } from './aggregate.js';
export {
  readRunResults,
  readRunResult,
  readRunScores,
  parseRunResult,
  writeRunResult,
  runDir,
  resultPath,
  RUN_RESULT_FORMAT,
  RUN_SCORES_FORMAT,
} from './results.js';
export type { RunResult, RunScores, RunMetrics, MetricSet } from './results.js';
export { evaluateTestSet, testSubsets, exampleIndices } from './evaluate.js';
export type { Examples, Evaluation, EvaluateOptions } from './evaluate.js';
export { openTestFeatures, testFeatureKey } from './test-features.js';
export { pairedComparisons, formatPairedMarkdown } from './paired.js';
export type { PairedComparison, PairedAuroc, ScoredRun } from './paired.js';
export type { TestFeatures, TestFeatureOptions } from './test-features.js';
export { ExperimentData, derivedSeed, limitPerClass, assertNotInTest } from './data.js';
export type { RunData, TestSet, TestItem, ExperimentDataOptions } from './data.js';
export { memoryPixels, subsetPixels, filePixels, sourceDataset, elasticSourceDataset, decodeToCache } from './pixels.js';
export type { PixelSource, FilePixelSource, DecodedFiles, CacheItem } from './pixels.js';
export {
  writeFigures,
  renderScoreHistograms,
  scoreHistogramSvg,
  renderHeatmapGrid,
  heatmapGridPixels,
  readExamples,
  histogram,
  jetColour,
} from './figures.js';
export type { HistogramPanel, HistogramOptions, ExampleGrid, HeatmapOptions, FigureOptions } from './figures.js';
