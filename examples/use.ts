import * as tf from '@tensorflow/tfjs-core';
import { CKAADTrainer, CKAPatch, Scorer, createResNetExtractor, preprocessImages, renderSyntheticSample, tensorDataset, useBackend } from 'ckaad';
import { imageAuroc } from 'ckaad/metrics';
import { Rng } from 'ckaad/nn';

await useBackend('wasm');

// Random weights: everything runs, but the scores mean little — a random backbone is not what
// CKAAD is built on. For real use load ImageNet weights instead:
//   weights: 'resnet18.safetensors'   (see "ImageNet weights" above)
const extractor = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random' });

// Images are [N, H, W, 3] tensors of 0..255 pixels. Here: generated 64×64 textures, and the
// same kind of texture with a hole (defect) in it.
const rng = new Rng(0);
const pixels = (n: number, defect: 'hole' | null): tf.Tensor4D =>
  tf.tidy(() => tf.stack(Array.from({ length: n }, () => tf.tensor3d(renderSyntheticSample('weave', defect, 64, rng).image, [64, 64, 3], 'int32'))) as tf.Tensor4D);
const normal = preprocessImages(pixels(8, null), { size: 64 }); // resized, ImageNet-normalised
const anomalies = preprocessImages(pixels(2, 'hole'), { size: 64 }); // a few known defects: image labels only
const test = preprocessImages(tf.concat([pixels(4, null), pixels(4, 'hole')]), { size: 64 });
const testLabels = [0, 0, 0, 0, 1, 1, 1, 1];

const trainer = new CKAADTrainer({ extractor }, { strategy: CKAPatch, epochs: 2, batchSize: 4 });
const { autoencoder } = await trainer.fit(
  { normal: tensorDataset(normal), anomalies: tensorDataset(anomalies) },
  { onEpoch: (log) => console.log(`epoch ${log.epoch}: L_rec ${log.lRec.toFixed(4)}, L_D ${log.lD.toFixed(4)}`) },
);

// σ and top-k scaled to 64×64 (the paper's σ = 4 and top-100 are for 256×256).
const scorer = new Scorer({ extractor, autoencoder, sigma: 1, topK: 6 });
const { scores, maps, height, width } = scorer.scoreBatch(test); // a score per image, a heat map per image
console.log(`scores ${Array.from(scores, (s) => s.toFixed(3)).join(' ')}; maps ${maps.length / (height * width)} × ${height}×${width}`);
console.log(`image AUROC ${imageAuroc(testLabels, scores).toFixed(3)}`);
