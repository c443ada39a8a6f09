// The web page (web/, `npm run web`) in headless Chromium, as a user drives it: build it, serve it
// cross-origin isolated, click the sample, train a tiny model in the page's worker, score; then
// download the model and load it back; then bad input. Asserts no console errors, a score and
// non-empty heat maps per test image, identical scores after download → upload, and a clear
// message for each bad input with the page still working; and `ckaad score` in Node gives the
// page's scores with the downloaded model. Saves a screenshot
// (test/browser/artifacts/web-page.png; docs/web-screenshot.png is a copy of one).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import sharp from 'sharp';

import { buildWeb, type WebBuild } from '../../web/build.js';
import { sampleSets } from '../../web/src/sample.js';
import { serveFolder, type StaticServer } from '../../web/server.js';
import { launchChromium, type Chromium } from './chromium.js';
import { ensureFreshDist } from '../fresh-dist.js';
import { sh } from '../processes.js';
import { ROOT } from './consumer-project.js';

const MINUTE = 60_000;
const here = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(here, 'artifacts');

let work = '';
let downloads = '';
let built: WebBuild;
let server: StaticServer;
let chromium: Chromium;
let page: Page;

function log(line: string): void {
  console.log(`[web] ${line}`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ckaad-web-'));
  downloads = join(work, 'downloads');
  mkdirSync(downloads);
  const started = performance.now();
  built = await buildWeb(join(work, 'site'));
  log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s: ${Object.entries(built.jsBytes).map(([f, b]) => `${f} ${(b / 1024).toFixed(0)} KiB`).join(', ')}`);
  server = await serveFolder(built.dir, { isolated: true });
  chromium = await launchChromium();
  page = await chromium.open(server.url, async (p) => {
    // The download goes the two-file way (the folder picker would wait for a person).
    await p.evaluateOnNewDocument(() => {
      delete (window as { showDirectoryPicker?: unknown }).showDirectoryPicker;
    });
    const cdp = await p.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  });
  await page.setViewport({ width: 1280, height: 900 });
}, 5 * MINUTE);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** The scores the gallery shows, by image name. */
async function shownScores(): Promise<Record<string, number>> {
  return page.$$eval('#gallery .card', (cards) => Object.fromEntries(cards.map((c) => [(c as HTMLElement).dataset.name ?? '', Number((c as HTMLElement).dataset.score)])));
}

async function messages(kind: 'error' | 'note'): Promise<string[]> {
  return page.$$eval(`#messages .message.${kind} span`, (spans) => spans.map((s) => s.textContent ?? ''));
}

async function waitForPhase(pattern: RegExp, timeout: number): Promise<void> {
  await page.waitForFunction((source) => new RegExp(source).test(document.getElementById('phase')?.textContent ?? ''), { timeout, polling: 250 }, pattern.source);
}

async function setValue(id: string, value: string): Promise<void> {
  await page.$eval(`#${id}`, (input, v) => {
    (input as HTMLInputElement).value = v;
  }, value);
}

describe('the web page', () => {
  it('builds with no warnings', () => {
    expect(built.warnings).toEqual([]);
    expect(Object.keys(built.jsBytes).sort()).toEqual(['main.js', 'worker.js']);
  });

  it('trains on the sample in its worker, scores every test image with a heat map, and flags by the validation threshold', async () => {
    const started = performance.now();
    await page.waitForFunction(() => document.getElementById('backend')?.dataset.backend !== undefined, { timeout: 2 * MINUTE });
    const backend = await page.$eval('#backend', (b) => ({ name: (b as HTMLElement).dataset.backend, threads: (b as HTMLElement).dataset.threads, text: b.textContent }));
    // No GPU in this Chromium (--disable-gpu): webgpu and webgl cannot start, so the best is wasm,
    // multi-threaded on the cross-origin-isolated page.
    expect(backend.name).toBe('wasm');
    expect(Number(backend.threads)).toBeGreaterThan(1);

    await page.click('#sample');
    await page.waitForFunction(() => document.getElementById('count-test')?.textContent === '16 images', { timeout: MINUTE });
    expect(await page.$eval('#count-normal', (e) => e.textContent)).toBe('32 images');
    expect(await page.$eval('#count-defective', (e) => e.textContent)).toBe('8 images');
    await setValue('epochs', '1'); // 24 normal images for training in batches of 8: 3 steps
    await page.click('#train');
    await waitForPhase(/^Scored 16 images/, 15 * MINUTE);
    const seconds = (performance.now() - started) / 1000;

    const scores = await shownScores();
    expect(Object.keys(scores)).toHaveLength(16);
    for (const s of Object.values(scores)) expect(Number.isFinite(s)).toBe(true);
    expect(new Set(Object.values(scores)).size).toBeGreaterThan(1);
    // Every heat-map canvas has content: not one flat colour.
    const flat = await page.$$eval('#gallery canvas', (canvases) =>
      canvases.filter((c) => {
        const canvas = c as HTMLCanvasElement;
        const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
        for (let i = 4; i < data.length; i += 4) if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) return false;
        return true;
      }).length,
    );
    expect(await page.$$eval('#gallery canvas', (c) => c.length)).toBe(16);
    expect(flat).toBe(0);
    // The model line and the slider carry the validation threshold; the badge counts what it flags.
    const line = await page.$eval('#model-line', (e) => e.textContent ?? '');
    expect(line).toMatch(/validation threshold/);
    const threshold = Number(await page.$eval('#threshold', (e) => (e as HTMLInputElement).value));
    const flagged = Object.values(scores).filter((s) => s >= threshold).length;
    expect(await page.$eval('#flagged', (e) => e.textContent)).toBe(`flags ${flagged} of 16`);
    // Sorted by score, highest first.
    const order = await page.$$eval('#gallery .card', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.score)));
    expect(order).toEqual([...order].sort((a, b) => b - a));
    expect(chromium.errors).toEqual([]);

    // Side by side: two canvases per image.
    await page.click('#side');
    expect(await page.$$eval('#gallery .card', (cards) => cards.every((c) => c.querySelectorAll('canvas').length === 2))).toBe(true);
    await page.click('#side');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'web-page.png'), fullPage: true });
    const progress = await page.$eval('#phase', (e) => e.textContent);
    log(`backend ${backend.text}; sample → trained and scored in ${seconds.toFixed(1)} s (${progress}); ${flagged} of 16 flagged`);
  }, 20 * MINUTE);

  it('downloads the model as model.json + autoencoder.safetensors, and loading them back gives identical scores', async () => {
    const before = await shownScores();
    await page.click('#download');
    const files = ['model.json', 'autoencoder.safetensors'].map((f) => join(downloads, f));
    await expect
      .poll(() => files.every((f) => existsSync(f) && statSync(f).size > 0) && readdirSync(downloads).every((f) => !f.endsWith('.crdownload')), { timeout: MINUTE, interval: 250 })
      .toBe(true);
    await page.$eval('#messages', (m) => m.replaceChildren());
    const input = await page.$('#load-files');
    await (input as unknown as { uploadFile(...paths: string[]): Promise<void> }).uploadFile(...files);
    await page.waitForFunction(() => /Model \(loaded\)/.test(document.getElementById('model-line')?.textContent ?? ''), { timeout: 2 * MINUTE });
    await waitForPhase(/^Scored 16 images/, 5 * MINUTE);
    expect(await shownScores()).toEqual(before);
    expect(await messages('error')).toEqual([]);
    expect(chromium.errors).toEqual([]);
  }, 10 * MINUTE);

  it('`ckaad score` in Node scores the sample with the downloaded model exactly as the page did', async () => {
    await ensureFreshDist();
    const pageScores = await shownScores();
    const images = join(work, 'sample-test');
    mkdirSync(images);
    for (const { name, image } of sampleSets().test) {
      await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } }).png().toFile(join(images, name));
    }
    const stdout = await sh(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'score', '--model', downloads, images, '--json', '--out', join(work, 'scored')], ROOT);
    const result = JSON.parse(stdout) as { images: Array<{ name: string; score: number }> };
    // The CLI names an image by its path under the folder given, without the extension.
    const nodeScores = Object.fromEntries(result.images.map((i) => [`${i.name.split('/').pop()}.png`, i.score]));
    expect(nodeScores).toEqual(pageScores); // wasm in both, the same pixels: bit for bit
  }, 10 * MINUTE);

  it('says what is wrong with bad input, and keeps working', async () => {
    // Unreadable and mixed-size images.
    const bad = join(work, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'broken.png'), 'not a png');
    writeFileSync(join(bad, 'notes.txt'), 'hello');
    await page.$eval('#messages', (m) => m.replaceChildren());
    const picker = await page.$('#pick-normal');
    await (picker as unknown as { uploadFile(...paths: string[]): Promise<void> }).uploadFile(join(bad, 'broken.png'), join(bad, 'notes.txt'));
    await page.waitForFunction(() => document.querySelectorAll('#messages .message').length >= 2, { timeout: MINUTE });
    const notes = await messages('note');
    expect(notes.some((n) => /Could not read 1 image\(s\).*broken\.png/.test(n))).toBe(true);
    expect(notes.some((n) => /not images: notes\.txt/.test(n))).toBe(true);
    expect(await page.$eval('#count-normal', (e) => e.textContent)).toBe('none');

    // Images of different sizes are resized, and the page says so.
    await page.$eval('#messages', (m) => m.replaceChildren());
    const pixels = (width: number, height: number) => sharp(Buffer.alloc(width * height * 3, 128), { raw: { width, height, channels: 3 } }).png();
    await pixels(48, 48).toFile(join(bad, 'square.png'));
    await pixels(64, 40).toFile(join(bad, 'wide.png'));
    const defective = await page.$('#pick-defective');
    await (defective as unknown as { uploadFile(...paths: string[]): Promise<void> }).uploadFile(join(bad, 'square.png'), join(bad, 'wide.png'));
    await page.waitForFunction(() => document.getElementById('count-defective')?.textContent === '2 images', { timeout: MINUTE });
    expect(await messages('note')).toEqual([expect.stringMatching(/2 different sizes \(48×48, 64×40\).*resized/)]);

    // Too few images: training says so.
    await page.$eval('#messages', (m) => m.replaceChildren());
    await page.click('#train');
    await page.waitForFunction(() => document.querySelector('#messages .message.error') !== null, { timeout: MINUTE });
    expect((await messages('error'))[0]).toMatch(/Add normal images first/);

    // Weights of another architecture.
    await page.click('#sample');
    await page.waitForFunction(() => document.getElementById('count-normal')?.textContent === '32 images', { timeout: MINUTE });
    const header = JSON.stringify({ 'conv1.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } });
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
    writeFileSync(join(bad, 'other.safetensors'), Buffer.concat([head, Buffer.from(header), Buffer.alloc(16)]));
    const weights = await page.$('#weights');
    await (weights as unknown as { uploadFile(...paths: string[]): Promise<void> }).uploadFile(join(bad, 'other.safetensors'));
    // With a model loaded, new test images are scored at once; training waits for that.
    await page.waitForFunction(() => !(document.getElementById('train') as HTMLButtonElement).disabled, { timeout: MINUTE });
    await page.$eval('#messages', (m) => m.replaceChildren());
    await page.click('#train');
    await page.waitForFunction(() => document.querySelector('#messages .message.error') !== null, { timeout: 2 * MINUTE });
    const error = (await messages('error'))[0];
    expect(error).toMatch(/other\.safetensors/);
    expect(error).toMatch(/conv1\.weight|resnet18/);
    log(`bad weights: ${error.slice(0, 200)}`);

    // The page is still usable: the loaded model's results are there, and it trains again;
    // Stop ends that training after a step, and the stopped model scores the test images.
    expect(await page.$$eval('#gallery .card', (cards) => cards.length)).toBe(16);
    await page.$eval('#weights', (input) => {
      (input as HTMLInputElement).value = '';
    });
    await page.$eval('#messages', (m) => m.replaceChildren());
    await setValue('epochs', '5');
    await page.click('#train');
    await waitForPhase(/step 1 of 15/, 5 * MINUTE);
    await page.click('#stop');
    await waitForPhase(/^Scored 16 images/, 5 * MINUTE);
    expect(await page.$eval('#model-line', (e) => e.textContent)).toMatch(/Model \(trained\)/);
    expect(await messages('note')).toEqual([expect.stringMatching(/^Training stopped after step [1-9]\d* of 15;/)]);
    expect(await messages('error')).toEqual([]);
    expect(chromium.errors).toEqual([]);
  }, 10 * MINUTE);
});
