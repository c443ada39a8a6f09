#!/usr/bin/env node
/**
 * The `ckaad` command line (package.json "bin"). Subcommands live in src/cli/commands/;
 * `ckaad --help` lists them, `ckaad <command> --help` their options.
 *
 * The first Ctrl-C (or SIGTERM) asks the running command to stop cleanly: training stops after
 * the current step (writing a checkpoint when --checkpoint-dir is set), scoring after the
 * current batch, and nothing half-written replaces earlier outputs. A second Ctrl-C quits at once.
 */

import * as tf from '@tensorflow/tfjs-core';

import { EXIT } from './errors.js';
import { log, processIo } from './io.js';
import { run } from './program.js';

// tfjs' advice to install tfjs-node (printed when the cpu backend is first used) is noise
// here: `--backend` documents the choices.
tf.env().set('PROD', true);

const io = processIo();
const controller = new AbortController();
const onSignal = () => {
  if (controller.signal.aborted) process.exit(EXIT.interrupted);
  log(io, '\nckaad: stopping after the current step… (press Ctrl-C again to quit at once)');
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await run(process.argv.slice(2), { io, signal: controller.signal });
