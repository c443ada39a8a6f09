/**
 * Stable keys of a pipeline's work: canonical JSON (what run ids, settings hashes and cache
 * keys hash) and independent random streams. Each purpose of a run (the validation hold-out,
 * elastic anomalies, rendered anomalies…) draws from an `Rng` seeded by a hash of the purpose
 * and the numbers it depends on, so adding a purpose never shifts another's stream.
 */

import { sha256Hex } from '../node/sha256.js';

/** JSON with object keys sorted at every level (a canonical form to hash). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A seed derived from a purpose and numbers (48 bits of SHA-256): independent random streams. */
export function derivedSeed(purpose: string, ...values: number[]): number {
  return parseInt(sha256Hex(`${purpose}:${values.join(':')}`).slice(0, 12), 16);
}
