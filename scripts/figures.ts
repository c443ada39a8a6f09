/**
 * Renders an experiment's figures as PNG from its results folder (written by
 * `ckaad experiment` or runExperiment): per normal class / category, score histograms of
 * normal vs anomalous test images with one panel per arm (paper Fig. 5), and per drawn run a
 * grid image | mask | anomaly map of test examples (Figs. 6–7). Uses the built package: run
 * `npm run build` first.
 *
 *   npx tsx scripts/figures.ts results/fashion-mnist-smoke
 *   npx tsx scripts/figures.ts results/synthetic-ablation --arms Recon,CKAPatch --seed 0 --labelled-class scratch
 *
 * Options:
 *   --out <dir>              output folder (default <results>/figures)
 *   --arms <a,b,...>         arms to draw, in this order (default all)
 *   --seed <n>               seed whose runs are drawn (default the smallest)
 *   --targets <a,b,...>      normal classes / categories (default all)
 *   --labelled-class <name>  preferred seen class for arms with labelled anomalies
 */

import { parseArgs } from 'node:util';

import { writeFigures } from 'ckaad/node';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    arms: { type: 'string' },
    seed: { type: 'string' },
    targets: { type: 'string' },
    'labelled-class': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help || positionals.length !== 1) {
  console.log('usage: npx tsx scripts/figures.ts <results dir> [--out dir] [--arms a,b] [--seed n] [--targets a,b] [--labelled-class name]');
  process.exit(values.help ? 0 : 2);
}
const list = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));
const written = await writeFigures(positionals[0], {
  out: values.out,
  arms: list(values.arms),
  seed: values.seed === undefined ? undefined : Number(values.seed),
  targets: list(values.targets),
  labelledClass: values['labelled-class'],
});
for (const path of written) console.log(path);
