/**
 * Debian's headless Chromium, driven by puppeteer-core (which never downloads a browser). Each
 * launch gets a fresh profile folder, no network service besides the pages the test opens, and
 * either no GPU or SwiftShader's software WebGL.
 */

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';

/** Where Debian's `chromium` package puts the browser (`apt-get install chromium`). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A running browser and what its pages printed. */
export interface Chromium {
  browser: Browser;
  /**
   * Opens a page whose console errors and uncaught exceptions are collected in `errors`;
   * `prepare` runs on the new page before it loads `url` (e.g. evaluateOnNewDocument).
   */
  open(url: string, prepare?: (page: Page) => Promise<void>): Promise<Page>;
  /** Console errors, failed requests and uncaught exceptions of every page opened so far. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Launches headless Chromium. `webgl`: software WebGL through SwiftShader instead of no GPU.
 * Fails (never skips) when the browser is missing, naming the package to install.
 */
export async function launchChromium(options: { webgl?: boolean } = {}): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  const profile = mkdtempSync(join(tmpdir(), 'ckaad-chromium-'));
  const gpu = options.webgl ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : ['--disable-gpu'];
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    protocolTimeout: 900_000, // training on a software GPU is slow; the tests set their own limits
    userDataDir: profile,
    args: [
      '--no-sandbox',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...gpu,
    ],
  });
  const errors: string[] = [];
  return {
    browser,
    errors,
    async open(url, prepare) {
      const page = await browser.newPage();
      await prepare?.(page);
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${(error as Error).message ?? String(error)}`));
      page.on('requestfailed', (request) => errors.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`));
      page.on('response', (response) => {
        if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`);
      });
      await page.goto(url, { waitUntil: 'load' });
      return page;
    },
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
