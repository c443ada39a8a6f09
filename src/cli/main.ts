#!/usr/bin/env node
/**
 * The `ckaad` command line. Subcommands are added in src/cli/commands/.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

const program = new Command()
  .name('ckaad')
  .description('Weakly-supervised visual anomaly detection (CKAAD, AAAI 2025) on TensorFlow.js')
  .version(version);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ckaad: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
