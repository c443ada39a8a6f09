/**
 * A reader and writer for the safetensors format (https://huggingface.co/docs/safetensors):
 *
 *   [8 bytes: header length L, unsigned little-endian]
 *   [L bytes: UTF-8 JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {...}}]
 *   [data section: the tensors' bytes, little-endian, at [begin, end) relative to its start]
 *
 * The header is validated when a file is opened; tensor data is read and converted only when
 * a tensor is asked for, so a caller that needs ten tensors of a 500 MB file never holds the
 * other tensors as Float32Arrays (and, when reading from a path, never even reads their bytes).
 *
 * Reads from any {@link ByteSource}: bytes, a Blob/File, a URL, or (Node, with ckaad/node) a
 * path. Writing a file is ckaad/node's `writeSafetensors`; here, {@link encodeSafetensors}.
 */

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import type { RandomAccessFile } from '../platform.js';
import { floatToHalf, halfToFloat } from './float16.js';
import { openByteSource, sourceName } from './byte-source.js';
import type { ByteSource } from './byte-source.js';

// -----------------------------------------------------------------------------------------
// dtypes

/**
 * Every dtype of the safetensors format, with its size in bits, as the reference
 * implementation (huggingface/safetensors, safetensors/src/tensor.rs, `Dtype::bitsize`) lists
 * them. F4 and the F6 types are smaller than a byte: a tensor of them must fill whole bytes.
 */
const DTYPE_BITS = {
  F64: 64,
  F32: 32,
  F16: 16,
  BF16: 16,
  F8_E4M3: 8,
  F8_E5M2: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  F6_E2M3: 6,
  F6_E3M2: 6,
  F4: 4,
  C64: 64,
  I64: 64,
  I32: 32,
  I16: 16,
  I8: 8,
  U64: 64,
  U32: 32,
  U16: 16,
  U8: 8,
  BOOL: 8,
} as const;

/** A dtype name of the safetensors format (files with any other dtype are rejected). */
export type SafetensorsDtype = keyof typeof DTYPE_BITS;

/** Floating-point dtypes that {@link SafetensorsReader.float32} converts to a Float32Array. */
const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16'];

/** Dtypes {@link SafetensorsReader.tensor} can materialise. */
const READABLE_DTYPES: readonly SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'U8'];

function isDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BITS, s);
}

/** Name, dtype, shape and byte range of one tensor, as read from the header. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Start of the tensor's bytes, relative to the start of the data section. */
  readonly begin: number;
  /** End (exclusive) of the tensor's bytes, relative to the start of the data section. */
  readonly end: number;
}

