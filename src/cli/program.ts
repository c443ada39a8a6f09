/**
 * The `ckaad` program: its subcommands, and {@link run}, which parses a command line, runs it
 * and turns every outcome into an exit code and at most one line on stderr (see
 * {@link EXIT}). Nothing here calls `process.exit`, so tests run commands in-process.
 */

import { installNodePlatform } from '../node/platform.js';
import { Command, CommanderError } from 'commander';

import packageJson from '../../package.json' with { type: 'json' };
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerExperiment } from './commands/experiment.js';
import { registerScore } from './commands/score.js';
import { registerTrain } from './commands/train.js';
import type { CommandContext } from './context.js';
import { EXIT, exitCodeFor, oneLine } from './errors.js';

const EXIT_HELP = `
Exit codes: 0 success · 1 bad input (missing/empty/corrupt file or folder, weights for another
architecture, options the dataset cannot satisfy) · 2 bad command line (unknown or malformed
option) · 3 internal error (set CKAAD_DEBUG=1 for the stack) · 130 interrupted (Ctrl-C).
Failures print one line "ckaad: error: …" on stderr; earlier outputs are never left half-replaced.

Quick start (offline, a few minutes on 2 cores; about 85 s of CPU time):  npx ckaad demo
Real use needs ImageNet weights for the backbone (--weights model.safetensors), e.g. from
huggingface.co/timm/resnet18.tv_in1k or huggingface.co/timm/wide_resnet50_2.tv_in1k.`;

/** Builds the program; commands write through `ctx.io` and stop on `ctx.signal`. */
export function createProgram(ctx: CommandContext): Command {
  const program = new Command()
    .name('ckaad')
    .description('Weakly-supervised visual anomaly detection (CKAAD, AAAI 2025) on TensorFlow.js')
    .version(packageJson.version)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.out(text),
      writeErr: (text) => ctx.io.err(text),
      // run() prints errors itself, as one line.
      outputError: () => undefined,
    })
    .showSuggestionAfterError(true)
    .addHelpText('after', EXIT_HELP);
  registerTrain(program, ctx);
  registerEval(program, ctx);
  registerScore(program, ctx);
  registerDemo(program, ctx);
  registerExperiment(program, ctx);
  return program;
}

/**
 * Runs one command line (`argv` without the node and script paths) and returns its exit code.
 *
 * @example
 * ```ts
 * const code = await run(['demo', '--epochs', '2'], { io: processIo(), signal });
 * ```
 */
export async function run(argv: readonly string[], ctx: CommandContext): Promise<number> {
  installNodePlatform();
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') return EXIT.usage;
      ctx.io.err(`ckaad: ${e.message.startsWith('error: ') ? e.message : `error: ${e.message}`}\n`.replace(/\n(?!$)/g, ' '));
      return EXIT.usage;
    }
    const code = exitCodeFor(e);
    if (code === EXIT.internal) {
      const debug = process.env.CKAAD_DEBUG !== undefined && process.env.CKAAD_DEBUG !== '' && process.env.CKAAD_DEBUG !== '0';
      ctx.io.err(`ckaad: error: internal error: ${oneLine(e)}${debug ? '' : ' (set CKAAD_DEBUG=1 for the stack trace)'}\n`);
      if (debug && e instanceof Error && e.stack !== undefined) ctx.io.err(`${e.stack}\n`);
    } else {
      ctx.io.err(`ckaad: ${code === EXIT.interrupted ? 'interrupted' : 'error'}: ${oneLine(e)}\n`);
    }
    return code;
  }
}
