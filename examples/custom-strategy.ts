/**
 * Building your own training strategy from ckaad's blocks, without touching library code.
 *
 *   npm run build && npx tsx --tsconfig examples/tsconfig.json examples/custom-strategy.ts
 *
 * A strategy is a plain value: a name, whether anomalies are used, the auto-encoder's
 * reconstruction objective, and an optional adversary (which discriminator to build and the
 * two losses of its game). Spread a built-in one and replace what differs.
 */

import { pathToFileURL } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';

import {
  CKAADTrainer,
  CKAPatch,
  EnergyDiscriminator,
  ImageEnergyDiscriminator,
  createResNetExtractor,
  tensorDataset,
  useBackend,
} from 'ckaad';
import { composeDiscriminators, energyAdversary, energyLow } from 'ckaad/nn';
import type { Adversary, Strategy } from 'ckaad';
import { textures } from './synthetic-textures.js';

/** 1. Another λ: the strategy carries its own default (an explicit `lambda` option still wins). */
export const strongerPatch: Strategy = { ...CKAPatch, name: 'CKAPatch λ=0.1', defaults: { lambda: 0.1 } };

/**
 * 2. CKAPatch plus an image-level head: the patch discriminator of CKAPatch and the image
 * discriminator of CKAImg side by side as one discriminator. The energy losses sum over heads,
 * so the knowledge-aware game (eqs. 8/11 and 9/12) covers both levels at once.
 */
export const patchAndImage: Strategy = {
  ...CKAPatch,
  name: 'CKAPatch+Img',
  adversary: energyAdversary(({ channels, sizes, seed }) =>
    composeDiscriminators({
      patch: new EnergyDiscriminator({ channels: [...channels], seed }),
      image: new ImageEnergyDiscriminator({ channels: [...channels], sizes: [...sizes], seed: seed + 1 }),
    }),
  ),
};

/**
 * 3. Your own loss: the same discriminator, but the auto-encoder's adversarial term counts the
 * image head (the last output) half as much as the patch heads.
 */
export const halfImage: Strategy = {
  ...patchAndImage,
  name: 'CKAPatch+½Img',
  adversary: {
    ...(patchAndImage.adversary as Adversary),
    generatorLoss: (reconstructed) =>
      tf.tidy(() => tf.add(energyLow(reconstructed.slice(0, -1)), tf.mul(0.5, energyLow(reconstructed.slice(-1)))) as tf.Scalar),
  },
};

/** Trains each custom strategy for one epoch on generated data and prints its step losses. */
export async function main(): Promise<void> {
  await useBackend('wasm');
  const extractor = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random' });
  const normal = textures(4, 1);
  const anomalies = textures(2, 2, true);
  for (const strategy of [strongerPatch, patchAndImage, halfImage]) {
    const trainer = new CKAADTrainer({ extractor }, { strategy, epochs: 1, batchSize: 2 });
    console.log(`${strategy.name} (λ = ${trainer.options.lambda}):`);
    const result = await trainer.fit(
      { normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) },
      {
        onStep: (s) =>
          console.log(`  step ${s.step}: L_rec ${s.lRec.toFixed(4)}  L_adv ${s.lAdv.toFixed(4)}  L_D ${s.lD.toFixed(4)}  L_AE ${s.lAe.toFixed(4)}`),
      },
    );
    result.autoencoder.dispose();
  }
  tf.dispose([normal, anomalies]);
  extractor.dispose();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
