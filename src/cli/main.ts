#!/usr/bin/env node
/**
 * The `ckaad` command line (package.json "bin"). Subcommands live in src/cli/commands/;
 * `ckaad --help` lists them, `ckaad <command> --help` their options.
 *
 * The first Ctrl-C (or SIGTERM) asks the running command to stop cleanly: training stops after
 * the current step (writing a checkpoint when --checkpoint-dir is set), scoring after the
 * current batch, and nothing half-written replaces earlier outputs. A second Ctrl-C quits as
 * soon as no save is in progress (see signals.ts).
 */

import * as tf from '@tensorflow/tfjs-core';

import { processIo } from './io.js';
import { run } from './program.js';
import { signalHandler } from './signals.js';

// tfjs' advice to install tfjs-node (printed when the cpu backend is first used) is noise
// here: `--backend` documents the choices.
tf.env().set('PROD', true);

const io = processIo();
const controller = new AbortController();
const onSignal = signalHandler(io, controller, (code) => process.exit(code));
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await run(process.argv.slice(2), { io, signal: controller.signal });