/** A materialised tensor: F64/F32/F16/BF16 → Float32Array, I64 → BigInt64Array, I32 → Int32Array, U8 → Uint8Array. */
export type SafetensorsTensor =
  | { dtype: 'F64' | 'F32' | 'F16' | 'BF16'; shape: number[]; data: Float32Array }
  | { dtype: 'I64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array }
  | { dtype: 'U8'; shape: number[]; data: Uint8Array };

/**
 * A tensor to write. Float32Array data can be stored as F32, F16 or BF16 (converted with
 * round-to-nearest-even); integer data as I64, I32 or U8.
 */
export type SafetensorsTensorInput =
  | { dtype: 'F32' | 'F16' | 'BF16'; shape: readonly number[]; data: Float32Array }
  | { dtype: 'I64'; shape: readonly number[]; data: BigInt64Array }
  | { dtype: 'I32'; shape: readonly number[]; data: Int32Array }
  | { dtype: 'U8'; shape: readonly number[]; data: Uint8Array };

/** Largest header accepted (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// -----------------------------------------------------------------------------------------
// the header's JSON, parsed without recursion
//
// The reference implementation parses the header with serde_json (safetensors/src/tensor.rs,
// `SafeTensors::read_metadata`); this parser accepts the same JSON: RFC 8259 with whitespace
// (space, tab, LF, CR) before and after the value, at most 127 nested arrays/objects
// (serde_json's recursion limit of 128), no number that overflows a double, no lone UTF-16
// surrogate in a \u escape. It is iterative, so no nesting can exhaust the stack. Beyond
// serde_json it rejects duplicate keys, which the format's specification disallows.

/** A JSON number, kept as its source text so that integers can be checked exactly. */
class JsonNumber {
  constructor(readonly text: string) {}
}

/** An object of the header: insertion-ordered, and free of prototype keys such as `__proto__`. */
type JsonObject = Map<string, JsonValue>;
type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** Deepest nesting of arrays and objects serde_json accepts (its recursion limit is 128). */
const MAX_NESTING = 127;

/** A syntax error at a character offset of the header text. */
class JsonSyntaxError extends Error {}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** An array or object being filled, with the key its next value goes to. */
type Frame = { kind: 'array'; value: JsonValue[] } | { kind: 'object'; value: JsonObject; key: string };

function parseJson(text: string): JsonValue {
  const n = text.length;
  let i = 0;
  const stack: Frame[] = [];

  const error = (problem: string, at = i): JsonSyntaxError =>
    new JsonSyntaxError(at >= n ? `${problem}: unexpected end of the header` : `${problem} at character ${at}`);
  const skipWhitespace = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) i++;
      else return;
    }
  };
  const hex4 = (): number => {
    const digits = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) throw error('invalid \\u escape');
    i += 4;
    return parseInt(digits, 16);
  };
  const parseString = (): string => {
    i++; // the opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) throw error('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) throw error('control character in a string');
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      if (e === 'u') {
        i += 2;
        const unit = hex4();
        if (unit >= 0xdc00 && unit <= 0xdfff) throw error('lone low surrogate in a \\u escape', i - 6);
        if (unit >= 0xd800 && unit <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') throw error('lone high surrogate in a \\u escape', i - 6);
          i += 2;
          const low = hex4();
          if (low < 0xdc00 || low > 0xdfff) throw error('lone high surrogate in a \\u escape', i - 12);
          out += String.fromCharCode(unit, low);
        } else {
          out += String.fromCharCode(unit);
        }
      } else if (e !== undefined && Object.prototype.hasOwnProperty.call(ESCAPES, e)) {
        out += ESCAPES[e];
        i += 2;
      } else {
        throw error('invalid escape in a string');
      }
      start = i;
    }
  };
  /** Reads `"key" :` in an object whose keys so far are `object`'s. */
  const parseKey = (object: JsonObject): string => {
    skipWhitespace();
    if (text.charCodeAt(i) !== 0x22) throw error('expected a string key');
    const at = i;
    const key = parseString();
    if (object.has(key)) {
      // Name the tensor (top-level key) the duplicate is inside of, if any.
      const root = stack[0];
      const inside = root !== undefined && root.kind === 'object' && root.value !== object ? ` in ${quote(root.key)}` : '';
      throw error(`duplicate key ${quote(key)}${inside}`, at);
    }
    skipWhitespace();
    if (text.charCodeAt(i) !== 0x3a) throw error("expected ':'");
    i++;
    return key;
  };
  const open = (): void => {
    if (stack.length >= MAX_NESTING) throw error(`arrays and objects nested deeper than ${MAX_NESTING} levels`);
    i++;
    skipWhitespace();
  };

  for (;;) {
    // A value starts at i.
    skipWhitespace();
    let value: JsonValue;
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      open();
      const object: JsonObject = new Map();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        value = object;
      } else {
        stack.push({ kind: 'object', value: object, key: parseKey(object) });
        continue;
      }
    } else if (c === 0x5b) {
      open();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        value = [];
      } else {
        stack.push({ kind: 'array', value: [] });
        continue;
      }
    } else if (c === 0x22) {
      value = parseString();
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      if (match === null) throw error('invalid number');
      const literal = match[0];
      if (!Number.isFinite(Number(literal))) throw error('number out of range');
      value = new JsonNumber(literal);
      i += literal.length;
    } else if (text.startsWith('true', i)) {
      value = true;
      i += 4;
    } else if (text.startsWith('false', i)) {
      value = false;
      i += 5;
    } else if (text.startsWith('null', i)) {
      value = null;
      i += 4;
    } else {
      throw error('expected a value');
    }

    // Store the value in its container; close containers that end here.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        skipWhitespace();
        if (i < n) throw error('unexpected characters after the header');
        return value;
      }
      if (top.kind === 'array') top.value.push(value);
      else top.value.set(top.key, value);
      skipWhitespace();
      const d = text.charCodeAt(i);
      if (d === 0x2c) {
        i++;
        if (top.kind === 'object') top.key = parseKey(top.value);
        break;
      }
      if (d === (top.kind === 'array' ? 0x5d : 0x7d)) {
        i++;
        stack.pop();
        value = top.value;
        continue;
      }
      throw error(top.kind === 'array' ? "expected ',' or ']'" : "expected ',' or '}'");
    }
  }
}

