import { execFileSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileFormatError, InvalidArgumentError } from '../../src/errors.js';
import { encodeSafetensors, readSafetensors, type SafetensorsTensorInput } from '../../src/io/safetensors.js';
import { writeSafetensors } from '../../src/node/safetensors-file.js';

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

// -----------------------------------------------------------------------------------------
// Fuzzing: valid files built independently of our writer, then mutated.

/** A JSON text fragment written as is (deep nesting, number spellings JSON.stringify cannot produce). */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as a list of entries, so that keys can be duplicated. */
class Obj {
  constructor(readonly entries: [string, Node][]) {}
}
type Node = Raw | Obj | Node[] | string | number | boolean | null;

/**
 * A deep copy of `node`. The header tree is edited in place by the mutations, while the
 * arbitraries hand out shared values (constantFrom's constants, and the same generated values
 * again while shrinking): editing those would carry one case into the next, or make a list
 * that contains itself.
 */
function copyNode(node: Node): Node {
  if (node instanceof Obj) return new Obj(node.entries.map(([k, v]) => [k, copyNode(v)]));
  if (Array.isArray(node)) return node.map(copyNode);
  return node; // Raw and primitives are immutable
}

function serialize(node: Node): string {
  if (node instanceof Raw) return node.text;
  if (node instanceof Obj) return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`).join(',')}}`;
  if (Array.isArray(node)) return `[${node.map(serialize).join(',')}]`;
  return JSON.stringify(node);
}

const ALL_DTYPES: Record<string, number> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
};
const READABLE = new Set(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'U8']);
const FLOATS = new Set(['F64', 'F32', 'F16', 'BF16']);

interface Spec {
  tensors: { name: string; dtype: string; shape: number[]; extra: [string, Node][] }[];
  order: number[]; // sort keys: the data section holds the tensors in this order
  metadata: [string, string][] | null | undefined; // undefined: no __metadata__ key
  metadataFirst: boolean;
  before: string;
  after: string;
  seed: number;
}

const nameArb = fc.oneof(
  fc.constantFrom('w', 'conv1.weight', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'é', '😀', 'a"b', 'x\\y'),
  fc.string({ maxLength: 6 }),
).filter((s) => s !== '__metadata__');

const specArb: fc.Arbitrary<Spec> = fc.record({
  tensors: fc.uniqueArray(
    fc.record({
      name: nameArb,
      dtype: fc.constantFrom(...Object.keys(ALL_DTYPES)),
      shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
      // fields the format ignores
      extra: fc.array(fc.tuple(fc.constantFrom('x', 'note', 'Dtype'), fc.oneof(fc.constantFrom<Node>(null, true, 1.5e300, -7, [], [[new Obj([])]]), fc.string({ maxLength: 4 }))), { maxLength: 1 }),
    }),
    { selector: (t) => t.name, maxLength: 4 },
  ),
  order: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  metadata: fc.option(fc.option(fc.uniqueArray(fc.tuple(nameArb, fc.string({ maxLength: 8 })), { selector: ([k]) => k, maxLength: 3 }), { nil: null }), { nil: undefined }),
  metadataFirst: fc.boolean(),
  before: fc.stringMatching(/^[ \t\n\r]{0,3}$/),
  after: fc.stringMatching(/^[ \t\n\r]{0,3}$/),
  seed: fc.nat(),
});

interface Built {
  header: Obj;
  data: Uint8Array;
  before: string;
  after: string;
  expected: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>;
  metadata: [string, string][];
}

/** A valid file for `spec`: sub-byte tensors get a trailing dimension of 8, so they fill whole bytes. */
function build(spec: Spec): Built {
  const tensors = spec.tensors.map((t) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    const shape = (count * ALL_DTYPES[t.dtype]) % 8 === 0 ? t.shape : [...t.shape, 8];
    return { ...t, shape, size: (shape.reduce((a, b) => a * b, 1) * ALL_DTYPES[t.dtype]) / 8 };
  });
  const layout = tensors.map((t, i) => ({ t, key: spec.order[i] ?? 0 })).sort((a, b) => a.key - b.key);
  const total = tensors.reduce((a, t) => a + t.size, 0);
  const data = new Uint8Array(total).map((_, i) => (spec.seed + i * 131) & 0xff);
  const offsets = new Map<string, [number, number]>();
  let cursor = 0;
  for (const { t } of layout) {
    offsets.set(t.name, [cursor, cursor + t.size]);
    cursor += t.size;
  }
  const entries: [string, Node][] = tensors.map((t) => [
    t.name,
    new Obj([['dtype', t.dtype], ['shape', [...t.shape]], ['data_offsets', offsets.get(t.name) as [number, number]], ...t.extra.map(([k, v]): [string, Node] => [k, copyNode(v)])]),
  ]);
  if (spec.metadata !== undefined) {
    const meta: [string, Node] = ['__metadata__', spec.metadata === null ? null : new Obj(spec.metadata)];
    if (spec.metadataFirst) entries.unshift(meta);
    else entries.push(meta);
  }
  const expected = new Map(tensors.map((t) => {
    const [b, e] = offsets.get(t.name) as [number, number];
    return [t.name, { dtype: t.dtype, shape: t.shape, bytes: data.slice(b, e) }];
  }));
  return { header: new Obj(entries), data, before: spec.before, after: spec.after, expected, metadata: spec.metadata ?? [] };
}

