/**
 * Ctrl-C (SIGINT) and SIGTERM for the `ckaad` executable.
 *
 * - The first signal asks the running command to stop cleanly: training stops after the
 *   current step (writing a checkpoint with --checkpoint-dir), scoring after the current
 *   batch; the command then exits with code 130 and says where it stopped.
 * - A second signal quits without waiting for that — but never in the middle of a save: if a
 *   checkpoint, model or results folder is being written, ckaad finishes that write first
 *   (a generation is in force only once complete; see node/folders.ts) and then quits.
 * - A third signal quits at once (the next run of ckaad cleans up what that leaves).
 */

import { writesInProgress, writesSettled } from '../node/atomic.js';
import { EXIT } from './errors.js';
import { log } from './io.js';
import type { CliIo } from './io.js';

/**
 * The handler to install for SIGINT and SIGTERM (see the module notes).
 *
 * @param controller Aborted by the first signal (the commands' `ctx.signal`).
 * @param exit Ends the process (`process.exit` in the executable; a spy in tests).
 */
export function signalHandler(io: CliIo, controller: AbortController, exit: (code: number) => void): () => void {
  let count = 0;
  return () => {
    count += 1;
    if (count === 1) {
      log(io, '\nckaad: stopping after the current step… (press Ctrl-C again to quit sooner)');
      controller.abort();
      return;
    }
    if (count === 2 && writesInProgress() > 0) {
      log(io, '\nckaad: finishing the save in progress, then quitting… (Ctrl-C once more quits at once)');
      void writesSettled().then(() => exit(EXIT.interrupted));
      return;
    }
    exit(EXIT.interrupted);
  };
}
