/** A tiny protocol on the synthetic defect set that trains in seconds (random resnet18 {layer1, layer2}, 32×32). */

import type { ExperimentProtocol } from '../../src/experiment/protocol.js';
import { LAYERS, SIZE } from '../training/fixtures.js';

/**
 * Class `disc`, defect kinds scratch and hole (hole seen), Recon and CKAPatch at r_l = 0.3,
 * seeds 0 and 1, 2 epochs; the set is generated under `root`.
 */
export function tinyProtocol(root: string, overrides: Partial<ExperimentProtocol> = {}): ExperimentProtocol {
  return {
    name: 'tiny',
    dataset: { kind: 'synthetic', categories: ['disc'], defects: ['scratch', 'hole'], trainCount: 10, testGoodCount: 3, testDefectCount: 2, root },
    arms: [
      { strategy: 'Recon', labelled: [0.3] },
      { strategy: 'CKAPatch', labelled: [0.3] },
    ],
    labelledClasses: ['hole'],
    seeds: [0, 1],
    epochs: 2,
    imageSize: SIZE,
    model: { arch: 'resnet18', layers: LAYERS, weights: 'random' },
    training: { batchSize: 4, aeLearningRate: 0.005 },
    validationFraction: 0.2,
    examplesPerClass: 1,
    ...overrides,
  };
}
