/**
 * Exit codes and one-line error reports of the command line.
 *
 *   0    success
 *   1    the run failed on its input: a missing, empty or corrupt file or folder, a weights
 *        file for another architecture, a dataset the options do not fit (e.g. --k larger than
 *        the number of anomaly classes) — any {@link CkaadError}
 *   2    the command line itself is wrong: unknown command or option, a missing or malformed
 *        option value (e.g. --ratio 1.5)
 *   3    an unexpected internal error (a bug: set CKAAD_DEBUG=1 for the stack trace)
 *   130  interrupted (Ctrl-C); outputs of earlier runs are left as they were
 *
 * Every failure prints exactly one line `ckaad: error: <reason>` on stderr.
 */

import { CkaadError, InvalidArgumentError, WeightsMismatchError } from '../errors.js';

/** Exit codes of `ckaad` (see the module notes). */
export const EXIT = { ok: 0, input: 1, usage: 2, internal: 3, interrupted: 130 } as const;

/**
 * A command-line option has a bad value; `argument` is the flag, e.g. `'--ratio'`.
 * Exits with {@link EXIT.usage}.
 */
export class OptionError extends InvalidArgumentError {}

/** The run was stopped by SIGINT / SIGTERM. */
export class InterruptedError extends CkaadError {
  constructor(message: string) {
    super('interrupted', message);
  }
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InterruptedError) return EXIT.interrupted;
  if (error instanceof OptionError) return EXIT.usage;
  if (error instanceof CkaadError) return EXIT.input;
  return EXIT.internal;
}

/** At most this many problems of a weights mismatch are quoted in the one-line report. */
const QUOTED_PROBLEMS = 3;

/**
 * The error as one line: multi-line messages are joined with "; ", and a weights mismatch
 * quotes its first few problems and counts the rest.
 */
export function oneLine(error: unknown): string {
  if (error instanceof WeightsMismatchError) {
    const [head, ...problems] = error.message.split('\n').map((l) => l.trim());
    const quoted = problems.slice(0, QUOTED_PROBLEMS).join('; ');
    const rest = problems.length - QUOTED_PROBLEMS;
    return `${head} ${quoted}${rest > 0 ? `; … and ${rest} more` : ''}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .join('; ');
}
