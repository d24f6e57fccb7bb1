import { writeFileAtomic } from './atomic';
import { MAX_BINARY_FILE_BYTES, readFileBounded } from './read-file';

/**
 * A safetensors file is malformed or cannot be decoded. The message names the file and, where one is at fault, the
 * tensor.
 */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';

  constructor(
    readonly file: string,
    readonly problem: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor === undefined ? '' : `tensor "${tensor}": `}${problem}`);
  }
}

/** One tensor as read from a file: values decoded to float32 whatever the stored dtype. */
export interface SafetensorsEntry {
  /** The dtype stored in the file (`F32`, `F16`, `BF16`, `I64`, ...). */
  dtype: string;
  shape: number[];
  values: Float32Array;
}

/** The content of a safetensors file. */
export interface SafetensorsContent {
  /** Tensors in file-header order. */
  tensors: Map<string, SafetensorsEntry>;
  /** The header's `__metadata__` (string to string), when present. */
  metadata?: Record<string, string>;
}

/** A tensor to write: a shape and its row-major values. */
export interface SafetensorsTensor {
  shape: number[];
  values: Float32Array;
}

/** Dtypes the writer can store; float32 values are rounded to nearest even for the 16-bit ones. */
export type SafetensorsWriteDtype = 'F32' | 'F16' | 'BF16';

/** Headers beyond this are refused: real ones are kilobytes, so a larger length means a corrupt file (as the reference library does). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Bytes per element and a decoder to float32, for every dtype the reader accepts. */
const DTYPES: Record<string, { itemSize: number; decode: (bytes: Uint8Array) => Float32Array }> = {
  F64: { itemSize: 8, decode: (bytes) => Float32Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8)) },
  F32: { itemSize: 4, decode: (bytes) => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) },
  F16: { itemSize: 2, decode: (bytes) => decodeHalf(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)) },
  BF16: { itemSize: 2, decode: (bytes) => decodeBfloat16(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)) },
  I64: { itemSize: 8, decode: (bytes) => Float32Array.from(new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8), Number) },
  I32: { itemSize: 4, decode: (bytes) => Float32Array.from(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)) },
  I16: { itemSize: 2, decode: (bytes) => Float32Array.from(new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)) },
  I8: { itemSize: 1, decode: (bytes) => Float32Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length)) },
  U8: { itemSize: 1, decode: (bytes) => Float32Array.from(bytes) },
  BOOL: { itemSize: 1, decode: (bytes) => Float32Array.from(bytes) },
};

let halfTable: Float32Array | undefined;

/** IEEE half-precision to float32 through a 65536-entry table (built once): far faster than per-element math on big checkpoints. */
function decodeHalf(halves: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) {
      const sign = bits & 0x8000 ? -1 : 1;
      const exponent = (bits >> 10) & 0x1f;
      const fraction = bits & 0x3ff;
      halfTable[bits] =
        exponent === 0 ? sign * fraction * 2 ** -24
        : exponent === 31 ? (fraction ? NaN : sign * Infinity)
        : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
    }
  }
  const table = halfTable;
  return Float32Array.from(halves, (bits) => table[bits] ?? NaN);
}

/** bfloat16 is the top half of a float32. */
function decodeBfloat16(halves: Uint16Array): Float32Array {
  const words = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = (halves[i] ?? 0) << 16;
  return new Float32Array(words.buffer);
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float32 to IEEE half, rounding to nearest even; overflow becomes infinity, tiny values subnormals or zero. */
function toHalf(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent === 128 + 15) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // infinity or NaN
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    return sign | roundShift(mantissa, shift);
  }
  // A carry out of the mantissa correctly bumps the exponent (and overflows to infinity at the top).
  return sign | ((exponent << 10) + roundShift(mantissa, 13));
}

/** `value >> shift`, rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && kept & 1) ? kept + 1 : kept;
}

/** float32 to bfloat16, rounding to nearest even; NaN stays NaN. */
function toBfloat16(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0] ?? 0;
  if (Number.isNaN(value)) return (bits >>> 16) | 0x40;
  return roundShift(bits, 16) & 0xffff;
}

function encode(values: Float32Array, dtype: SafetensorsWriteDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const convert = dtype === 'F16' ? toHalf : toBfloat16;
  const halves = Uint16Array.from(values, convert);
  return new Uint8Array(halves.buffer);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isOffsets(value: unknown): value is [number, number] {
  if (!Array.isArray(value) || value.length !== 2) return false;
  const [begin, end] = value as unknown[];
  return isCount(begin) && isCount(end) && begin <= end;
}

/**
 * Reads a safetensors file, validating the whole header before decoding: the length field against the file size,
 * the JSON, every entry's dtype, shape and offsets (inside the data area, matching the shape, not overlapping).
 * Every tensor is decoded to float32 (F16, BF16 and the integer types included). Assumes a little-endian host, as
 * the format does.
 *
 * @example
 * const { tensors } = readSafetensors('model/model.safetensors');
 * const embeddings = tensors.get('embeddings.word_embeddings.weight'); // { dtype: 'F32', shape: [30522, 768], values }
 */
export function readSafetensors(path: string): SafetensorsContent {
  return parseSafetensors(readFileBounded(path, MAX_BINARY_FILE_BYTES), path);
}

/** `readSafetensors` on bytes already in memory; `path` names the source in errors. */
export function parseSafetensors(file: Buffer, path: string): SafetensorsContent {
  if (file.length < 8) throw new SafetensorsError(path, `expected at least 8 bytes (the header length), got ${file.length}`);
  const headerLength = Number(file.readBigUInt64LE(0));
  if (headerLength > file.length - 8 || headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(path, `header length ${headerLength} exceeds the file (${file.length} bytes) or the ${MAX_HEADER_BYTES}-byte limit; the file is truncated or not safetensors`);
  }
  let header: unknown;
  try {
    header = JSON.parse(file.toString('utf8', 8, 8 + headerLength));
  } catch (error) {
    throw new SafetensorsError(path, `header is not valid JSON: ${(error as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(path, `expected the header to be a JSON object, got ${JSON.stringify(header)?.slice(0, 60)}`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = file.length - dataStart;
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  let metadata: Record<string, string> | undefined;
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = readMetadata(path, raw);
      continue;
    }
    const fail = (problem: string): never => {
      throw new SafetensorsError(path, problem, name);
    };
    if (raw === null || typeof raw !== 'object') fail(`expected an object with dtype, shape and data_offsets, got ${JSON.stringify(raw)}`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const known = typeof dtype === 'string' ? DTYPES[dtype] : undefined;
    if (!known) fail(`unsupported dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(`expected shape to be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!isOffsets(offsets)) fail(`expected data_offsets to be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    const [begin, end] = offsets as [number, number];
    const dims = shape as number[];
    const expectedBytes = dims.reduce((a, b) => a * b, 1) * (known?.itemSize ?? 0);
    if (end - begin !== expectedBytes) fail(`shape [${dims.join(', ')}] of ${String(dtype)} needs ${expectedBytes} bytes, but data_offsets [${begin}, ${end}] span ${end - begin}`);
    if (end > dataLength) fail(`data_offsets [${begin}, ${end}] run past the end of the data area (${dataLength} bytes); the file is truncated`);
    entries.push({ name, dtype: dtype as string, shape: dims, begin, end });
  }
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    const current = byOffset[i];
    if (previous && current && current.begin < previous.end) {
      throw new SafetensorsError(path, `data_offsets [${current.begin}, ${current.end}] overlap tensor "${previous.name}" [${previous.begin}, ${previous.end}]`, current.name);
    }
  }
  const tensors = new Map<string, SafetensorsEntry>();
  for (const { name, dtype, shape, begin, end } of entries) {
    // A copy gives each tensor its own aligned buffer (typed-array views need offsets aligned to the item size).
    const bytes = new Uint8Array(file.subarray(dataStart + begin, dataStart + end));
    const values = DTYPES[dtype]?.decode(bytes) ?? new Float32Array();
    tensors.set(name, { dtype, shape, values });
  }
  return metadata ? { tensors, metadata } : { tensors };
}

function readMetadata(path: string, raw: unknown): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    throw new SafetensorsError(path, `expected __metadata__ to map strings to strings, got ${JSON.stringify(raw)?.slice(0, 60)}`);
  }
  return raw as Record<string, string>;
}

/**
 * Writes tensors to a safetensors file atomically, in the given order, as F32 (or F16 / BF16 when asked).
 * Metadata goes to the header's `__metadata__`.
 *
 * @example
 * writeSafetensors('adapter.safetensors', { 'encoder.layer.0.output.adapters.a.adapter_up.bias': { shape: [768], values } }, { format: 'pt' });
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
  options: { dtype?: SafetensorsWriteDtype } = {},
): void {
  const dtype = options.dtype ?? 'F32';
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, { shape, values }] of Object.entries(tensors)) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== values.length) throw new SafetensorsError(path, `shape [${shape.join(', ')}] holds ${size} values, got ${values.length}`, name);
    const bytes = encode(values, dtype);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  // The header is padded with spaces to a multiple of 8 so the data area starts aligned, as the reference writer does.
  const json = JSON.stringify(header);
  const headerBytes = Buffer.from(json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8));
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let position = 8 + headerBytes.length;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  writeFileAtomic(path, out);
}
