import { execFileSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { encodeSafetensors, readSafetensors, writeSafetensors, type SafetensorsTensorInput } from '../../src/data/safetensors.js';

/** Builds a file by hand: 8-byte LE header length + header text + data (independent of our writer). */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v, true));
  return out;
}

async function expectFormatError(bytes: Uint8Array, pattern: RegExp, name = 'corrupt.safetensors'): Promise<void> {
  const err = await readSafetensors(bytes, name).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FileFormatError);
  expect((err as FileFormatError).path).toBe(name);
  expect((err as Error).message).toMatch(pattern);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ckaad-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safetensors round trip', () => {
  const tensors: Record<string, SafetensorsTensorInput> = {
    'conv1.weight': { dtype: 'F32', shape: [2, 1, 2, 2], data: new Float32Array([1, -2, 3.5, 4, 5, 6, -7, 8.25]) },
    'bn1.num_batches_tracked': { dtype: 'I64', shape: [], data: new BigInt64Array([123456789012n]) },
    half: { dtype: 'F16', shape: [3], data: new Float32Array([1, -0.5, 65504]) },
    brain: { dtype: 'BF16', shape: [2], data: new Float32Array([3, -0.15625]) },
    ints: { dtype: 'I32', shape: [2, 2], data: new Int32Array([-1, 2, -3, 2147483647]) },
    bytes: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 7, 255]) },
    empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };

  it('decodes what it encodes, in header order, with metadata', async () => {
    const bytes = encodeSafetensors(tensors, { format: 'pt', epoch: '3' });
    // 8 + header is a multiple of 8, so the data section is aligned
    const headerLength = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLength % 8).toBe(0);
    const st = await readSafetensors(bytes);
    expect(st.names).toEqual(Object.keys(tensors));
    expect(st.metadata).toEqual({ format: 'pt', epoch: '3' });
    expect(st.info('conv1.weight')).toMatchObject({ dtype: 'F32', shape: [2, 1, 2, 2] });
    expect(Array.from(await st.float32('conv1.weight'))).toEqual([1, -2, 3.5, 4, 5, 6, -7, 8.25]);
    expect(Array.from(await st.float32('half'))).toEqual([1, -0.5, 65504]);
    expect(Array.from(await st.float32('brain'))).toEqual([3, -0.15625]);
    const counter = await st.tensor('bn1.num_batches_tracked');
    expect(counter.dtype).toBe('I64');
    expect(counter.shape).toEqual([]);
    expect(Array.from(counter.data as BigInt64Array)).toEqual([123456789012n]);
    expect(Array.from((await st.tensor('ints')).data as Int32Array)).toEqual([-1, 2, -3, 2147483647]);
    expect(Array.from((await st.tensor('bytes')).data as Uint8Array)).toEqual([0, 7, 255]);
    expect((await st.float32('empty')).length).toBe(0);
    await st.close();
  });

  it('returns fresh arrays that do not alias the input bytes', async () => {
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const st = await readSafetensors(bytes.buffer as ArrayBuffer);
    const a = await st.float32('a');
    a[0] = 99;
    expect(Array.from(await st.float32('a'))).toEqual([1, 2]);
  });

  it('round-trips arbitrary F32 tensors exactly (property)', async () => {
    const entry = fc
      .array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 })
      .chain((shape) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return fc.tuple(fc.constant(shape), fc.float32Array({ minLength: n, maxLength: n, noNaN: true }));
      });
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'), entry, { maxKeys: 5 }), async (dict) => {
        const input: Record<string, SafetensorsTensorInput> = {};
        for (const [k, [shape, data]] of Object.entries(dict)) input[k] = { dtype: 'F32', shape, data };
        const st = await readSafetensors(encodeSafetensors(input));
        expect(new Set(st.names)).toEqual(new Set(Object.keys(input)));
        for (const [k, t] of Object.entries(input)) {
          expect(st.info(k).shape).toEqual(t.shape);
          const back = await st.float32(k);
          expect(Array.from(back).map((v) => Object.is(v, -0) ? '-0' : v)).toEqual(Array.from(t.data as Float32Array).map((v) => Object.is(v, -0) ? '-0' : v));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rounds F16 and BF16 to nearest even and keeps special values', async () => {
    const f16 = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, 2 ** -25, 1.5 * 2 ** -25, 2 ** -24, -Infinity, NaN, 1e-3];
    const bf16 = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -Infinity, NaN, 3.4e38];
    const st = await readSafetensors(
      encodeSafetensors({
        h: { dtype: 'F16', shape: [f16.length], data: new Float32Array(f16) },
        b: { dtype: 'BF16', shape: [bf16.length], data: new Float32Array(bf16) },
      }),
    );
    const h = Array.from(await st.float32('h'));
    expect(h.slice(0, 7)).toEqual([1, 1 + 2 ** -9, 65504, Infinity, 0, 2 ** -24, 2 ** -24]);
    expect(h[7]).toBe(-Infinity);
    expect(h[8]).toBeNaN();
    expect(Math.abs(h[9] - 1e-3)).toBeLessThan(2 ** -20); // 1e-3 is a normal half: error ≤ half an ulp (2^-21)
    const b = Array.from(await st.float32('b'));
    expect(b.slice(0, 3)).toEqual([1, 1 + 2 ** -6, -Infinity]);
    expect(b[3]).toBeNaN();
    expect(b[4]).toBe(Infinity); // beyond the largest bf16 (3.3895e38) by more than half an ulp
  });

  it('reads hand-made F16 / BF16 bytes (independently of the writer)', async () => {
    // F16: 1, -2, 65504, smallest subnormal, +inf; BF16: 1 (0x3f80), -2.5 (0xc020)
    const data = new Uint8Array([...u16le([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]), ...u16le([0x3f80, 0xc020])]);
    const st = await readSafetensors(
      rawFile(
        {
          h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
          b: { dtype: 'BF16', shape: [1, 2], data_offsets: [10, 14] },
        },
        data,
      ),
    );
    expect(Array.from(await st.float32('h'))).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
    expect(Array.from(await st.float32('b'))).toEqual([1, -2.5]);
  });

  it('refuses to read integer tensors as float32 and unknown names', async () => {
    const st = await readSafetensors(encodeSafetensors({ n: { dtype: 'I64', shape: [1], data: new BigInt64Array([1n]) } }));
    await expect(st.float32('n')).rejects.toThrow(/dtype I64, expected a float dtype/);
    expect(() => st.info('nope')).toThrow(InvalidArgumentError);
  });
});

