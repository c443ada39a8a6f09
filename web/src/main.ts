/**
 * The page: forms, pickers and drawing. The training worker (worker.ts) does the work; this file
 * sends it requests and shows its replies.
 */

import { compose, drawLosses } from './draw.js';
import type { LossPoint } from './draw.js';
import type { BackendChoice, ModelSummary, Picture, Reply, Request, SetName, StepProgress, TrainSettings } from './protocol.js';

function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

// -----------------------------------------------------------------------------------------
// Messages

function message(kind: 'error' | 'note', text: string): void {
  const box = document.createElement('div');
  box.className = `message ${kind}`;
  const span = document.createElement('span');
  span.textContent = text;
  const close = document.createElement('button');
  close.textContent = '×';
  close.title = 'dismiss';
  close.addEventListener('click', () => box.remove());
  box.append(span, close);
  $('messages').append(box);
}

function clearMessages(): void {
  $('messages').replaceChildren();
}

window.addEventListener('error', (event) => message('error', `Unexpected error: ${event.message}`));
window.addEventListener('unhandledrejection', (event) => message('error', `Unexpected error: ${(event.reason as Error)?.message ?? String(event.reason)}`));

// -----------------------------------------------------------------------------------------
// The worker

let worker: Worker;
let busy = false;

function send(request: Request): void {
  worker.postMessage(request);
}

function startWorker(backend: BackendChoice): void {
  worker?.terminate();
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<Reply>) => onReply(event.data);
  worker.onerror = (event) => message('error', `The worker failed: ${event.message}`);
  $('backend').textContent = 'starting…';
  model = null;
  results = null;
  renderModel();
  renderResults();
  send({ type: 'init', backend });
}

// -----------------------------------------------------------------------------------------
// State shown by the page

let model: ModelSummary | null = null;
let results: { scores: number[]; maps: Float32Array; size: number; names: string[]; pictures: Picture[] } | null = null;
let losses: LossPoint[] = [];
let totalSteps = 0;
const counts: Record<SetName, number> = { normal: 0, defective: 0, test: 0 };

function setBusy(on: boolean, phase = ''): void {
  busy = on;
  $('phase').textContent = phase;
  for (const id of ['train', 'sample']) $<HTMLButtonElement>(id).disabled = on;
  $<HTMLButtonElement>('stop').disabled = !on;
  $<HTMLButtonElement>('download').disabled = on || model === null;
}

function onReply(reply: Reply): void {
  switch (reply.type) {
    case 'ready': {
      const threads = reply.backend === 'wasm' && reply.wasmThreads !== null ? `, ${reply.wasmThreads} thread${reply.wasmThreads === 1 ? '' : 's'}` : '';
      $('backend').textContent = `computing on ${reply.backend}${threads}`;
      $('backend').dataset.backend = reply.backend;
      $('backend').dataset.threads = String(reply.wasmThreads ?? '');
      $('backend').title = [`cross-origin isolated: ${reply.crossOriginIsolated}`, ...reply.notes].join('; ');
      return;
    }
    case 'set':
      counts[reply.set] = reply.count;
      $(`count-${reply.set}`).textContent = reply.count === 0 ? 'none' : `${reply.count} image${reply.count === 1 ? '' : 's'}`;
      for (const note of reply.notes) message('note', note);
      if (reply.set === 'test' && model !== null && reply.count > 0 && !busy) {
        setBusy(true, 'Scoring…');
        send({ type: 'score' });
      }
      return;
    case 'phase':
      $('phase').textContent = reply.text;
      return;
    case 'progress':
      showProgress(reply.progress);
      return;
    case 'trained':
      model = reply.model;
      renderModel();
      $('phase').textContent = `${reply.status === 'aborted' ? 'Stopped' : 'Trained'} in ${reply.seconds.toFixed(1)} s.`;
      if (reply.status === 'aborted') message('note', `Training stopped after step ${reply.steps} of ${reply.totalSteps}; the model is the one of that step.`);
      if (counts.test === 0) setBusy(false, $('phase').textContent ?? '');
      return;
    case 'model':
      model = reply.model;
      renderModel();
      message('note', `Loaded the model (${model.strategy}, ${model.arch}, ${model.imageSize}×${model.imageSize}).`);
      if (counts.test === 0) setBusy(false);
      return;
    case 'scores':
      results = reply;
      setBusy(false, `Scored ${reply.scores.length} images in ${reply.seconds.toFixed(1)} s.`);
      setThresholdRange();
      renderResults();
      return;
    case 'saved':
      void download(reply.files);
      return;
    case 'error':
      message('error', `Error while ${reply.while}: ${reply.message}`);
      setBusy(false);
      return;
  }
}

