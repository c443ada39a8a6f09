/**
 * Prints, for every run with a seen (labelled) class, its image AUROC on normal + seen-class
 * and normal + unseen-class test images next to the baseline run's (default Recon) of the same
 * seed and normal class, scored on the same subsets. Uses the built package.
 *
 *   npx tsx scripts/paired.ts results/fashion-mnist-reduced [--baseline Recon]
 */

import { parseArgs } from 'node:util';

import { formatPairedMarkdown, pairedComparisons, readRunResults, readRunScores } from 'ckaad/node';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { baseline: { type: 'string', default: 'Recon' } } });
if (positionals.length !== 1) {
  console.log('usage: npx tsx scripts/paired.ts <results dir> [--baseline Recon]');
  process.exit(2);
}
const dir = positionals[0];
const runs = await Promise.all((await readRunResults(dir)).map(async (result) => ({ result, scores: await readRunScores(dir, result.run.id) })));
process.stdout.write(formatPairedMarkdown(pairedComparisons(runs, values.baseline)));