/** A string for a message: JSON-quoted, cut after 60 characters. */
function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

/** A short, non-recursive description of a JSON value for a message. */
function describe(v: JsonValue | undefined): string {
  const scalar = (x: JsonValue | undefined): string => {
    if (x === undefined) return 'nothing';
    if (x === null) return 'null';
    if (typeof x === 'boolean') return String(x);
    if (typeof x === 'string') return quote(x);
    if (x instanceof JsonNumber) return x.text.length > 30 ? `${x.text.slice(0, 30)}…` : x.text;
    return Array.isArray(x) ? '[…]' : '{…}';
  };
  if (!Array.isArray(v)) return scalar(v);
  const shown = v.slice(0, 8).map(scalar).join(', ');
  return `[${shown}${v.length > 8 ? ', …' : ''}]`;
}

// -----------------------------------------------------------------------------------------
// header validation, as the reference implementation does it

const U64_MAX = 2n ** 64n - 1n;

/** A JSON integer in 0..2^64 − 1, as serde_json reads a `usize` (−0 included), else undefined. */
function u64(v: JsonValue | undefined): bigint | undefined {
  if (!(v instanceof JsonNumber) || !/^-?[0-9]+$/.test(v.text)) return undefined;
  const x = BigInt(v.text);
  return x >= 0n && x <= U64_MAX ? x : undefined;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates the JSON header against a data section of `dataSize` bytes, with the
 * rules of the reference implementation (huggingface/safetensors, safetensors/src/tensor.rs):
 * a JSON object; `__metadata__` absent, `null` or an object of strings; every other key a
 * tensor `{dtype, shape, data_offsets}` (other fields ignored) with a known dtype, a shape of
 * unsigned 64-bit integers whose element count × dtype bits neither overflows 64 bits nor
 * leaves a partial byte, and `data_offsets` [begin, end] spanning exactly that many bytes;
 * sorted by offsets, the tensors tile the data section from 0 to its end, with no gap or overlap.
 */
function parseHeader(
  path: string,
  headerBytes: Uint8Array,
  dataSize: number,
): { tensors: Map<string, SafetensorsTensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new FileFormatError(path, 'header is not valid UTF-8');
  }
  let json: JsonValue;
  try {
    json = parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new FileFormatError(path, `header is not valid JSON (${e.message})`);
    throw e;
  }
  if (!(json instanceof Map)) {
    throw new FileFormatError(path, `header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}, found ${describe(json)}`);
  }

  // No prototype: a key such as "__proto__" or "constructor" is kept as data, and a key the
  // file does not have reads as undefined.
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of json) {
    if (name === '__metadata__') {
      if (entry === null) continue; // the reference reads null as "no metadata"
      if (!(entry instanceof Map)) throw new FileFormatError(path, `__metadata__ must be an object of string values, found ${describe(entry)}`);
      for (const [k, v] of entry) {
        if (typeof v !== 'string') throw new FileFormatError(path, `__metadata__.${k} must be a string, found ${describe(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const what = `tensor ${quote(name)}`;
    if (!(entry instanceof Map)) {
      throw new FileFormatError(path, `${what}: header entry must be an object {dtype, shape, data_offsets}, found ${describe(entry)}`);
    }
    const dtype = entry.get('dtype');
    const shape = entry.get('shape');
    const offsets = entry.get('data_offsets');
    if (typeof dtype !== 'string' || !isDtype(dtype)) {
      throw new FileFormatError(path, `${what}: unknown dtype ${describe(dtype)} (known: ${Object.keys(DTYPE_BITS).join(', ')})`);
    }
    const dims = Array.isArray(shape) ? shape.map(u64) : undefined;
    if (dims === undefined || dims.some((d) => d === undefined)) {
      throw new FileFormatError(path, `${what}: shape must be an array of non-negative integers, found ${describe(shape)}`);
    }
    const range = Array.isArray(offsets) && offsets.length === 2 ? offsets.map(u64) : undefined;
    if (range === undefined || range[0] === undefined || range[1] === undefined || range[0] > range[1]) {
      throw new FileFormatError(path, `${what}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, found ${describe(offsets)}`);
    }
    // Element count and bit size, checked for overflow in the reference's order.
    let count = 1n;
    for (const d of dims as bigint[]) {
      count *= d;
      if (count > U64_MAX) throw new FileFormatError(path, `${what}: the element count of shape ${describe(shape)} overflows 64 bits`);
    }
    const bits = count * BigInt(DTYPE_BITS[dtype]);
    if (bits > U64_MAX) throw new FileFormatError(path, `${what}: the byte size of shape ${describe(shape)} of ${dtype} overflows 64 bits`);
    if (bits % 8n !== 0n) {
      throw new FileFormatError(path, `${what}: shape ${describe(shape)} of ${dtype} is ${bits} bits, not a whole number of bytes`);
    }
    const [begin, end] = range as [bigint, bigint];
    if (end - begin !== bits / 8n) {
      throw new FileFormatError(
        path,
        `${what}: shape ${describe(shape)} of ${dtype} needs ${bits / 8n} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > BigInt(dataSize)) {
      throw new FileFormatError(path, `${what}: data_offsets [${begin}, ${end}] are out of range of the ${dataSize}-byte data section (truncated file?)`);
    }
    // Offsets are now ≤ dataSize, hence exact as numbers; a dimension can still exceed 2^53 if another is 0.
    if ((dims as bigint[]).some((d) => d > BigInt(Number.MAX_SAFE_INTEGER))) {
      throw new FileFormatError(path, `${what}: shape ${describe(shape)} has a dimension above 2^53 − 1, which ckaad cannot represent`);
    }
    tensors.set(name, { name, dtype, shape: (dims as bigint[]).map(Number), begin: Number(begin), end: Number(end) });
  }

  // The byte ranges must tile the data section exactly: no overlap, no hole, nothing after.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < cursor) {
      throw new FileFormatError(path, `tensors ${quote(previous?.name ?? '')} and ${quote(t.name)} have overlapping data_offsets`);
    }
    if (t.begin > cursor) {
      throw new FileFormatError(path, `data bytes ${cursor}..${t.begin} (before tensor ${quote(t.name)}) belong to no tensor`);
    }
    cursor = t.end;
    previous = t;
  }
  if (cursor !== dataSize) {
    throw new FileFormatError(path, `${dataSize - cursor} trailing bytes after the last tensor's data`);
  }
  return { tensors, metadata };
}