function fileBytes(headerText: string, data: Uint8Array, lengthFix = 0): Uint8Array {
  const text = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length + lengthFix), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** Junk a header value can be replaced with: wrong types, odd numbers, deep nesting. */
const junkArb: fc.Arbitrary<Node> = fc.oneof(
  fc.constantFrom<Node>(null, true, false, 'F32', 'Q4', 'f32', '', -1, 1.5, 0, 3, [], [1, 2, 3], [[1]], new Obj([])),
  fc.constantFrom('1e400', '-1e400', '18446744073709551616', '18446744073709551615', '9007199254740993', '2.0', '-0', '1E2', '00', '+1', '.5', 'NaN', 'Infinity', '"\\ud800"', '"\\x"', 'nul', '[1,]', '{"a"}').map((t) => new Raw(t)),
  // nesting around serde_json's limit of 128, and far beyond it
  fc
    .tuple(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 300 }) }, { weight: 1, arbitrary: fc.constantFrom(10_000, 20_000) }), fc.boolean())
    .map(([n, arr]) => new Raw(deep(n, arr ? 'array' : 'object'))),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Node>,
);

type Mutation =
  | { kind: 'field'; tensor: number; field: 'dtype' | 'shape' | 'data_offsets' | 'extra'; value: Node }
  | { kind: 'element'; tensor: number; field: 'shape' | 'data_offsets'; index: number; value: Node }
  | { kind: 'remove'; tensor: number; field: 'dtype' | 'shape' | 'data_offsets' }
  | { kind: 'duplicate'; entry: number; inside: boolean }
  | { kind: 'metadata'; value: Node }
  | { kind: 'shift'; tensor: number; delta: number; which: 0 | 1 | 2 }
  | { kind: 'entry'; entry: number; value: Node }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; cut: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array; fixLength: boolean }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'length'; value: bigint };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), tensor: fc.nat(), field: fc.constantFrom('dtype' as const, 'shape' as const, 'data_offsets' as const, 'extra' as const), value: junkArb }),
  fc.record({ kind: fc.constant('element' as const), tensor: fc.nat(), field: fc.constantFrom('shape' as const, 'data_offsets' as const), index: fc.nat(), value: junkArb }),
  fc.record({ kind: fc.constant('remove' as const), tensor: fc.nat(), field: fc.constantFrom('dtype' as const, 'shape' as const, 'data_offsets' as const) }),
  fc.record({ kind: fc.constant('duplicate' as const), entry: fc.nat(), inside: fc.boolean() }),
  fc.record({ kind: fc.constant('metadata' as const), value: junkArb }),
  fc.record({ kind: fc.constant('shift' as const), tensor: fc.nat(), delta: fc.integer({ min: -16, max: 16 }).filter((d) => d !== 0), which: fc.constantFrom(0 as const, 1 as const, 2 as const) }),
  fc.record({ kind: fc.constant('entry' as const), entry: fc.nat(), value: junkArb }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), cut: fc.integer({ min: 1, max: 1_000 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }), fixLength: fc.boolean() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('length' as const), value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 300n })) }),
);

