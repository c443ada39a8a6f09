/**
 * Where the command line writes. Results (markdown tables, `--json`) go to `out`; progress,
 * warnings and errors go to `err`, so `ckaad eval … > results.md` captures only the results.
 * Commands receive a {@link CliIo} instead of touching `process`, which lets tests run them
 * in-process and read what they printed.
 */

/** Output streams and terminal facts of one command-line run. */
export interface CliIo {
  /** Writes results (no newline added). */
  out(text: string): void;
  /** Writes progress, warnings and errors (no newline added). */
  err(text: string): void;
  /** True when `err` is an interactive terminal: progress bars instead of log lines. */
  readonly isTTY: boolean;
  /** The stream progress bars draw on (only used when `isTTY`). */
  readonly progressStream?: NodeJS.WriteStream;
  /** Clock in milliseconds (for speeds and wall time); `performance.now()` by default. */
  now(): number;
}

/**
 * Writes to `stream` until its reader goes away: a closed pipe (`ckaad train --help | head`)
 * makes later writes fail with EPIPE, which would crash the process as an unhandled 'error'
 * event; they are dropped instead, and the command ends as it would have.
 */
function pipeWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return (text) => {
    if (!closed) stream.write(text);
  };
}

/** The process's own stdout / stderr. */
export function processIo(): CliIo {
  const out = pipeWriter(process.stdout);
  const err = pipeWriter(process.stderr);
  return {
    out,
    err,
    isTTY: process.stderr.isTTY === true,
    progressStream: process.stderr,
    now: () => performance.now(),
  };
}

/** Writes `text` and a newline to the results stream. */
export function println(io: CliIo, text = ''): void {
  io.out(`${text}\n`);
}

/** Writes `text` and a newline to the log stream. */
export function log(io: CliIo, text: string): void {
  io.err(`${text}\n`);
}