// -----------------------------------------------------------------------------------------
// Images

function sendImages(set: SetName, files: File[]): void {
  if (files.length === 0) return;
  send({ type: 'images', set, files });
}

/** Every file under a dropped entry (folders recursively). */
async function entryFiles(entry: FileSystemEntry): Promise<File[]> {
  if (entry.isFile) {
    return [await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject))];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const children: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    children.push(...batch);
  }
  return (await Promise.all(children.map(entryFiles))).flat();
}

for (const zone of Array.from(document.querySelectorAll<HTMLElement>('.set'))) {
  const set = zone.dataset.set as SetName;
  for (const id of [`pick-${set}`, `folder-${set}`]) {
    const input = $<HTMLInputElement>(id);
    input.addEventListener('change', () => {
      // A folder may hold other files; the worker skips them and says so, but hidden ones (.DS_Store) silently.
      sendImages(set, Array.from(input.files ?? []).filter((f) => !f.name.startsWith('.')));
      input.value = '';
    });
  }
  zone.addEventListener('dragover', (event: DragEvent) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event: DragEvent) => {
    event.preventDefault();
    zone.classList.remove('over');
    const entries = Array.from(event.dataTransfer?.items ?? []).map((item) => item.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
    void Promise.all(entries.map(entryFiles)).then((lists) => sendImages(set, lists.flat().filter((f) => !f.name.startsWith('.'))));
  });
}

$('sample').addEventListener('click', () => {
  clearMessages();
  send({ type: 'sample' });
  // The sample is small and 64×64: train it in seconds.
  $<HTMLInputElement>('size').value = '64';
  $<HTMLInputElement>('batch').value = '8';
});

// -----------------------------------------------------------------------------------------
// Training