describe('safetensors files on disk', () => {
  it('writes atomically (no temp file left) and reads back from the path', async () => {
    const path = join(dir, 'model.safetensors');
    await writeFile(path, 'old contents');
    const w = new Float32Array(1000).map((_, i) => Math.sin(i));
    await writeSafetensors(path, { w: { dtype: 'F32', shape: [10, 100], data: w } }, { note: 'x' });
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    const st = await readSafetensors(path);
    try {
      expect(st.source).toBe(path);
      expect(st.metadata).toEqual({ note: 'x' });
      expect(await st.float32('w')).toEqual(w);
    } finally {
      await st.close();
    }
    await expect(st.float32('w')).rejects.toThrow(/closed/);
    expect(new Uint8Array(await readFile(path))).toEqual(encodeSafetensors({ w: { dtype: 'F32', shape: [10, 100], data: w } }, { note: 'x' }));
  });

  it('throws FileFormatError naming the target when it cannot be written', async () => {
    const target = join(dir, 'missing-dir', 'x.safetensors');
    const err = await writeSafetensors(target, { a: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toBe(target);
  });

  it('names the path of a missing or truncated file', async () => {
    const missing = join(dir, 'nope.safetensors');
    await expect(readSafetensors(missing)).rejects.toThrow(new RegExp(`${missing}: cannot open`));
    const cut = join(dir, 'cut.safetensors');
    const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    await writeFile(cut, bytes.subarray(0, bytes.length - 3));
    const err = await readSafetensors(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toBe(cut);
    expect((err as Error).message).toMatch(/out of range.*truncated/);
  });
});

describe('safetensors validation', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('accepts a well-formed hand-made file', async () => {
    const st = await readSafetensors(rawFile(ok, new Uint8Array(8)));
    expect(st.names).toEqual(['a']);
  });

  it('rejects truncation at every level', async () => {
    await expectFormatError(new Uint8Array(5), /truncated: 5 bytes/);
    const noHeader = rawFile(ok, new Uint8Array(8)).subarray(0, 12);
    await expectFormatError(noHeader, /truncated: header claims/);
    await expectFormatError(rawFile(ok, new Uint8Array(6)), /"a".*out of range of the 6-byte data section/);
  });

  it('rejects bad header JSON and bad entries', async () => {
    await expectFormatError(rawFile('{"a": {"dtype": "F32",'), /header is not valid JSON/);
    await expectFormatError(rawFile('[1, 2]'), /header must be a JSON object/);
    await expectFormatError(rawFile({ a: 3 }), /tensor "a": header entry must be an object/);
    await expectFormatError(rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /shape must be an array of non-negative integers/);
    await expectFormatError(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), /data_offsets must be \[begin, end\]/);
    await expectFormatError(rawFile({ __metadata__: { x: 1 } }), /__metadata__.x must be a string/);
    const bad = rawFile(ok, new Uint8Array(8));
    bad[9] = 0xff; // invalid UTF-8 inside the header
    await expectFormatError(bad, /not valid UTF-8/);
  });

  it('rejects unknown dtypes, listing the known ones', async () => {
    await expectFormatError(rawFile({ a: { dtype: 'Q4', shape: [2], data_offsets: [0, 1] } }, new Uint8Array(1)), /unknown dtype "Q4" \(known: F64, F32, F16, BF16/);
  });

  it('rejects a shape × dtype size that differs from the byte range', async () => {
    await expectFormatError(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/);
  });

  it('rejects overlapping ranges, holes and trailing bytes', async () => {
    await expectFormatError(
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /"a" and "b" have overlapping data_offsets/,
    );
    await expectFormatError(rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /data bytes 0..4 \(before tensor "a"\) belong to no tensor/);
    await expectFormatError(rawFile(ok, new Uint8Array(12)), /4 trailing bytes/);
  });

  it('opens files with exotic dtypes but refuses to materialise them', async () => {
    const st = await readSafetensors(rawFile({ a: { dtype: 'I16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await expect(st.tensor('a')).rejects.toThrow(/dtype I16, which ckaad cannot materialise/);
  });

  it('validates writer input', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(InvalidArgumentError);
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [1.5], data: new Float32Array(2) } })).toThrow(/shape/);
    expect(() => encodeSafetensors({ a: { dtype: 'I32', shape: [2], data: new Float32Array(2) as unknown as Int32Array } })).toThrow(/Int32Array for dtype I32/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } })).toThrow(/__metadata__/);
  });
});

