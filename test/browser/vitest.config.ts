// `npm run test:browser`: the tests in headless Chromium (test/browser/*.browser.ts). They take
// minutes (npm pack + install, three bundlers, training in the page, webgl on a software GPU),
// so `npm test` does not run them; CI runs both. Otherwise the suite's settings.
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

import base from '../../vitest.config.js';

export default defineConfig({
  ...base,
  // The web page's modules import `ckaad` as a user would; here, as in tsconfig.json's paths, that is src/.
  resolve: { alias: [{ find: /^ckaad$/, replacement: fileURLToPath(new URL('../../src/index.ts', import.meta.url)) }] },
  test: { ...base.test, include: ['test/browser/**/*.browser.ts'], fileParallelism: false },
});
