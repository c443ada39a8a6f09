/**
 * Checks that bench/results/latest.json (or the file given) holds every row issue 12 asks
 * `npm run bench -- training` for, each with a finite value; lists what is missing and exits
 * with 1 otherwise.
 *
 *   node --import tsx bench/check-rows.ts [results.json]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { REQUIRED_ROWS } from './training.js';
import type { BenchRow } from './types.js';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
const { rows } = JSON.parse(readFileSync(file, 'utf8')) as { rows: BenchRow[] };
const problems: string[] = [];
for (const name of REQUIRED_ROWS) {
  const row = rows.find((r) => r.name === name);
  if (row === undefined) problems.push(`${name}: missing`);
  else if (typeof row.value !== 'number' || !Number.isFinite(row.value)) problems.push(`${name}: no value (${row.note ?? ''})`);
}
if (problems.length > 0) {
  console.error(`${file}: ${problems.length} of ${REQUIRED_ROWS.length} required rows lack a value:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
for (const name of REQUIRED_ROWS) {
  const row = rows.find((r) => r.name === name) as BenchRow;
  console.log(`${name}\t${row.value.toPrecision(4)} ${row.unit}`);
}
