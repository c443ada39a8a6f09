/**
 * `npm run bench`: runs every benchmark module, prints one table and writes the same rows
 * as JSON to bench/results/latest.json (temp file + rename).
 *
 *   npm run bench                 # all groups
 *   npm run bench -- metrics      # only the named groups
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFn, BenchRow } from './types.js';

const GROUPS: Record<string, () => Promise<{ run: BenchFn }>> = {
  metrics: () => import('./metrics.js'),
  backbone: () => import('./backbone.js'),
  kernels: () => import('./kernels.js'),
  training: () => import('./training.js'),
};

function formatTable(rows: BenchRow[]): string {
  const header = ['group', 'measurement', 'value', 'unit', 'note'];
  const body = rows.map((r) => [
    r.group,
    r.name,
    r.value >= 100 ? r.value.toFixed(0) : r.value.toPrecision(3),
    r.unit,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const name of wanted) {
    if (!(name in GROUPS)) throw new Error(`Unknown benchmark group '${name}'; expected one of ${Object.keys(GROUPS).join(', ')}`);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(GROUPS);
  const rows: BenchRow[] = [];
  for (const name of names) {
    const started = Date.now();
    process.stderr.write(`bench: ${name}…\n`);
    const mod = await GROUPS[name]();
    rows.push(...(await mod.run()));
    process.stderr.write(`bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  console.log(formatTable(rows));
  const here = dirname(fileURLToPath(import.meta.url));
  const out = join(here, 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  const payload = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: totalmem() / 2 ** 30, node: process.version },
    rows,
  };
  writeFileSync(`${out}.tmp`, JSON.stringify(payload, null, 2));
  renameSync(`${out}.tmp`, out);
  console.log(`\nwrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
