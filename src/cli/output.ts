/**
 * Output folders written all at once, and the markdown tables results are printed as.
 *
 * A command writes into a temporary sibling of its `--out` folder and renames it into place
 * only when everything succeeded, so a failed or interrupted run leaves the previous outputs
 * exactly as they were. An existing `--out` folder is replaced only if it is empty or was
 * written by ckaad (it holds `results.json` with `"format": "ckaad-results"`): ckaad never
 * deletes a folder of someone else's files.
 */

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { folderState, guardedWrite, removeAbandoned, replaceFolder, temporarySibling } from '../node/atomic.js';
import { FileFormatError } from '../errors.js';
import { OptionError } from './errors.js';

/** `format` field of every results.json ckaad writes. */
export const RESULTS_FORMAT = 'ckaad-results';
/** Name of the results file marking a folder as ckaad's. */
export const RESULTS_FILE = 'results.json';

/** A folder being written: files go to {@link StagedOutput.dir}; {@link StagedOutput.commit} publishes it. */
export interface StagedOutput {
  /** The final folder (absolute). */
  readonly target: string;
  /** The temporary folder to write into. */
  readonly dir: string;
  /** Moves the temporary folder to `target`, replacing an earlier ckaad output. */
  commit(): Promise<void>;
  /** Deletes the temporary folder (after a failure); `target` is untouched. */
  discard(): Promise<void>;
}

/**
 * Starts writing the output folder `target`.
 *
 * @param flag The option `target` came from, for errors (e.g. `'--out'`).
 * @throws OptionError if `target` is a file, or a non-empty folder ckaad did not write.
 */
export async function stageOutput(target: string, flag: string): Promise<StagedOutput> {
  const final = resolve(target);
  // What a killed run of ours left beside the folder goes first (a cut swap is completed).
  await removeAbandoned(final);
  const state = await folderState(final, { file: RESULTS_FILE, formats: [RESULTS_FORMAT] });
  if (state === 'file') throw new OptionError(flag, 'a folder to write results to', `${final} (a file)`);
  if (state === 'foreign') {
    throw new OptionError(flag, `a new or empty folder, or one written by ckaad before (with ${RESULTS_FILE})`, `${final} (holds other files)`);
  }
  await mkdir(dirname(final), { recursive: true });
  const dir = await temporarySibling(final);
  await mkdir(dir);
  return {
    target: final,
    dir,
    commit: () =>
      guardedWrite(async () => {
        try {
          await replaceFolder(dir, final);
        } catch (e) {
          throw new FileFormatError(final, `cannot move the results into place (${(e as Error).message}); they are in ${dir}`);
        }
      }),
    async discard() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `value` as pretty JSON. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

/** Writes `text` (a markdown document). */
export async function writeText(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text.endsWith('\n') ? text : `${text}\n`);
}

/** A metric with 3 decimals, `—` when it could not be computed. */
export function fmt(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/**
 * A GitHub-flavoured markdown table. Columns whose header is in `right` are right-aligned;
 * cells are padded so the table also reads well as plain text.
 */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], right: readonly string[] = []): string {
  const widths = headers.map((h, c) => Math.max(h.length, 3, ...rows.map((r) => (r[c] ?? '').length)));
  const isRight = headers.map((h) => right.includes(h));
  const cell = (text: string, c: number) => (isRight[c] ? text.padStart(widths[c]) : text.padEnd(widths[c]));
  const line = (cells: readonly string[]) => `| ${cells.map((t, c) => cell(t, c)).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (isRight[c] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(headers), rule, ...rows.map((r) => line(headers.map((_, c) => r[c] ?? '')))].join('\n');
}

/** A file-name-safe version of `name` (path separators and odd characters become `_`). */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'image';
}