/** Mutations after which the file is certainly invalid, when applied alone to a valid file. */
function certainlyInvalid(m: Mutation, built: Built): boolean {
  switch (m.kind) {
    case 'remove':
    case 'truncate':
    case 'append':
      return built.expected.size > 0 || m.kind !== 'remove';
    case 'duplicate':
      return built.header.entries.length > 0;
    case 'field':
    case 'element':
    case 'metadata':
    case 'entry':
      // Nesting beyond serde_json's limit is rejected wherever it is.
      if (!(m.value instanceof Raw && /^(\[|\{"k":){130}/.test(m.value.text))) return false;
      if (m.kind === 'metadata') return true;
      return m.kind === 'entry' ? built.header.entries.length > 0 : built.expected.size > 0;
    default:
      return false;
  }
}

/** Applies one mutation: structural ones to the header tree, byte ones to the file. */
function mutate(file: { header: Obj; bytes: Uint8Array | null }, m: Mutation, built: Built): void {
  const header = file.header;
  const tensorEntries = header.entries.filter(([k, v]) => k !== '__metadata__' && v instanceof Obj);
  const pick = <T,>(xs: T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);
  const render = () => fileBytes(built.before + serialize(header) + built.after, built.data);
  switch (m.kind) {
    case 'field':
    case 'remove': {
      const t = pick(tensorEntries, m.tensor)?.[1] as Obj | undefined;
      if (t === undefined) return;
      const at = t.entries.findIndex(([k]) => k === m.field);
      if (m.kind === 'remove') {
        if (at >= 0) t.entries.splice(at, 1);
      } else if (at >= 0) t.entries[at] = [m.field, copyNode(m.value)];
      else t.entries.push([m.field, copyNode(m.value)]);
      break;
    }
    case 'element': {
      const t = pick(tensorEntries, m.tensor)?.[1] as Obj | undefined;
      const list = t?.entries.find(([k]) => k === m.field)?.[1];
      if (!Array.isArray(list)) return;
      list[m.index % (list.length + 1)] = copyNode(m.value);
      break;
    }
    case 'duplicate': {
      const e = pick(header.entries, m.entry);
      if (e === undefined) return;
      if (m.inside && e[1] instanceof Obj && e[1].entries.length > 0) e[1].entries.push(e[1].entries[0]);
      else header.entries.push(e);
      break;
    }
    case 'metadata': {
      const at = header.entries.findIndex(([k]) => k === '__metadata__');
      if (at >= 0) header.entries[at] = ['__metadata__', copyNode(m.value)];
      else header.entries.push(['__metadata__', copyNode(m.value)]);
      break;
    }
    case 'entry': {
      const e = pick(header.entries, m.entry);
      if (e !== undefined) header.entries[header.entries.indexOf(e)] = [e[0], copyNode(m.value)];
      break;
    }
    case 'shift': {
      const t = pick(tensorEntries, m.tensor)?.[1] as Obj | undefined;
      const offsets = t?.entries.find(([k]) => k === 'data_offsets')?.[1];
      if (!Array.isArray(offsets)) return;
      for (const i of m.which === 2 ? [0, 1] : [m.which]) {
        if (typeof offsets[i] === 'number') offsets[i] = (offsets[i] as number) + m.delta;
      }
      break;
    }
    default: {
      const bytes = file.bytes ?? render();
      if (m.kind === 'flip') {
        if (bytes.length > 0) bytes[m.at % bytes.length] ^= m.xor;
        file.bytes = bytes;
      } else if (m.kind === 'truncate') {
        file.bytes = bytes.slice(0, Math.max(0, bytes.length - m.cut));
      } else if (m.kind === 'insert') {
        const at = m.at % (bytes.length + 1);
        const out = new Uint8Array(bytes.length + m.bytes.length);
        out.set(bytes.subarray(0, at));
        out.set(m.bytes, at);
        out.set(bytes.subarray(at), at + m.bytes.length);
        if (m.fixLength && out.length >= 8 && at >= 8) {
          const view = new DataView(out.buffer);
          view.setBigUint64(0, view.getBigUint64(0, true) + BigInt(m.bytes.length), true);
        }
        file.bytes = out;
      } else if (m.kind === 'append') {
        const out = new Uint8Array(bytes.length + m.bytes.length);
        out.set(bytes);
        out.set(m.bytes, bytes.length);
        file.bytes = out;
      } else if (bytes.length >= 8) {
        new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, m.value, true);
        file.bytes = bytes;
      }
      return;
    }
  }
  // A structural mutation after a byte-level one re-renders the header (bytes mutations then replay).
  if (file.bytes !== null) file.bytes = null;
}

async function expectFileFormatError(p: Promise<unknown>): Promise<void> {
  const e = await p.then(
    () => new Error('expected a FileFormatError, but it resolved'),
    (err: unknown) => err,
  );
  if (!(e instanceof FileFormatError)) throw e;
}

/** What a read gives: a summary of the reader, or the FileFormatError's message; anything else is thrown. */
async function outcome(source: string | Uint8Array, name: string): Promise<{ ok: true; summary: unknown } | { ok: false; message: string }> {
  let st;
  try {
    st = await readSafetensors(source, name);
  } catch (e) {
    if (e instanceof FileFormatError && e.path === name) return { ok: false, message: e.message };
    throw e;
  }
  try {
    const tensors = [];
    for (const n of st.names) {
      const info = st.info(n);
      const raw = await st.raw(n);
      if (raw.length !== info.end - info.begin) throw new Error(`raw("${n}") has ${raw.length} bytes, not ${info.end - info.begin}`);
      // Materialising throws nothing but FileFormatError (for dtypes ckaad does not convert).
      if (READABLE.has(info.dtype)) await st.tensor(n);
      else await expectFileFormatError(st.tensor(n));
      if (!FLOATS.has(info.dtype)) await expectFileFormatError(st.float32(n));
      tensors.push([n, info.dtype, info.shape, info.begin, info.end, Array.from(raw)]);
    }
    return { ok: true, summary: { tensors, metadata: Object.entries(st.metadata) } };
  } finally {
    await st.close();
  }
}

/** Checks an accepted file against JSON.parse's reading of its header and the format's tiling rule. */
function checkAccepted(bytes: Uint8Array, summary: unknown): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  const json = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] } | Record<string, string> | null>;
  const { tensors, metadata } = summary as { tensors: [string, string, number[], number, number][]; metadata: [string, string][] };
  expect(tensors.map(([name]) => name).sort()).toEqual(Object.keys(json).filter((k) => k !== '__metadata__').sort());
  for (const [name, dtype, shape, begin, end] of tensors) {
    const e = json[name] as { dtype: string; shape: number[]; data_offsets: number[] };
    expect([dtype, shape, begin, end]).toEqual([e.dtype, e.shape.map(Math.abs), Math.abs(e.data_offsets[0]), Math.abs(e.data_offsets[1])]);
  }
  expect(metadata).toEqual(Object.entries(json['__metadata__'] ?? {}));
  const ranges = tensors.map(([, , , b, e]) => [b, e]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [b, e] of ranges) {
    expect(b).toBe(cursor);
    cursor = e;
  }
  expect(cursor).toBe(bytes.length - 8 - n);
}

