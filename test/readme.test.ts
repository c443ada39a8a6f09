/**
 * The README's code blocks are the files under examples/ (each block is preceded by a
 * `<!-- examples/<file> -->` line naming its file, and equals it), and the examples work:
 *
 * - TypeScript examples run as written against the built package (`npx tsx --tsconfig
 *   examples/tsconfig.json <file>`; the build is made first when dist/ is stale);
 * - shell examples: every `npx ckaad …` command line is parsed by the real command line's
 *   parser (commands, options and values must be valid; the commands are not run — they need
 *   data sets and weights the suite does not have), every `npm run <script>` names a script of
 *   package.json, every other program is npm or an existing file;
 * - `.txt` blocks are measured outputs, shown as recorded: they are compared with their files
 *   only.
 */

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Command, CommanderError } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';

import type { CliIo } from '../src/cli/io.js';
import { createProgram } from '../src/cli/program.js';
import { ensureFreshDist } from './fresh-dist.js';

const exec = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

interface Block {
  file: string | null;
  lang: string;
  body: string;
  line: number;
}

/** The fenced code blocks of `markdown`, with the file named on the line before each. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (open === null) continue;
    const end = lines.indexOf('```', i + 1);
    const marker = /^<!-- (examples\/[\w./-]+) -->$/.exec(lines[i - 1] ?? '');
    blocks.push({ file: marker?.[1] ?? null, lang: open[1], body: `${lines.slice(i + 1, end).join('\n')}\n`, line: i + 1 });
    i = end;
  }
  return blocks;
}

/**
 * The commands of a shell example: lines joined at `\`, comments dropped, `NAME="…"`
 * assignments expanded where `$NAME` is used, words split on blanks and quotes.
 */
function shellCommands(script: string): string[][] {
  const vars = new Map<string, string>();
  const commands: string[][] = [];
  for (const raw of script.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    for (const part of line.split('&&').map((p) => p.trim())) {
      const assignment = /^([A-Z_]+)="([^"]*)"$/.exec(part);
      if (assignment !== null) {
        vars.set(assignment[1], assignment[2]);
        continue;
      }
      const expanded = part.replace(/\$([A-Z_]+)/g, (_, name: string) => {
        const value = vars.get(name);
        if (value === undefined) throw new Error(`$${name} is not set in the example`);
        return value;
      });
      commands.push([...expanded.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]));
    }
  }
  return commands;
}

/** Parses `argv` with ckaad's own program, every command's action replaced by a no-op. */
async function parseCkaad(argv: string[]): Promise<void> {
  let printed = '';
  const io: CliIo = { out: (t) => void (printed += t), err: (t) => void (printed += t), isTTY: false, now: () => 0 };
  const program: Command = createProgram({ io, signal: new AbortController().signal });
  for (const command of program.commands) command.action(() => undefined);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')) return;
    throw new Error(`\`ckaad ${argv.join(' ')}\`: ${(e as Error).message} ${printed}`);
  }
}

const blocks = codeBlocks(readme);

describe('README code blocks', () => {
  it('each names its file under examples/ and equals it', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) {
      expect(b.file, `README.md:${b.line}: a code block without a <!-- examples/… --> line before it`).not.toBeNull();
      expect(readFileSync(join(root, b.file as string), 'utf8'), `README.md:${b.line} differs from ${b.file}`).toBe(b.body);
    }
  });

  it('shell examples: valid ckaad command lines, existing npm scripts and files', async () => {
    const shells = blocks.filter((b) => b.lang === 'sh');
    expect(shells.length).toBeGreaterThan(0);
    for (const b of shells) {
      for (const [program, ...args] of shellCommands(b.body)) {
        if (program === 'npx') {
          expect(args[0], `${b.file}: npx runs ckaad only`).toBe('ckaad');
          await parseCkaad(args.slice(1));
        } else if (program === 'npm') {
          if (args[0] === 'run') expect(pkg.scripts, `${b.file}: npm run ${args[1]}`).toHaveProperty([args[1]]);
          else expect(['ci', 'test', 'install'], `${b.file}: npm ${args[0]}`).toContain(args[0]);
        } else {
          expect(existsSync(join(root, program)), `${b.file}: ${program}`).toBe(true);
        }
      }
    }
  });

  it('the parser of these checks rejects a wrong option', async () => {
    await expect(parseCkaad(['train', '--dataset', 'mvtec', '--root', 'x', '--model', 'm', '--no-such-option'])).rejects.toThrow(/unknown option/);
    await expect(parseCkaad(['eval', '--dataset', 'mvtec'])).rejects.toThrow(/--root/);
    expect(shellCommands('A="--x 1"\nnpx ckaad demo $A \\\n  --y "two words" # note')).toEqual([['npx', 'ckaad', 'demo', '--x', '1', '--y', 'two words']]);
  });

  describe('TypeScript examples run as written (against the built package)', () => {
    beforeAll(async () => {
      await ensureFreshDist();
    }, 600_000);

    const scripts = blocks.filter((b) => b.lang === 'ts');
    it.each(scripts.map((b) => [b.file as string]))('%s', async (file) => {
      const { stdout } = await exec(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), '--tsconfig', 'examples/tsconfig.json', file], {
        cwd: root,
        timeout: 300_000,
      });
      expect(stdout).not.toBe('');
      if (file === 'examples/use.ts') expect(stdout).toMatch(/^image AUROC \d\.\d{3}$/m);
    }, 300_000);
  });
});
