/**
 * The main thread's side of the feature worker: starts dist/feature-worker.js in a Node
 * worker thread, hands it the extractor's and the datasets' recipes, and turns its answers
 * into promises, one per request, resolved in request order.
 *
 * The worker script must be the built file (tfjs-core's gradient code and the TypeScript
 * sources cannot be loaded by a plain worker): by default `feature-worker.js` next to the
 * ckaad bundle that is running.
 */

import type { ResNetExtractorOptions } from '../../backbone/extractor.js';
import { BackendError, CkaadError } from '../../errors.js';
import type { DatasetName, DatasetRecipe, FromWorker, ToWorker } from './messages.js';

/** Options of {@link FeatureWorker.start}. */
export interface FeatureWorkerOptions {
  /** Backend of the worker's tfjs engine. */
  backend: 'cpu' | 'wasm';
  /** `createResNetExtractor` options of the frozen extractor. */
  extractor: ResNetExtractorOptions;
  /** Recipes of the datasets the worker serves. */
  datasets: Partial<Record<DatasetName, DatasetRecipe>>;
  /** [H, W] of the images (checked by the worker on every batch). */
  imageSize: [number, number];
  /** Path of the worker script. Default: {@link defaultWorkerFile}. */
  file?: string;
  /**
   * wasm: XNNPACK threads of the worker's backend. Default 1: the worker is a helper on
   * another core while the main thread trains (on every core by default).
   */
  threads?: number;
}

/** The features of one request: one [n·h·w·c] array per layer and its [n, h, w, c] shape. */
export interface WorkerFeatures {
  maps: Float32Array[];
  shapes: number[][];
}

interface Pending {
  resolve: (value: WorkerFeatures) => void;
  reject: (reason: Error) => void;
}

/** Minimal view of node:worker_threads' Worker used here. */
interface NodeWorker {
  postMessage(message: ToWorker): void;
  on(event: 'message', listener: (message: FromWorker) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'exit', listener: (code: number) => void): void;
  terminate(): Promise<number>;
  unref(): void;
}

/**
 * Path of the worker script of the running ckaad bundle (dist/feature-worker.js, next to
 * dist/index.js or one level above dist/cli/main.js), or null when ckaad runs from its
 * TypeScript sources (tests, tsx), where no built worker exists.
 */
export async function defaultWorkerFile(): Promise<string | null> {
  const [{ dirname, join }, { fileURLToPath }, { existsSync }] = await Promise.all([
    import('node:path'),
    import('node:url'),
    import('node:fs'),
  ]);
  // CommonJS build: __filename; ESM build: import.meta.url (empty in the CommonJS build).
  const here = typeof __filename === 'string' ? __filename : typeof import.meta.url === 'string' ? fileURLToPath(import.meta.url) : null;
  if (here === null || !/\.c?js$/.test(here)) return null;
  // dist/index.{js,cjs} sit next to it; the command line's bundle (dist/cli/main.js) one level down.
  const candidates = [join(dirname(here), 'feature-worker.js'), join(dirname(here), '..', 'feature-worker.js')];
  return candidates.find((file) => existsSync(file)) ?? null;
}

/**
 * A worker thread computing feature maps of dataset images.
 *
 * @example
 * ```ts
 * const worker = await FeatureWorker.start({ backend: 'wasm', extractor: { arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'r18.safetensors' },
 *   datasets: { anomalies: { kind: 'elastic', stack, options: { seed: 0 } } }, imageSize: [256, 256] });
 * const { maps, shapes } = await worker.request('anomalies', [0, 1, 2, 3]);
 * await worker.close();
 * ```
 */
export class FeatureWorker {
  /** The backend the worker runs on. */
  readonly backend: string;
  private readonly worker: NodeWorker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;

  private constructor(worker: NodeWorker, backend: string) {
    this.worker = worker;
    this.backend = backend;
    worker.on('message', (message) => this.receive(message));
    worker.on('error', (error) => this.fail(new BackendError(`The feature worker failed: ${error.message}`)));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new BackendError(`The feature worker exited unexpectedly (code ${code}).`));
    });
  }

  /**
   * Starts the worker and waits until it has built its backend, extractor and datasets.
   *
   * @throws BackendError if no worker script is found or the worker fails to initialise
   *   (the message carries the worker's error).
   */
  static async start(options: FeatureWorkerOptions): Promise<FeatureWorker> {
    const file = options.file ?? (await defaultWorkerFile());
    if (file === null) {
      throw new BackendError('No feature worker script: run ckaad from its built package (dist/feature-worker.js), or pass its path.');
    }
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(file) as unknown as NodeWorker;
    const backend = await new Promise<string>((resolve, reject) => {
      const onInit = (message: FromWorker): void => {
        if (message.type === 'ready') resolve(message.backend);
        else if (message.type === 'error') reject(new BackendError(`The feature worker could not start: ${message.name}: ${message.message}`));
      };
      worker.on('message', onInit);
      worker.on('error', (error) => reject(new BackendError(`The feature worker could not start: ${error.message}`)));
      worker.on('exit', (code) => reject(new BackendError(`The feature worker exited while starting (code ${code}).`)));
      worker.postMessage({
        type: 'init',
        backend: options.backend,
        threads: options.threads ?? 1,
        extractor: options.extractor,
        datasets: options.datasets,
        imageSize: options.imageSize,
      });
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return new FeatureWorker(worker, backend);
  }

  /**
   * The feature maps of images `indices` of dataset `dataset` (in draw `key`, for random
   * datasets: see `ImageDataset.batch`), computed in the worker. Requests are served in the
   * order they are made.
   */
  request(dataset: DatasetName, indices: readonly number[], key?: number): Promise<WorkerFeatures> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new CkaadError('internal', 'The feature worker is closed.'));
    const id = this.nextId++;
    return new Promise<WorkerFeatures>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'features', id, dataset, indices: [...indices], key: key ?? null });
    });
  }

  /** Stops the worker (pending requests are rejected). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new CkaadError('internal', 'The feature worker was closed.'));
    this.pending.clear();
    await this.worker.terminate();
  }

  private receive(message: FromWorker): void {
    if (message.type === 'ready') return;
    const id = message.id;
    const entry = id === null ? undefined : this.pending.get(id);
    if (message.type === 'error') {
      const error = new BackendError(`The feature worker failed: ${message.name}: ${message.message}`);
      if (entry === undefined) this.fail(error);
      else {
        this.pending.delete(id as number);
        entry.reject(error);
      }
      return;
    }
    if (entry === undefined) return;
    this.pending.delete(message.id);
    entry.resolve({ maps: message.maps, shapes: message.shapes });
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }
}