const caseArb = fc.record({ spec: specArb, mutations: fc.array(mutationArb, { maxLength: 3 }) });

function render(spec: Spec, mutations: Mutation[]): { built: Built; bytes: Uint8Array } {
  const built = build(spec);
  const file: { header: Obj; bytes: Uint8Array | null } = { header: built.header, bytes: null };
  const byteLevel: Mutation[] = [];
  for (const m of mutations) {
    if (['flip', 'truncate', 'insert', 'append', 'length'].includes(m.kind)) byteLevel.push(m);
    else mutate(file, m, built);
  }
  for (const m of byteLevel) mutate(file, m, built);
  return { built, bytes: file.bytes ?? fileBytes(built.before + serialize(built.header) + built.after, built.data) };
}

describe('safetensors under mutated headers (property)', () => {
  it('gives a valid reader or a FileFormatError naming the file, never another error or a hang (10,000 cases)', async () => {
    const RUNS = 10_000;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ spec, mutations }) => {
        const { built, bytes } = render(spec, mutations);
        const result = await outcome(bytes, 'fuzz.safetensors');
        if (mutations.length === 0) {
          // Unmutated: accepted, with exactly the content it was built with.
          expect(result.ok).toBe(true);
          const { tensors, metadata } = (result as { summary: { tensors: [string, string, number[], number, number, number[]][]; metadata: [string, string][] } }).summary;
          expect(new Map(tensors.map(([n, d, s, , , raw]) => [n, { dtype: d, shape: s, bytes: Uint8Array.from(raw) }]))).toEqual(built.expected);
          // (an object's keys come in JavaScript's order: integer-like keys first)
          expect(metadata.slice().sort()).toEqual(built.metadata.slice().sort());
        }
        if (mutations.length === 1 && certainlyInvalid(mutations[0], built)) expect(result.ok).toBe(false);
        if (result.ok) {
          accepted++;
          checkAccepted(bytes, result.summary);
        }
      }),
      { numRuns: RUNS, timeout: 2_000, markInterruptAsFailure: true },
    );
    // Both outcomes are exercised.
    expect(accepted).toBeGreaterThan(0.1 * RUNS);
    expect(accepted).toBeLessThan(0.9 * RUNS);
  }, 60_000);

  it('reading a path and reading its bytes give the same result (500 cases)', async () => {
    const path = join(dir, 'same.safetensors');
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ spec, mutations }) => {
        const { bytes } = render(spec, mutations);
        await writeFile(path, bytes);
        expect(await outcome(path, path)).toEqual(await outcome(bytes, path));
      }),
      { numRuns: 500, timeout: 2_000, markInterruptAsFailure: true },
    );
    await rm(path, { force: true });
  }, 60_000);
});
