import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup-node.ts'],
    // Model tests run real convolutions on the pure-JS backend: allow them time.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 'N passed, N failed' on its own line closes every run (read by CI).
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
  },
});
