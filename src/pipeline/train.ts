/**
 * Training one run, as the command line (`ckaad train`, `ckaad demo`) and the experiment runner
 * both do it, once `loadRunData` has turned its split into the trainer's datasets: fit a
 * {@link CKAADTrainer} with the run's options and callbacks.
 */

import type { ResNetExtractorOptions, ResNetFeatureExtractor } from '../backbone/extractor.js';
import type { TrainingResult } from '../training/history.js';
import type { TrainerOptions } from '../training/options.js';
import { CKAADTrainer } from '../training/trainer.js';
import type { FitCallbacks, TrainingData } from '../training/trainer.js';

/** Options of {@link trainRun}. */
export interface TrainRunOptions extends FitCallbacks {
  /** The run's datasets (see `loadRunData`). */
  data: TrainingData;
  /** The frozen extractor (not owned). */
  extractor: ResNetFeatureExtractor;
  /** The options `extractor` was built with: lets the trainer rebuild it in a feature worker. */
  extractorOptions?: ResNetExtractorOptions;
  /** The trainer's options (strategy, epochs, batch size, seed, checkpoint…). */
  trainer: TrainerOptions;
}

/** What {@link trainRun} returns; `result.autoencoder` belongs to the caller. */
export interface TrainedRun {
  trainer: CKAADTrainer;
  result: TrainingResult;
}

/**
 * Trains one run on `o.data`; `signal` stops it between two steps (the trainer checkpoints
 * and `result.status` is `'aborted'`).
 *
 * @throws the trainer's errors (unusable data, a checkpoint of other options…).
 */
export async function trainRun(o: TrainRunOptions): Promise<TrainedRun> {
  const trainer = new CKAADTrainer({ extractor: o.extractor, extractorOptions: o.extractorOptions }, o.trainer);
  const result = await trainer.fit(o.data, { signal: o.signal, onStep: o.onStep, onEpoch: o.onEpoch });
  return { trainer, result };
}
