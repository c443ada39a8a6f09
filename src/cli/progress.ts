/**
 * Progress of long loops (training steps, scoring batches): a cli-progress bar with images/s
 * and ETA when stderr is a terminal, plain log lines otherwise (CI logs, `2> file`), at most
 * one per {@link LOG_INTERVAL_MS} and one at the end.
 */

import cliProgress from 'cli-progress';

import type { CliIo } from './io.js';

/** Minimum time between two plain log lines. */
export const LOG_INTERVAL_MS = 10_000;

/** A running progress display. */
export interface Progress {
  /**
   * Reports that `done` of the total units are finished; `info` is shown after the numbers
   * (e.g. the current loss).
   */
  update(done: number, info?: string): void;
  /** Ends the display of a completed run (a final "done, N images in …" line without a terminal). */
  stop(info?: string): void;
  /**
   * Ends the display of an interrupted run: "interrupted at n/N images after …", where n is
   * the last update's count — never "done".
   */
  interrupt(info?: string): void;
}

/** "1m05s", "12s", "2h03m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Speed and ETA of `done` of `total` units after `elapsedMs`. */
export function rate(done: number, total: number, elapsedMs: number): { perSecond: number; etaSeconds: number } {
  const perSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const etaSeconds = perSecond > 0 ? (total - done) / perSecond : Number.POSITIVE_INFINITY;
  return { perSecond, etaSeconds };
}

/**
 * Starts a progress display of `total` units.
 *
 * @param label What is running, e.g. `'train CKAPatch'`.
 * @param unit Plural name of the units; speeds are shown as `<unit>/s`. Default `'images'`.
 *
 * @example
 * ```ts
 * const p = startProgress(io, 'score', 120);
 * for (...) p.update(done);
 * p.stop();
 * ```
 */
export function startProgress(io: CliIo, label: string, total: number, unit = 'images'): Progress {
  const started = io.now();
  const short = unit === 'images' ? 'img' : unit;
  let reached = 0;
  const numbers = (done: number) => {
    const { perSecond, etaSeconds } = rate(done, total, io.now() - started);
    return { speed: `${perSecond.toFixed(1)} ${short}/s`, eta: formatDuration(etaSeconds) };
  };

  if (io.isTTY && io.progressStream !== undefined) {
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} | {speed} | ETA {remaining} | {info}`,
      stream: io.progressStream,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    });
    bar.start(total, 0, { speed: '–', remaining: '?', info: '' });
    return {
      update(done, info = '') {
        reached = done;
        const n = numbers(done);
        bar.update(done, { speed: n.speed, remaining: n.eta, info });
      },
      stop(info = '') {
        const n = numbers(total);
        bar.update(total, { speed: n.speed, remaining: '0s', info });
        bar.stop();
      },
      interrupt(info = '') {
        const n = numbers(reached);
        bar.update(reached, { speed: n.speed, remaining: 'interrupted', info });
        bar.stop();
      },
    };
  }

  let lastLog = started;
  const line = (done: number, info: string) => {
    const n = numbers(done);
    const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
    io.err(`${label}: ${done}/${total} ${unit} (${percent}%) · ${n.speed} · ETA ${n.eta}${info ? ` · ${info}` : ''}\n`);
  };
  return {
    update(done, info = '') {
      reached = done;
      const now = io.now();
      if (now - lastLog >= LOG_INTERVAL_MS) {
        lastLog = now;
        line(done, info);
      }
    },
    stop(info = '') {
      const elapsed = (io.now() - started) / 1000;
      const { perSecond } = rate(total, total, io.now() - started);
      io.err(`${label}: done, ${total} ${unit} in ${formatDuration(elapsed)} (${perSecond.toFixed(1)} ${short}/s)${info ? ` · ${info}` : ''}\n`);
    },
    interrupt(info = '') {
      const elapsedMs = io.now() - started;
      const percent = total > 0 ? Math.floor((100 * reached) / total) : 100;
      io.err(`${label}: interrupted at ${reached}/${total} ${unit} (${percent}%) after ${formatDuration(elapsedMs / 1000)}${info ? ` · ${info}` : ''}\n`);
    },
  };
}