function intValue(id: string, label: string, min: number, max: number): number {
  const value = Number($<HTMLInputElement>(id).value);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${label} must be a whole number from ${min} to ${max} (got “${$<HTMLInputElement>(id).value}”).`);
  return value;
}

function settings(): TrainSettings {
  return {
    strategy: $<HTMLSelectElement>('strategy').value,
    arch: $<HTMLSelectElement>('arch').value as TrainSettings['arch'],
    imageSize: intValue('size', 'Image size', 32, 512),
    epochs: intValue('epochs', 'Epochs', 1, 100),
    batchSize: intValue('batch', 'Batch size', 1, 64),
    seed: intValue('seed', 'Seed', 0, 2 ** 31 - 1),
    validation: $<HTMLInputElement>('validation').checked,
  };
}

function weightsFile(): File | null {
  return $<HTMLInputElement>('weights').files?.[0] ?? null;
}

$('weights').addEventListener('change', () => {
  $('weights-warning').hidden = weightsFile() !== null;
});

$('train').addEventListener('click', () => {
  clearMessages();
  let s: TrainSettings;
  try {
    s = settings();
  } catch (err) {
    message('error', (err as Error).message);
    return;
  }
  losses = [];
  totalSteps = 0;
  $<HTMLProgressElement>('progress').value = 0;
  drawLosses($<HTMLCanvasElement>('losses'), losses, 1);
  setBusy(true, 'Starting…');
  send({ type: 'train', settings: s, weights: weightsFile() });
});

$('stop').addEventListener('click', () => send({ type: 'stop' }));

$('backend-choice').addEventListener('change', () => {
  startWorker($<HTMLSelectElement>('backend-choice').value as BackendChoice);
  for (const set of ['normal', 'defective', 'test'] as const) {
    counts[set] = 0;
    $(`count-${set}`).textContent = 'none';
  }
  message('note', 'Switched backend: the images and the model were cleared; add them again.');
});

function seconds(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function showProgress(p: StepProgress): void {
  losses.push({ lRec: p.lRec, lAdv: p.lAdv, lD: p.lD });
  totalSteps = p.totalSteps;
  $<HTMLProgressElement>('progress').value = p.step / p.totalSteps;
  const eta = (p.elapsed / p.step) * (p.totalSteps - p.step);
  $('phase').textContent = `Epoch ${p.epoch} of ${p.epochs}, step ${p.step} of ${p.totalSteps} — ${seconds(p.elapsed)} so far, about ${seconds(eta)} to go`;
  drawLosses($<HTMLCanvasElement>('losses'), losses, totalSteps);
}

// -----------------------------------------------------------------------------------------
// Results

function renderModel(): void {
  $<HTMLButtonElement>('download').disabled = model === null || busy;
  if (model === null) {
    $('model-line').textContent = 'No model yet.';
    return;
  }
  const threshold = model.threshold === null ? 'no validation threshold: set it with the slider' : `validation threshold ${model.threshold.toPrecision(4)}`;
  const auroc = model.validationAuroc === null ? '' : `, validation AUROC ${model.validationAuroc.toFixed(3)}`;
  $('model-line').textContent = `Model (${model.origin}): ${model.strategy}, ${model.arch} {${model.layers.join(', ')}}, ${model.imageSize}×${model.imageSize}, weights ${model.weights}; ${threshold}${auroc}.`;
}

function setThresholdRange(): void {
  if (results === null) return;
  const slider = $<HTMLInputElement>('threshold');
  const lo = Math.min(...results.scores);
  const hi = Math.max(...results.scores);
  const t = model?.threshold ?? (lo + hi) / 2;
  const min = Math.min(lo, t);
  const max = Math.max(hi, t);
  const margin = (max - min) * 0.05 || Math.abs(max) * 0.05 || 1;
  slider.min = String(min - margin);
  slider.max = String(max + margin);
  slider.step = String((max - min + 2 * margin) / 1000);
  slider.value = String(t);
  slider.disabled = false;
}

function threshold(): number {
  return Number($<HTMLInputElement>('threshold').value);
}

function canvasOf(image: ImageData, label: string): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')?.putImageData(image, 0, 0);
  canvas.setAttribute('aria-label', label);
  return canvas;
}

function renderResults(): void {
  const gallery = $('gallery');
  gallery.replaceChildren();
  if (results === null) {
    $('flagged').textContent = '–';
    $('threshold-value').textContent = '–';
    return;
  }
  const r = results;
  const t = threshold();
  const side = $<HTMLInputElement>('side').checked;
  const overlay = $<HTMLInputElement>('overlay').checked;
  const order = r.scores.map((_, i) => i);
  const sort = $<HTMLSelectElement>('sort').value;
  if (sort === 'desc') order.sort((a, b) => r.scores[b] - r.scores[a]);
  else if (sort === 'asc') order.sort((a, b) => r.scores[a] - r.scores[b]);
  else order.sort((a, b) => r.names[a].localeCompare(r.names[b]));
  const pixels = r.size * r.size;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of r.maps) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = [lo, hi] as const;
  gallery.classList.toggle('side', side);
  let flagged = 0;
  for (const i of order) {
    const isFlagged = r.scores[i] >= t;
    if (isFlagged) flagged++;
    const card = document.createElement('figure');
    card.className = `card${isFlagged ? ' flagged' : ''}`;
    card.dataset.name = r.names[i];
    card.dataset.score = String(r.scores[i]);
    const map = r.maps.subarray(i * pixels, (i + 1) * pixels);
    const views = document.createElement('div');
    views.className = 'views';
    if (side) {
      views.append(canvasOf(compose(r.pictures[i].rgba, map, scale, 'image'), 'image'), canvasOf(compose(r.pictures[i].rgba, map, scale, 'map'), 'heat map'));
    } else {
      views.append(canvasOf(compose(r.pictures[i].rgba, map, scale, overlay ? 'overlay' : 'image'), overlay ? 'heat map over the image' : 'image'));
    }
    const label = document.createElement('figcaption');
    label.className = 'label';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = r.names[i];
    name.title = r.names[i];
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = `${r.scores[i].toPrecision(4)}${isFlagged ? ' ⚠' : ''}`;
    label.append(name, score);
    card.append(views, label);
    gallery.append(card);
  }
  $('threshold-value').textContent = t.toPrecision(4);
  $('flagged').textContent = `flags ${flagged} of ${r.scores.length}`;
}

for (const id of ['threshold', 'overlay', 'side', 'sort']) $(id).addEventListener('input', renderResults);

// -----------------------------------------------------------------------------------------
// Model files

/** The File System Access API's folder picker (Chromium), where the browser has it. */
interface DirectoryPickerWindow {
  showDirectoryPicker?: (options?: { mode?: 'readwrite' }) => Promise<{
    getFileHandle(name: string, options: { create: boolean }): Promise<{ createWritable(): Promise<{ write(data: Uint8Array): Promise<void>; close(): Promise<void> }> }>;
    name: string;
  }>;
}

async function download(files: Record<string, Uint8Array>): Promise<void> {
  const picker = (window as DirectoryPickerWindow).showDirectoryPicker;
  if (picker !== undefined) {
    try {
      const folder = await picker({ mode: 'readwrite' });
      // Each file is written to a temporary file the browser swaps in on close().
      for (const [name, bytes] of Object.entries(files)) {
        const writable = await (await folder.getFileHandle(name, { create: true })).createWritable();
        await writable.write(bytes);
        await writable.close();
      }
      message('note', `Saved ${Object.keys(files).join(' and ')} into the folder ${folder.name}.`);
      return;
    } catch (err) {
      if ((err as Error).name === 'AbortError') return; // the user closed the picker
      message('note', `Could not write into a folder (${(err as Error).message}); downloading the files instead.`);
    }
  }
  for (const [name, bytes] of Object.entries(files)) {
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
  message('note', `Downloaded ${Object.keys(files).join(' and ')}: put them in one folder to use it with \`ckaad score --model <folder>\`.`);
}

$('download').addEventListener('click', () => send({ type: 'save' }));

for (const id of ['load-files', 'load-folder']) {
  const input = $<HTMLInputElement>(id);
  input.addEventListener('change', () => {
    const picked = Array.from(input.files ?? []).filter((f) => f.name === 'model.json' || f.name === 'autoencoder.safetensors');
    input.value = '';
    if (picked.length === 0) {
      message('error', 'Pick model.json and autoencoder.safetensors (the files “Download the model” or `ckaad train` wrote), or their folder.');
      return;
    }
    void Promise.all(picked.map(async (f) => [f.name, new Uint8Array(await f.arrayBuffer())] as const)).then((entries) => {
      clearMessages();
      setBusy(true, 'Loading the model…');
      send({ type: 'load-model', files: Object.fromEntries(entries), weights: weightsFile() });
    });
  });
}

// -----------------------------------------------------------------------------------------

drawLosses($<HTMLCanvasElement>('losses'), [], 1);
startWorker('auto');
document.body.dataset.ready = 'true';
