/**
 * The messages between the page (main.ts) and the training worker (worker.ts). Everything heavy
 * — decoding images, training, scoring, saving and loading models — happens in the worker, so
 * the page stays responsive; the page only draws.
 */

/** The three image sets of the page. */
export type SetName = 'normal' | 'defective' | 'test';

/** What the user chose to compute on; 'auto' = the best the browser offers. */
export type BackendChoice = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** The training settings of the form. */
export interface TrainSettings {
  /** A name of ckaad's STRATEGIES ('Recon', 'CKAPatch', …). */
  strategy: string;
  epochs: number;
  batchSize: number;
  /** Side of the square images the model works on. */
  imageSize: number;
  arch: 'resnet18' | 'resnet34' | 'resnet50' | 'wide_resnet50_2';
  /** Hold out a quarter of the normal and of the defective images to pick the threshold. */
  validation: boolean;
  seed: number;
}

/** An image as the page draws it: RGBA bytes. */
export interface Picture {
  name: string;
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export type Request =
  | { type: 'init'; backend: BackendChoice }
  | { type: 'sample' }
  | { type: 'images'; set: SetName; files: File[] }
  | { type: 'train'; settings: TrainSettings; weights: File | null }
  | { type: 'score' }
  | { type: 'stop' }
  | { type: 'save' }
  | { type: 'load-model'; files: Record<string, Uint8Array>; weights: File | null };

/** The model the worker holds, as the page describes it. */
export interface ModelSummary {
  strategy: string;
  arch: string;
  layers: string[];
  imageSize: number;
  /** 'random' or the weights file's name. */
  weights: string;
  /** The validation's best-F1 threshold, or null when there was no validation split. */
  threshold: number | null;
  /** Validation AUROC of the kept epoch, or null. */
  validationAuroc: number | null;
  /** 'trained' here, or 'loaded' from files. */
  origin: 'trained' | 'loaded';
}

export interface StepProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  lRec: number;
  lAdv: number;
  lD: number;
  /** Seconds since training started. */
  elapsed: number;
}

export type Reply =
  | { type: 'ready'; backend: string; wasmThreads: number | null; crossOriginIsolated: boolean; notes: string[] }
  | { type: 'set'; set: SetName; count: number; notes: string[] }
  | { type: 'phase'; text: string }
  | { type: 'progress'; progress: StepProgress }
  | { type: 'trained'; model: ModelSummary; seconds: number; status: 'completed' | 'aborted'; steps: number; totalSteps: number }
  | { type: 'scores'; scores: number[]; maps: Float32Array; size: number; names: string[]; pictures: Picture[]; seconds: number }
  | { type: 'saved'; files: Record<string, Uint8Array> }
  | { type: 'model'; model: ModelSummary }
  | { type: 'error'; while: string; message: string };
