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

/** `levels` nested arrays, or objects {"k": …} around a 0. */
const deep = (levels: number, kind: 'array' | 'object' = 'array'): string =>
  kind === 'array' ? '['.repeat(levels) + ']'.repeat(levels) : '{"k":'.repeat(levels) + '0' + '}'.repeat(levels);

describe('safetensors header rules of the reference implementation', () => {
  const entry = '"dtype":"F32","shape":[2],"data_offsets":[0,8]';

  it('rejects a dtype, shape or data_offsets value nested 10,000 levels deep with a FileFormatError, not a stack overflow', async () => {
    for (const header of [
      `{"a":{"dtype":${deep(10_000)},"shape":[2],"data_offsets":[0,8]}}`,
      `{"a":{"dtype":"F32","shape":${deep(10_000)},"data_offsets":[0,8]}}`,
      `{"a":{"dtype":"F32","shape":[2],"data_offsets":${deep(10_000)}}}`,
      `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,${deep(10_000, 'object')}]}}`,
      `{"__metadata__":{"k":${deep(10_000)}},"a":{${entry}}}`,
    ]) {
      await expectFormatError(rawFile(header, new Uint8Array(8)), /nested deeper than 127 levels/);
    }
  });

  it("rejects nesting deeper than serde_json's limit anywhere, even in a field the format ignores, and accepts 127 levels", async () => {
    // top-level object (1) → tensor entry (2) → unknown field with n more levels
    const withExtra = (levels: number) => rawFile(`{"a":{${entry},"extra":${deep(levels)}}}`, new Uint8Array(8));
    const st = await readSafetensors(withExtra(125));
    expect(st.names).toEqual(['a']);
    await expectFormatError(withExtra(126), /nested deeper than 127 levels at character/);
    await expectFormatError(withExtra(10_000), /nested deeper than 127 levels/);
  });

  it('accepts JSON whitespace before and after the header object, as the reference does (its test_whitespace_leading_padded_header)', async () => {
    for (const [before, after] of [[' ', ''], ['\n', ''], ['\t\n', '\r '], ['', '\r\n\t ']]) {
      const st = await readSafetensors(rawFile(`${before}{${'"a":{' + entry + '}'}}${after}`, new Uint8Array(8)));
      expect(st.names).toEqual(['a']);
    }
  });

  it('rejects anything else before the header object, a byte-order mark included', async () => {
    const bom = rawFile(`\uFEFF{"a":{${entry}}}`, new Uint8Array(8));
    await expectFormatError(bom, /header is not valid JSON \(expected a value at character 0\)/);
    await expectFormatError(rawFile(`\u00a0{"a":{${entry}}}`, new Uint8Array(8)), /expected a value at character 0/);
    await expectFormatError(rawFile(`{"a":{${entry}}}x`, new Uint8Array(8)), /unexpected characters after the header/);
  });

  it('reads "__metadata__": null as a file without metadata, as the reference does (Option<HashMap<String, String>>)', async () => {
    const st = await readSafetensors(rawFile(`{"__metadata__":null,"a":{${entry}}}`, new Uint8Array(8)));
    expect(st.names).toEqual(['a']);
    expect(Object.keys(st.metadata)).toEqual([]);
    await expectFormatError(rawFile(`{"__metadata__":[],"a":{${entry}}}`, new Uint8Array(8)), /__metadata__ must be an object of string values, found \[\]/);
  });

  it('keeps "__proto__" and other prototype names as metadata keys and tensor names; absent keys read as undefined', async () => {
    const st = await readSafetensors(
      rawFile(`{"__metadata__":{"__proto__":"p","constructor":"c","a":"b"},"__proto__":{${entry}}}`, new Uint8Array(8)),
    );
    expect(Object.entries(st.metadata)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['a', 'b'],
    ]);
    expect(st.metadata['toString']).toBeUndefined();
    expect(st.names).toEqual(['__proto__']);
    expect(st.info('__proto__').shape).toEqual([2]);
    // and the writer writes them back
    const back = await readSafetensors(
      encodeSafetensors({ ['__proto__']: { dtype: 'U8', shape: [1], data: new Uint8Array([7]) } }, st.metadata),
    );
    expect(back.names).toEqual(['__proto__']);
    expect(Object.entries(back.metadata)).toEqual(Object.entries(st.metadata));
  });

  it('rejects duplicate keys (the format disallows them), naming the key and its tensor', async () => {
    await expectFormatError(rawFile(`{"a":{${entry}},"a":{${entry}}}`, new Uint8Array(8)), /duplicate key "a" at character/);
    await expectFormatError(rawFile(`{"a":{${entry},"dtype":"F32"}}`, new Uint8Array(8)), /duplicate key "dtype" in "a"/);
    await expectFormatError(rawFile(`{"__metadata__":{"k":"1","k":"2"}}`), /duplicate key "k" in "__metadata__"/);
    await expectFormatError(rawFile(`{"__metadata__":{},"__metadata__":{}}`), /duplicate key "__metadata__"/);
  });

  it('reads shape and data_offsets integers as serde_json reads usize: no fraction, no exponent, no overflow', async () => {
    const withShape = (dim: string) => rawFile(`{"a":{"dtype":"F32","shape":[${dim}],"data_offsets":[0,8]}}`, new Uint8Array(8));
    for (const dim of ['2.0', '2e0', '0.2e1', '-2', '18446744073709551618']) {
      await expectFormatError(withShape(dim), /shape must be an array of non-negative integers/);
    }
    await expectFormatError(withShape('1e400'), /header is not valid JSON \(number out of range at character/);
    await expectFormatError(rawFile(`{"a":{${entry},"x":-1e999}}`, new Uint8Array(8)), /number out of range/);
    expect((await readSafetensors(withShape('2'))).info('a').shape).toEqual([2]);
    const zero = await readSafetensors(rawFile('{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,-0]}}'));
    expect(zero.info('a')).toMatchObject({ shape: [0], begin: 0, end: 0 });
    await expectFormatError(rawFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0,0]}}'), /data_offsets must be \[begin, end\]/);
  });

  it('rejects shapes whose element count or byte size overflows 64 bits (test_validation_overflow)', async () => {
    await expectFormatError(
      rawFile('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', new Uint8Array(16)),
      /element count of shape \[2, 18446744073709551614\] overflows 64 bits/,
    );
    await expectFormatError(
      rawFile('{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', new Uint8Array(16)),
      /byte size of shape \[2, 9223372036854775807\] of I32 overflows 64 bits/,
    );
  });

  it("accepts every dtype of the reference's Dtype enum, sub-byte ones only in whole bytes", async () => {
    const bits: Record<string, number> = {
      BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8,
      F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
    };
    for (const [dtype, b] of Object.entries(bits)) {
      const bytes = b; // 8 elements of b bits
      const st = await readSafetensors(rawFile({ t: { dtype, shape: [2, 4], data_offsets: [0, bytes] } }, new Uint8Array(bytes)));
      expect(st.info('t').dtype).toBe(dtype);
      expect((await st.raw('t')).length).toBe(bytes);
    }
    await expectFormatError(rawFile({ t: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }, new Uint8Array(2)), /is 12 bits, not a whole number of bytes/);
    await expectFormatError(rawFile({ t: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unknown dtype "f32"/);
  });

  it('rejects a lone UTF-16 surrogate in a \\u escape, as serde_json does', async () => {
    await expectFormatError(rawFile('{"__metadata__":{"k":"\\ud800"}}'), /lone high surrogate/);
    await expectFormatError(rawFile('{"__metadata__":{"\\udc00":"v"}}'), /lone low surrogate/);
    const pair = await readSafetensors(rawFile('{"__metadata__":{"k":"\\ud83d\\ude00"}}'));
    expect(pair.metadata.k).toBe('😀');
  });
});

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
