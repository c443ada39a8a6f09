/**
 * Which input sizes the auto-encoder supports (docs/reference-implementation.md §9). The encoder's bottleneck z is
 * half the deepest map, i.e. 1/(2·stride) of the image: 1/32 for layer3. At 32×32 with
 * layer3 that is 1×1, on which instance norm is undefined (PyTorch raises "Expected more
 * than 1 spatial element"; the authors' code has no guard). ckaad rejects such sizes with a
 * message naming the smallest valid size, and also rejects sizes whose maps do not halve
 * exactly from one layer to the next (the decoder doubles exactly, so the reconstruction
 * could not match the feature map's shape).
 */

import { LAYER_NAMES, STAGE_STRIDES, type LayerName } from '../backbone/configs.js';
import { InvalidArgumentError } from '../errors.js';

/** Layers as a sorted, consecutive, non-empty run, or an error naming `argument`. */
export function checkLayers(layers: readonly LayerName[], argument = 'options.layers'): number[] {
  const found = `[${layers.map((l) => `'${String(l)}'`).join(', ')}]`;
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new InvalidArgumentError(argument, 'a non-empty list of layer names', found);
  }
  const indices = layers.map((l) => LAYER_NAMES.indexOf(l));
  if (indices.some((i) => i < 0)) {
    throw new InvalidArgumentError(argument, `layer names among ${LAYER_NAMES.join(', ')}`, found);
  }
  for (let i = 1; i < indices.length; i++) {
    if (indices[i] !== indices[i - 1] + 1) {
      throw new InvalidArgumentError(
        argument,
        'consecutive layers in increasing order, e.g. [layer2, layer3] or [layer1, layer2, layer3] (each decoder stage doubles the map size)',
        found,
      );
    }
  }
  return indices;
}

/**
 * Smallest square input image size (pixels) for `layers`: the deepest map must be at
 * least 4×4 so that the bottleneck is at least 2×2, i.e. 4 × the deepest layer's stride
 * (64 for layer3, 32 for layer2, 128 for layer4).
 */
export function minimumInputSize(layers: readonly LayerName[]): number {
  const indices = checkLayers(layers, 'layers');
  return 4 * STAGE_STRIDES[indices[indices.length - 1]];
}

/** Spatial size of each torchvision ResNet stage output for a `size`×`size` image (each stride-2 op rounds up). */
export function resnetMapSizes(size: number): [number, number, number, number] {
  const stem = Math.ceil(Math.ceil(size / 2) / 2); // conv1 (7×7 s2 p3), maxpool (3×3 s2 p1)
  const l2 = Math.ceil(stem / 2);
  const l3 = Math.ceil(l2 / 2);
  return [stem, l2, l3, Math.ceil(l3 / 2)];
}

/**
 * Throws {@link InvalidArgumentError} unless a `size`×`size` image gives maps the
 * auto-encoder for `layers` can reconstruct: `size` ≥ {@link minimumInputSize} and each
 * requested map exactly twice the next one, with an even deepest map (true for every
 * multiple of 2 × the deepest stride, e.g. multiples of 32 for layer3).
 *
 * @param argument How the caller names the size in the error (default `'size'`).
 */
export function validateInputSize(size: number, layers: readonly LayerName[], argument = 'size'): void {
  const minimum = minimumInputSize(layers);
  const indices = checkLayers(layers, 'layers');
  const deepest = indices[indices.length - 1];
  const multiple = 2 * STAGE_STRIDES[deepest];
  if (!Number.isInteger(size) || size < minimum) {
    throw new InvalidArgumentError(
      argument,
      `an input image size of at least ${minimum}×${minimum} for layers [${layers.join(', ')}] ` +
        `(the bottleneck is 1/${multiple} of the input and instance norm needs more than one spatial element)`,
      `${size}×${size}`,
    );
  }
  const sizes = resnetMapSizes(size);
  const z = Math.ceil(sizes[deepest] / 2);
  const exact = indices.every((layer) => sizes[layer] === z * 2 ** (deepest - layer + 1));
  if (!exact) {
    throw new InvalidArgumentError(
      argument,
      `an input image size whose feature maps halve exactly from layer to layer, e.g. a multiple of ${multiple}`,
      `${size}×${size} (maps ${indices.map((i) => `${sizes[i]}×${sizes[i]}`).join(', ')})`,
    );
  }
}
