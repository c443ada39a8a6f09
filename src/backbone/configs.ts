/**
 * The torchvision ResNet family, described by data (timm style): block type, blocks per
 * stage and bottleneck width. The feature extractor and the auto-encoder's decoder both
 * read this table (docs/reference-implementation.md §1, §2).
 */

/** Names of the supported torchvision backbones. */
export type ResNetName =
  | 'resnet18'
  | 'resnet34'
  | 'resnet50'
  | 'resnet101'
  | 'wide_resnet50_2'
  | 'wide_resnet101_2';

/** The four residual stages a backbone can return, shallow to deep. */
export type LayerName = 'layer1' | 'layer2' | 'layer3' | 'layer4';

/** All stage names in forward order. */
export const LAYER_NAMES: readonly LayerName[] = ['layer1', 'layer2', 'layer3', 'layer4'];

/** Architecture of one ResNet: everything needed to build it and to name its tensors. */
export interface ResNetConfig {
  readonly name: ResNetName;
  /** `basic` (two 3×3 convs, expansion 1) or `bottleneck` (1×1, 3×3, 1×1, expansion 4). */
  readonly block: 'basic' | 'bottleneck';
  /** Channel expansion of the block: 1 for basic, 4 for bottleneck. */
  readonly expansion: 1 | 4;
  /** Blocks in layer1..layer4. */
  readonly blocks: readonly [number, number, number, number];
  /** torchvision's `width_per_group`: 64, or 128 for the wide variants. */
  readonly widthPerGroup: 64 | 128;
}

/** Base ("planes") channels of layer1..layer4 before expansion. */
export const STAGE_PLANES: readonly [number, number, number, number] = [64, 128, 256, 512];

/** Spatial downsampling of layer1..layer4 relative to the input image. */
export const STAGE_STRIDES: readonly [number, number, number, number] = [4, 8, 16, 32];

/** The supported backbones, keyed by name. */
export const RESNET_CONFIGS: Readonly<Record<ResNetName, ResNetConfig>> = {
  resnet18: { name: 'resnet18', block: 'basic', expansion: 1, blocks: [2, 2, 2, 2], widthPerGroup: 64 },
  resnet34: { name: 'resnet34', block: 'basic', expansion: 1, blocks: [3, 4, 6, 3], widthPerGroup: 64 },
  resnet50: { name: 'resnet50', block: 'bottleneck', expansion: 4, blocks: [3, 4, 6, 3], widthPerGroup: 64 },
  resnet101: { name: 'resnet101', block: 'bottleneck', expansion: 4, blocks: [3, 4, 23, 3], widthPerGroup: 64 },
  wide_resnet50_2: { name: 'wide_resnet50_2', block: 'bottleneck', expansion: 4, blocks: [3, 4, 6, 3], widthPerGroup: 128 },
  wide_resnet101_2: { name: 'wide_resnet101_2', block: 'bottleneck', expansion: 4, blocks: [3, 4, 23, 3], widthPerGroup: 128 },
};

/** Output channels of a stage: planes × expansion (e.g. layer3 of resnet18 → 256, of wide_resnet50_2 → 1024). */
export function stageChannels(config: ResNetConfig, layer: LayerName): number {
  return STAGE_PLANES[LAYER_NAMES.indexOf(layer)] * config.expansion;
}