// -----------------------------------------------------------------------------------------
// dtype conversion

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float → bfloat16 bits, round to nearest even. */
function floatToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) & 0x8000) | 0x7fc0; // NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Copies `bytes` into a fresh, aligned buffer (safetensors data need not be aligned). */
function aligned(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

function decodeFloat(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN_HOST) return new Float32Array(aligned(bytes));
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  const out = new Float32Array(count);
  if (dtype === 'F64') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  } else {
    // BF16: the upper half of a float32
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  }
  return out;
}

// -----------------------------------------------------------------------------------------
// the reader

/**
 * An opened safetensors file or buffer. The header is parsed and validated on opening;
 * tensors are read and converted one at a time, on request. Call {@link close} when done
 * with a file opened from a path (it holds an open file handle).
 *
 * @example
 * ```ts
 * const st = await readSafetensors('model.safetensors');
 * try {
 *   const w = await st.float32('conv1.weight'); // Float32Array
 *   console.log(st.info('conv1.weight').shape); // [64, 3, 7, 7]
 * } finally {
 *   await st.close();
 * }
 * ```
 */
export class SafetensorsReader {
  /** The file path, or the name given to an in-memory buffer (default `'<bytes>'`). */
  readonly source: string;
  /** The `__metadata__` string map of the header (empty if absent or null); an object without prototype, so any key, `__proto__` included, is data. */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly entries: Map<string, SafetensorsTensorInfo>;
  private readonly bytes: RandomAccessFile;
  private readonly dataStart: number;
  private closed = false;

