/**
 * What every subcommand receives besides its option values: where to write, and the signal
 * that Ctrl-C fires.
 */

import type { CliIo } from './io.js';

/** The environment of one command run. */
export interface CommandContext {
  io: CliIo;
  /** Fires on SIGINT / SIGTERM: training stops after the current step, scoring after the current batch. */
  signal: AbortSignal;
}

/**
 * Lets pending events (Ctrl-C, stream writes) run. Long tensor loops only await promises that
 * resolve at once (wasm/cpu `data()`), which never hands control back to the event loop.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resume) => setImmediate(resume));
}
