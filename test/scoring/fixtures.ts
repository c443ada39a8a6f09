/** Typed loaders for the scipy / PyTorch golden fixtures written by scripts/make_scoring_fixtures.py. */

import { readFileSync } from 'node:fs';

export interface GaussianCase {
  name: string;
  sigma: number;
  truncate: number;
  height: number;
  width: number;
  input: number[];
  expected: number[];
}

export interface PipelineCase {
  name: string;
  height: number;
  width: number;
  layers: { shape: [number, number, number, number]; features: number[]; reconstructions: number[] }[];
  /** Σ_layers upsampled 1 − cos, [N, H, W]. */
  maps: number[];
  /** gaussian_filter(σ = 4) of each map. */
  smoothed: number[];
  /** Image scores keyed by k ('mean' = mean of all pixels). */
  scores: Record<string, number[]>;
}

function load<T>(name: string): { cases: T[] } {
  return JSON.parse(readFileSync(new URL(`../fixtures/scoring/${name}`, import.meta.url), 'utf8')) as { cases: T[] };
}

export const gaussianCases = (): GaussianCase[] => load<GaussianCase>('gaussian.json').cases;
export const pipelineCases = (): PipelineCase[] => load<PipelineCase>('pipeline.json').cases;
