/** Paired seen/unseen comparisons against a baseline run of the same seed and normal class. */

import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../src/errors.js';
import { formatPairedMarkdown, pairedComparisons } from '../../src/experiment/paired.js';
import type { ScoredRun } from '../../src/experiment/paired.js';
import type { RunResult } from '../../src/experiment/results.js';

const names = ['n0', 'n1', 'a0', 'a1', 'b0', 'b1'];
const classNames = ['N', 'N', 'A', 'A', 'B', 'B'];
const labels = [0, 0, 1, 1, 1, 1];

function scored(arm: string, seed: number, target: string, labelledClass: string | null, scores: number[], testNames = names): ScoredRun {
  const id = `${target}__${arm}__s${seed}`;
  return {
    result: { run: { id, arm, seed, target, labelledClass, labelled: labelledClass === null ? 0 : 0.05 } } as unknown as RunResult,
    scores: { format: 'ckaad-experiment-scores', version: 1, runId: id, names: testNames, classNames, labels, scores },
  };
}

describe('pairedComparisons', () => {
  it('scores the baseline on the run\u2019s seen and unseen subsets', () => {
    // baseline: A below every normal (AUROC 0 on seen), B above (1 on unseen)
    const recon = scored('Recon', 0, 'N', null, [0.5, 0.6, 0.1, 0.2, 0.9, 0.8]);
    // run: A above every normal, B tied with the normals half the time
    const patch = scored('CKAPatch', 0, 'N', 'A', [0.5, 0.6, 0.9, 0.7, 0.55, 0.4]);
    const other = scored('CKAPatch', 1, 'N', 'A', [0.5, 0.6, 0.9, 0.7, 0.55, 0.4]); // no seed-1 baseline: left out
    const rows = pairedComparisons([patch, recon, other], 'Recon');
    expect(rows).toHaveLength(1);
    const r = rows[0];
    expect(r).toMatchObject({ target: 'N', seed: 0, arm: 'CKAPatch', seenClass: 'A', baselineArm: 'Recon' });
    expect(r.seen).toEqual({ run: 1, baseline: 0 });
    expect(r.unseen).toEqual({ run: 0.25, baseline: 1 }); // 0.55 beats 0.5 only; 0.4 beats none
    expect(r.all).toEqual({ run: 0.625, baseline: 0.5 });
    const md = formatPairedMarkdown(rows);
    expect(md).toContain('| N | 0 | CKAPatch | A | 0.00 | 100.00 | +100.00 | 100.00 | 25.00 | -75.00 | 50.00 | 62.50 | +12.50 |');
    expect(md).toContain('| **mean of 1** | | CKAPatch | | 0.00 | 100.00 | +100.00 |');
  });

  it('refuses pairs scored on different test images', () => {
    const recon = scored('Recon', 0, 'N', null, [0, 0, 0, 0, 0, 0], [...names].reverse());
    const patch = scored('CKAPatch', 0, 'N', 'A', [0, 0, 0, 0, 0, 0]);
    expect(() => pairedComparisons([recon, patch], 'Recon')).toThrow(InvalidArgumentError);
  });
});
