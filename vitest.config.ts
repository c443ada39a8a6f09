import { availableParallelism } from 'node:os';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-node.ts'],
    // Model tests run real convolutions on the pure-JS backend: allow them time (a few take
    // 40–90 s on an idle 2-core machine and over 200 s on a busy one).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // 'N passed, N failed' on its own line closes every run (read by CI).
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
    // One test file per core: vitest's default (cores − 1) runs the files one at a time on a
    // 2-core machine, leaving a core idle (the tests are single-threaded wasm).
    maxWorkers: availableParallelism(),
  },
});