  /** @internal Use {@link readSafetensors}. */
  constructor(
    source: string,
    bytes: RandomAccessFile,
    dataStart: number,
    entries: Map<string, SafetensorsTensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.source = source;
    this.bytes = bytes;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Tensor names, in header order. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  /** Whether the file holds a tensor of that name. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Dtype, shape and byte range of a tensor (throws InvalidArgumentError if absent). */
  info(name: string): SafetensorsTensorInfo {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new InvalidArgumentError('name', `the name of a tensor in ${this.source}`, JSON.stringify(name));
    }
    return entry;
  }

  /** The tensor's raw little-endian bytes (a fresh copy). */
  async raw(name: string): Promise<Uint8Array> {
    return new Uint8Array(aligned(await this.readBytes(this.info(name))));
  }

  /** A floating-point tensor (F32, F16, BF16 or F64) converted to a new Float32Array (row-major, as stored). */
  async float32(name: string): Promise<Float32Array> {
    const entry = this.info(name);
    if (!FLOAT_DTYPES.includes(entry.dtype)) {
      throw new FileFormatError(this.source, `tensor "${name}" has dtype ${entry.dtype}, expected a float dtype (${FLOAT_DTYPES.join(', ')})`);
    }
    return decodeFloat(entry.dtype, await this.readBytes(entry), product(entry.shape));
  }

  /** Any readable tensor, materialised with a typed array matching its dtype (see {@link SafetensorsTensor}). */
  async tensor(name: string): Promise<SafetensorsTensor> {
    const entry = this.info(name);
    const shape = entry.shape.slice();
    switch (entry.dtype) {
      case 'F64':
      case 'F32':
      case 'F16':
      case 'BF16':
        return { dtype: entry.dtype, shape, data: await this.float32(name) };
      case 'I32':
      case 'I64':
      case 'U8': {
        const buffer = aligned(await this.readBytes(entry));
        const n = product(shape);
        if (entry.dtype === 'U8') return { dtype: 'U8', shape, data: new Uint8Array(buffer) };
        const view = new DataView(buffer);
        if (entry.dtype === 'I32') {
          const data = LITTLE_ENDIAN_HOST ? new Int32Array(buffer) : Int32Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true));
          return { dtype: 'I32', shape, data };
        }
        const data = LITTLE_ENDIAN_HOST ? new BigInt64Array(buffer) : BigInt64Array.from({ length: n }, (_, i) => view.getBigInt64(8 * i, true));
        return { dtype: 'I64', shape, data };
      }
      default:
        throw new FileFormatError(
          this.source,
          `tensor "${name}" has dtype ${entry.dtype}, which ckaad cannot materialise (readable: ${READABLE_DTYPES.join(', ')})`,
        );
    }
  }

  /** Releases the file handle (no-op for in-memory buffers). Further reads throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.bytes.close();
  }

  private async readBytes(entry: SafetensorsTensorInfo): Promise<Uint8Array> {
    if (this.closed) throw new FileFormatError(this.source, `cannot read tensor "${entry.name}": the reader was closed`);
    return this.bytes.read(this.dataStart + entry.begin, entry.end - entry.begin);
  }
}

async function openSource(source: string, bytes: RandomAccessFile): Promise<SafetensorsReader> {
  if (bytes.size < 8) {
    throw new FileFormatError(source, `truncated: ${bytes.size} bytes, shorter than the 8-byte header length`);
  }
  const prefix = new DataView(aligned(await bytes.read(0, 8)));
  const low = prefix.getUint32(0, true);
  const high = prefix.getUint32(4, true);
  const headerLength = high * 2 ** 32 + low;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new FileFormatError(source, `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (8 + headerLength > bytes.size) {
    throw new FileFormatError(source, `truncated: header claims ${headerLength} bytes but only ${bytes.size - 8} follow`);
  }
  const headerBytes = await bytes.read(8, headerLength);
  const { tensors, metadata } = parseHeader(source, headerBytes, bytes.size - 8 - headerLength);
  return new SafetensorsReader(source, bytes, 8 + headerLength, tensors, metadata);
}

/**
 * Opens a safetensors file from any {@link ByteSource} (a path or a Blob is read range by
 * range; bytes are not copied); all are held to the same rules. Validates the header as the
 * format's reference implementation (huggingface/safetensors) does: throws
 * {@link FileFormatError} naming the file for a truncated file, a header that is not JSON (or
 * nests deeper than 127 levels, or repeats a key), an unknown dtype, a shape that does not
 * match its byte range or overflows, byte ranges that are out of range, overlap, or leave
 * holes, and (Node) for a path that is not a regular file (a directory, FIFO or device is
 * refused without being opened). `"__metadata__": null` reads as no metadata; metadata keys
 * such as `__proto__` are kept (the metadata object has no prototype).
 *
 * @param source bytes, a Blob/File, a URL or (Node) a path.
 * @param name name used in error messages (default: the path, URL or file name, else `'<bytes>'`).
 */
