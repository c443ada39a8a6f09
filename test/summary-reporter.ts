import type { Reporter, TestModule } from 'vitest/node';

/** Files listed in the closing "slowest files" line. */
const SLOWEST = 8;

/**
 * Prints the slowest test files (their tests' and hooks' time, to keep `npm test` within its
 * budget) and one plain closing line, `Tests: N passed, N failed, N skipped`, after every run.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const slowest = testModules
      .map((m) => ({ file: m.relativeModuleId, seconds: m.diagnostic().duration / 1000 }))
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, SLOWEST);
    if (testModules.length > 1) {
      process.stdout.write(`\nSlowest files: ${slowest.map((s) => `${s.file} ${s.seconds.toFixed(0)} s`).join(', ')}\n`);
    }
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (mod.state() === 'failed' && mod.children.size === 0) failed++;
    }
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