// -----------------------------------------------------------------------------------------
// The reference implementation's rules (huggingface/safetensors, safetensors/src/tensor.rs:
// `read_metadata`, `Metadata::validate`, `Dtype`; its JSON is serde_json's), and inputs that
// are not files at all.

/** The error `readSafetensors` rejects with (fails the test if it resolves). */
async function rejection(source: string | Uint8Array, name?: string): Promise<unknown> {
  return readSafetensors(source, name).then(
    async (st) => {
      await st.close();
      throw new Error(`expected ${typeof source === 'string' ? source : 'the bytes'} to be rejected, but it opened`);
    },
    (e: unknown) => e,
  );
}

describe('safetensors paths that are not regular files', () => {
  it('refuses a directory, naming it', async () => {
    const err = await rejection(dir);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).path).toBe(dir);
    expect((err as Error).message).toBe(`${dir}: is a directory, not a regular file`);
  });

  it.skipIf(process.platform === 'win32')('refuses a FIFO at once instead of waiting for a writer', async () => {
    const fifo = join(dir, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still waiting after 2 s'), 2000);
    });
    try {
      const outcome = await Promise.race([rejection(fifo), hang]);
      expect(outcome).toBeInstanceOf(FileFormatError);
      expect((outcome as Error).message).toBe(`${fifo}: is a FIFO (named pipe), not a regular file`);
    } finally {
      clearTimeout(timer);
      // Release a reader that did open the FIFO (the old behaviour), so the process can exit.
      const writer = await open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
      await writer?.close();
      await rm(fifo, { force: true });
    }
  });

  it.skipIf(process.platform === 'win32')('refuses a character device and reads a regular file through a symlink', async () => {
    const err = await rejection('/dev/null');
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as Error).message).toBe('/dev/null: is a character device, not a regular file');
    const target = join(dir, 'target.safetensors');
    const link = join(dir, 'link.safetensors');
    await writeFile(target, encodeSafetensors({ a: { dtype: 'U8', shape: [2], data: new Uint8Array([1, 2]) } }));
    await symlink(target, link);
    const st = await readSafetensors(link);
    expect(Array.from((await st.tensor('a')).data as Uint8Array)).toEqual([1, 2]);
    await st.close();
    await rm(link);
    await rm(target);
  });
});
