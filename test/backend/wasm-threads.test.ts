// The multi-threaded wasm backend in Node (src/backend/wasm-threads.ts): each case starts
// wasm in its own process (test/backend/fixtures/wasm-threads.ts, bundled as dist is).
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bundleFixture } from './fixtures/bundle-fixture.js';
import type { BuiltFixture } from './fixtures/bundle-fixture.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

interface Report {
  active: string;
  status: { requested: number; threads: number; fallback: string | null } | null;
  tfjsThreads: number;
  digest: string;
  training: string | null;
  tensorsBefore: number;
  tensorsAfter: number;
  warnings: string[];
}

let fixture: BuiltFixture | null = null;

beforeAll(async () => {
  fixture = await bundleFixture(root, 'wasm-threads', join(here, 'fixtures', 'wasm-threads.ts'));
}, 120_000);

afterAll(() => {
  fixture?.remove();
});

// The fixture process must also exit by itself (the timeout catches referenced workers).
async function start(...args: string[]): Promise<Report> {
  const { stdout } = await run(process.execPath, [(fixture as BuiltFixture).file, ...args], { cwd: root, timeout: 90_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Report;
}

describe('wasm backend threads in Node', () => {
  let single: Report;

  beforeAll(async () => {
    single = await start('1');
  }, 120_000);

  it('threads: 1 runs tfjs single-threaded build as is', () => {
    expect(single.active).toBe('wasm');
    expect(single.status).toBeNull();
    expect(single.tfjsThreads).toBe(1);
    expect(single.warnings).toEqual([]);
    expect(single.tensorsAfter).toBe(single.tensorsBefore);
  });

  it('threads: 2 runs XNNPACK on 2 threads, bit-identical to 1 thread', async () => {
    const r = await start('2');
    expect(r.status).toEqual({ requested: 2, threads: 2, fallback: null });
    expect(r.tfjsThreads).toBe(2);
    expect(r.digest).toBe(single.digest);
    expect(r.warnings).toEqual([]);
    expect(r.tensorsAfter).toBe(r.tensorsBefore);
  });

  it('trains bit for bit the same on 1 and 2 threads (CKAPatch, losses and weights)', async () => {
    const [one, two] = await Promise.all([start('1', 'train'), start('2', 'train')]);
    expect(one.status).toBeNull();
    expect(two.status?.threads).toBe(2);
    expect(one.training).toMatch(/^[0-9a-f]{64}$/);
    expect(two.training).toBe(one.training);
    expect(two.tensorsAfter).toBe(two.tensorsBefore);
  });

  it('is not capped at half the logical cores (3 threads even on a 2-core machine)', async () => {
    const r = await start('3');
    expect(r.status).toEqual({ requested: 3, threads: 3, fallback: null });
    expect(r.digest).toBe(single.digest);
  });

  it('defaults to every core', async () => {
    const r = await start('default');
    const cores = Math.min(availableParallelism(), 8);
    expect(r.tfjsThreads).toBe(cores);
    expect(r.status).toEqual(cores > 1 ? { requested: cores, threads: cores, fallback: null } : null);
    expect(r.digest).toBe(single.digest);
  });

  it('falls back to one thread with a one-line notice when the threaded build cannot start', async () => {
    const r = await start('2', 'no-shared-memory');
    expect(r.active).toBe('wasm');
    expect(r.status).toEqual({ requested: 2, threads: 1, fallback: 'SharedArrayBuffer is not available in this process' });
    expect(r.warnings).toEqual([
      'ckaad: the multi-threaded wasm backend did not start (SharedArrayBuffer is not available in this process); using one thread.',
    ]);
    expect(r.digest).toBe(single.digest);
  });
});
