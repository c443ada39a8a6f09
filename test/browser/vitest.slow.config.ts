// `npm run test:browser`: the browser tests too slow for `npm test` (test/browser/*.slow.ts),
// with the suite's settings otherwise.
import { defineConfig } from 'vitest/config';

import base from '../../vitest.config.js';

export default defineConfig({ ...base, test: { ...base.test, include: ['test/browser/**/*.slow.ts'] } });
