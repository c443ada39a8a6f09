// The universal entry as a page or a Web Worker uses it (this file also runs in Node as it is):
// the user's images as ImageData, training, a score and a heat map per test image.
import { CKAADTrainer, CKAPatch, Scorer, createResNetExtractor, ensureBackend, pixelDataset, renderSyntheticSample, toPixelStack } from 'ckaad';

// In a page: canvas.getContext('2d').getImageData(0, 0, width, height) of each image the user
// picked; here the synthetic generator draws them (a weave texture, or one with a hole).
const imageData = (seed: number, defect: 'hole' | null) => ({ data: renderSyntheticSample('weave', defect, 64, seed).image, width: 64, height: 64, channels: 3 as const });
const images = (seeds: number[], defect: 'hole' | null) => seeds.map((s) => imageData(s, defect));

// wasm in Node and in browsers (multi-threaded on a cross-origin-isolated page), else cpu.
console.log(`backend ${await ensureBackend()}`);
// weights: a File from <input type="file">, bytes, or an https URL of a torchvision safetensors
// file; 'random' runs everything, but a random backbone is not what CKAAD is built on.
const extractor = await createResNetExtractor({ arch: 'resnet18', layers: ['layer2', 'layer3'], weights: 'random' });

const trainer = new CKAADTrainer({ extractor }, { strategy: CKAPatch, epochs: 2, batchSize: 4 });
const normal = pixelDataset(toPixelStack(images([0, 1, 2, 3, 4, 5, 6, 7], null), 64));
const anomalies = pixelDataset(toPixelStack(images([8, 9], 'hole'), 64)); // a few known defects: labels only
const { autoencoder } = await trainer.fit({ normal, anomalies });

const test = pixelDataset(toPixelStack([...images([10, 11], null), ...images([12, 13], 'hole')], 64));
const scorer = new Scorer({ extractor, autoencoder, sigma: 1, topK: 6 });
const { scores, maps, height, width } = scorer.scoreBatch(test.batch([0, 1, 2, 3])); // maps: draw each on a canvas
console.log(`scores ${Array.from(scores, (s) => s.toFixed(3)).join(' ')}; ${maps.length / (height * width)} heat maps of ${height}×${width}`);