export async function readSafetensors(source: ByteSource, name?: string): Promise<SafetensorsReader> {
  const file = await openByteSource(source, 'source');
  try {
    return await openSource(name ?? sourceName(source), file);
  } catch (e) {
    await file.close();
    throw e;
  }
}

// -----------------------------------------------------------------------------------------
// the writer

/** The typed array each writable dtype takes its data from. */
const ARRAY_TYPE = {
  F32: Float32Array,
  F16: Float32Array,
  BF16: Float32Array,
  I64: BigInt64Array,
  I32: Int32Array,
  U8: Uint8Array,
} as const;

function checkInput(name: string, t: SafetensorsTensorInput): void {
  const what = `tensors["${name}"]`;
  if (name === '' || name === '__metadata__') throw new InvalidArgumentError('tensors', 'tensor names other than "" and "__metadata__"', JSON.stringify(name));
  if (!Object.prototype.hasOwnProperty.call(ARRAY_TYPE, t.dtype)) {
    throw new InvalidArgumentError(`${what}.dtype`, Object.keys(ARRAY_TYPE).join(' | '), String(t.dtype));
  }
  if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
    throw new InvalidArgumentError(`${what}.shape`, 'an array of non-negative integers', JSON.stringify(t.shape));
  }
  const ctor = ARRAY_TYPE[t.dtype];
  if (!(t.data instanceof ctor)) {
    const found = (t.data as { constructor?: { name?: string } } | null | undefined)?.constructor?.name ?? String(t.data);
    throw new InvalidArgumentError(`${what}.data`, `a ${ctor.name} for dtype ${t.dtype}`, found);
  }
  if (t.data.length !== product(t.shape)) {
    throw new InvalidArgumentError(`${what}.data`, `${product(t.shape)} elements for shape [${t.shape.join(', ')}]`, `${t.data.length}`);
  }
}

/** Writes one tensor's elements, little-endian, into `out`. */
function encodeData(t: SafetensorsTensorInput, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const n = t.data.length;
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      else for (let i = 0; i < n; i++) view.setFloat32(4 * i, t.data[i], true);
      return;
    case 'F16':
      for (let i = 0; i < n; i++) view.setUint16(2 * i, floatToHalf(t.data[i]), true);
      return;
    case 'BF16':
      for (let i = 0; i < n; i++) view.setUint16(2 * i, floatToBf16(t.data[i]), true);
      return;
    case 'I64':
      for (let i = 0; i < n; i++) view.setBigInt64(8 * i, t.data[i], true);
      return;
    case 'I32':
      for (let i = 0; i < n; i++) view.setInt32(4 * i, t.data[i], true);
      return;
    case 'U8':
      out.set(t.data);
      return;
  }
}

/**
 * Encodes tensors (in insertion order, contiguously) and optional string metadata into the
 * bytes of a safetensors file. The header is padded with spaces so the data section starts
 * 8-byte aligned.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
 * ```
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  // No prototype: a tensor or metadata key "__proto__" is written like any other.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new InvalidArgumentError(`metadata.${k}`, 'a string', typeof v);
    }
    header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    checkInput(name, t);
    const bytes = t.data.length * (DTYPE_BITS[t.dtype] / 8);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.byteLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(json.byteLength / 2 ** 32), true);
  out.set(json, 8);
  let cursor = 8 + json.byteLength;
  for (const [, t] of entries) {
    const bytes = t.data.length * (DTYPE_BITS[t.dtype] / 8);
    encodeData(t, out.subarray(cursor, cursor + bytes));
    cursor += bytes;
  }
  return out;
}
