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
 * Works in Node (paths, through `node:fs/promises`, imported lazily) and in the browser
 * (bytes from `fetch(...).arrayBuffer()`).
 */

import { FileFormatError, InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

// -----------------------------------------------------------------------------------------
// dtypes

/** Every dtype of the safetensors format, with its size in bytes. */
const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

/** A dtype name of the safetensors format (files with any other dtype are rejected). */
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** Floating-point dtypes that {@link SafetensorsReader.float32} converts to a Float32Array. */
const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16'];

/** Dtypes {@link SafetensorsReader.tensor} can materialise. */
const READABLE_DTYPES: readonly SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'U8'];

function isDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
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
// byte sources: an in-memory buffer, or a file read range by range

/** Random access to the bytes of a file or buffer. */
interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
    close: async () => {},
  };
}

/** What a path that is not a regular file is, for the error message. */
function notARegularFile(info: import('node:fs').Stats): string {
  if (info.isDirectory()) return 'is a directory';
  if (info.isFIFO()) return 'is a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'is a character device';
  if (info.isBlockDevice()) return 'is a block device';
  if (info.isSocket()) return 'is a socket';
  return 'is not a file';
}

async function fileSource(path: string): Promise<ByteSource> {
  const fs = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  // Only a regular file (or a link to one) is read. A directory, FIFO, device or socket is
  // refused before it is opened: opening a FIFO for reading waits for a writer forever, and
  // a device has no size to check the header against.
  let info: import('node:fs').Stats;
  try {
    info = await fs.stat(path);
  } catch (e) {
    throw new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  if (!info.isFile()) throw new FileFormatError(path, `${notARegularFile(info)}, not a regular file`);
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    // O_NONBLOCK (where it exists): should the path be replaced by a FIFO after the check
    // above, opening it still returns at once and the check below refuses it.
    handle = await fs.open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  let size: number;
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new FileFormatError(path, `${notARegularFile(opened)}, not a regular file`);
    size = opened.size;
  } catch (e) {
    await handle.close();
    throw e instanceof FileFormatError ? e : new FileFormatError(path, `cannot open file (${(e as Error).message})`);
  }
  return {
    size,
    read: async (offset, length) => {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(out, done, length - done, offset + done));
        } catch (e) {
          throw new FileFormatError(path, `cannot read bytes ${offset + done}..${offset + length} (${(e as Error).message})`);
        }
        if (bytesRead === 0) {
          throw new FileFormatError(path, `truncated: could not read bytes ${offset + done}..${offset + length} (file changed while open?)`);
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

// -----------------------------------------------------------------------------------------
// header parsing and validation

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the JSON header against a data section of `dataSize` bytes. */
function parseHeader(
  path: string,
  headerBytes: Uint8Array,
  dataSize: number,
): { tensors: Map<string, SafetensorsTensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new FileFormatError(path, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(path, `header is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new FileFormatError(path, 'header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}');
  }

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new FileFormatError(path, '__metadata__ must be an object of string values');
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new FileFormatError(path, `__metadata__.${k} must be a string, found ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new FileFormatError(path, `tensor "${name}": header entry must be an object {dtype, shape, data_offsets}`);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !isDtype(dtype)) {
      throw new FileFormatError(
        path,
        `tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      throw new FileFormatError(path, `tensor "${name}": shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
      throw new FileFormatError(path, `tensor "${name}": data_offsets must be [begin, end] with 0 ≤ begin ≤ end, found ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = product(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== expectedBytes) {
      throw new FileFormatError(
        path,
        `tensor "${name}": shape [${shape.join(', ')}] of ${dtype} needs ${expectedBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataSize) {
      throw new FileFormatError(
        path,
        `tensor "${name}": data_offsets [${begin}, ${end}] are out of range of the ${dataSize}-byte data section (truncated file?)`,
      );
    }
    tensors.set(name, { name, dtype, shape: shape.slice(), begin, end });
  }

  // The byte ranges must tile the data section exactly: no overlap, no hole, nothing after.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < cursor) {
      throw new FileFormatError(path, `tensors "${previous?.name}" and "${t.name}" have overlapping data_offsets`);
    }
    if (t.begin > cursor) {
      throw new FileFormatError(path, `data bytes ${cursor}..${t.begin} (before tensor "${t.name}") belong to no tensor`);
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

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float → IEEE half bits, round to nearest even (overflow → ±Infinity). */
function floatToHalf(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero): shift the mantissa with its implicit bit into place
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const round = rest > midpoint || (rest === midpoint && (half & 1) === 1) ? 1 : 0;
    return sign | (half + round);
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  const round = rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? 1 : 0;
  // A carry out of the mantissa correctly bumps the exponent (up to 0x7c00 = Infinity).
  return sign | (half + round);
}

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
  /** The `__metadata__` string map of the header (empty if absent). */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly entries: Map<string, SafetensorsTensorInfo>;
  private readonly bytes: ByteSource;
  private readonly dataStart: number;
  private closed = false;

  /** @internal Use {@link readSafetensors} or {@link parseSafetensors}. */
  constructor(
    source: string,
    bytes: ByteSource,
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

async function openSource(source: string, bytes: ByteSource): Promise<SafetensorsReader> {
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

function toUint8(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

/**
 * Opens a safetensors file from a path (Node; read range by range) or from bytes (browser or
 * Node; not copied). Validates the header: throws {@link FileFormatError} naming the file for
 * a truncated file, bad header JSON, unknown dtype, a shape that does not match its byte
 * range, or byte ranges that are out of range, overlap, or leave holes.
 *
 * @param source path, or the file's bytes.
 * @param name name used in error messages for in-memory input (default `'<bytes>'`).
 */
export async function readSafetensors(source: string | Uint8Array | ArrayBuffer, name = '<bytes>'): Promise<SafetensorsReader> {
  if (typeof source === 'string') {
    const file = await fileSource(source);
    try {
      return await openSource(source, file);
    } catch (e) {
      await file.close();
      throw e;
    }
  }
  if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new InvalidArgumentError('source', 'a path string, Uint8Array or ArrayBuffer');
  }
  return openSource(name, memorySource(toUint8(source)));
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
  const header: Record<string, unknown> = {};
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
    const bytes = t.data.length * DTYPE_BYTES[t.dtype];
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
    const bytes = t.data.length * DTYPE_BYTES[t.dtype];
    encodeData(t, out.subarray(cursor, cursor + bytes));
    cursor += bytes;
  }
  return out;
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same
 * directory, which is flushed and then renamed over `path`, so readers never see a partial
 * file. Throws {@link FileFormatError} naming `path` if it cannot be written.
 *
 * @example
 * ```ts
 * await writeSafetensors('ckpt.safetensors', { w: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) } }, { epoch: '4' });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  // The parent folder must exist: a mistyped path is reported, not created.
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata), { mkdir: false });
}
