import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../../src/io/safetensors';
import { hasShared, sharedPath } from '../shared-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'af-safetensors-'));

/** A file with exactly this header and data, for malformed cases the writer cannot produce. */
function rawFile(name: string, header: unknown, data: Uint8Array = new Uint8Array()): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

function errorOf(action: () => unknown): SafetensorsError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(SafetensorsError);
    return error as SafetensorsError;
  }
  throw new Error('expected a SafetensorsError');
}

describe('safetensors', () => {
  it('round-trips F32 tensors and metadata, header padded to 8 bytes, leaving no temporary file', () => {
    const path = join(dir, 'round-trip', 'w.safetensors');
    const values = Float32Array.from([1.5, -2.25, 3e-8, 1e30, 0, 7]);
    writeSafetensors(path, { 'a.weight': { shape: [2, 3], values }, 'a.bias': { shape: [1], values: Float32Array.of(-0.125) } }, { format: 'pt' });
    const bytes = readFileSync(path);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
    const read = readSafetensors(path);
    expect(read.metadata).toEqual({ format: 'pt' });
    expect([...read.tensors.keys()]).toEqual(['a.weight', 'a.bias']);
    expect(read.tensors.get('a.weight')).toEqual({ dtype: 'F32', shape: [2, 3], values });
    expect(Array.from(read.tensors.get('a.bias')?.values ?? [])).toEqual([-0.125]);
    expect(readdirSync(join(dir, 'round-trip'))).toEqual(['w.safetensors']);
  });

  it('writes F16 with round-to-nearest-even and decodes it back', () => {
    const path = join(dir, 'half.safetensors');
    // 1 + 2^-11 is a tie that rounds down to even; 1 + 3·2^-11 rounds up; 2^-24 is the smallest subnormal.
    const values = Float32Array.from([1, -2, 65504, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 70000, 0.1]);
    writeSafetensors(path, { x: { shape: [8], values } }, undefined, { dtype: 'F16' });
    const bytes = readFileSync(path);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    expect(bytes.readUInt16LE(dataStart)).toBe(0x3c00);
    const read = readSafetensors(path).tensors.get('x');
    expect(read?.dtype).toBe('F16');
    expect(Array.from(read?.values ?? [])).toEqual([1, -2, 65504, 1, 1 + 2 ** -9, 2 ** -24, Infinity, Math.fround(0.0999755859375)]);
  });

  it('writes BF16 with round-to-nearest-even and decodes it back', () => {
    const path = join(dir, 'bfloat.safetensors');
    const values = Float32Array.from([1, -3.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3e38]);
    writeSafetensors(path, { x: { shape: [5], values } }, undefined, { dtype: 'BF16' });
    const bytes = readFileSync(path);
    expect(bytes.readUInt16LE(8 + Number(bytes.readBigUInt64LE(0)))).toBe(0x3f80);
    const read = readSafetensors(path).tensors.get('x');
    expect(read?.dtype).toBe('BF16');
    expect(Array.from(read?.values ?? [])).toEqual([1, -3.5, 1, 1 + 2 ** -6, 1.765625 * 2 ** 127]);
  });

  it('decodes I64 and I32 as numbers', () => {
    const data = Buffer.alloc(24);
    data.writeBigInt64LE(-5n, 0);
    data.writeBigInt64LE(16777216n, 8);
    data.writeInt32LE(-7, 16);
    data.writeInt32LE(42, 20);
    const path = rawFile('ints.safetensors', { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, small: { dtype: 'I32', shape: [2], data_offsets: [16, 24] } }, data);
    const read = readSafetensors(path).tensors;
    expect(Array.from(read.get('ids')?.values ?? [])).toEqual([-5, 16777216]);
    expect(Array.from(read.get('small')?.values ?? [])).toEqual([-7, 42]);
  });

  it('refuses a file shorter than its length field', () => {
    const path = join(dir, 'tiny.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expect(errorOf(() => readSafetensors(path)).message).toBe(`${path}: expected at least 8 bytes (the header length), got 3`);
  });

  it('refuses a header length beyond the file', () => {
    const path = rawFile('long-header.safetensors', '{}');
    const bytes = readFileSync(path);
    bytes.writeBigUInt64LE(1000n);
    writeFileSync(path, bytes);
    expect(errorOf(() => readSafetensors(path)).message).toMatch(`${path}: header length 1000 exceeds the file (10 bytes)`);
  });

  it('refuses a header that is not JSON or not an object', () => {
    const notJson = rawFile('bad-json.safetensors', '{"a": ');
    expect(errorOf(() => readSafetensors(notJson)).message).toMatch(`${notJson}: header is not valid JSON`);
    const list = rawFile('list.safetensors', '[1]');
    expect(errorOf(() => readSafetensors(list)).message).toBe(`${list}: expected the header to be a JSON object, got [1]`);
  });

  it('names the tensor with an unknown dtype, a bad shape or a size mismatch', () => {
    const dtype = rawFile('dtype.safetensors', { w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1));
    const error = errorOf(() => readSafetensors(dtype));
    expect(error.tensor).toBe('w');
    expect(error.message).toMatch(`${dtype}: tensor "w": unsupported dtype "F8_E4M3"`);
    const shape = rawFile('shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(errorOf(() => readSafetensors(shape)).message).toBe(`${shape}: tensor "w": expected shape to be a list of non-negative integers, got [-1]`);
    const offsets = rawFile('offsets.safetensors', { w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(8));
    expect(errorOf(() => readSafetensors(offsets)).message).toBe(`${offsets}: tensor "w": expected data_offsets to be [begin, end] with 0 <= begin <= end, got [8,4]`);
    const size = rawFile('size.safetensors', { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Uint8Array(12));
    expect(errorOf(() => readSafetensors(size)).message).toBe(`${size}: tensor "w": shape [2, 2] of F32 needs 16 bytes, but data_offsets [0, 12] span 12`);
  });

  it('names the tensor whose offsets run past the end (a truncated file) or overlap another', () => {
    const path = join(dir, 'truncated.safetensors');
    writeSafetensors(path, { first: { shape: [4], values: new Float32Array(4) }, second: { shape: [4], values: new Float32Array(4) } });
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 4));
    expect(errorOf(() => readSafetensors(path)).message).toBe(`${path}: tensor "second": data_offsets [16, 32] run past the end of the data area (28 bytes); the file is truncated`);
    const overlap = rawFile('overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12));
    expect(errorOf(() => readSafetensors(overlap)).message).toBe(`${overlap}: tensor "b": data_offsets [4, 12] overlap tensor "a" [0, 8]`);
  });

  it('refuses metadata that is not string to string', () => {
    const path = rawFile('meta.safetensors', { __metadata__: { epochs: 3 } });
    expect(errorOf(() => readSafetensors(path)).message).toBe(`${path}: expected __metadata__ to map strings to strings, got {"epochs":3}`);
  });

  it.skipIf(!hasShared('conformance', 'adapterhub-seqbn-fusion'))('reads the reference checkpoint written by the reference library', () => {
    const read = readSafetensors(sharedPath('conformance', 'adapterhub-seqbn-fusion', 'model.safetensors'));
    expect(read.metadata).toEqual({ format: 'pt' });
    expect(read.tensors.size).toBe(39);
    expect(read.tensors.get('encoder.layer.1.intermediate.dense.weight')?.shape).toEqual([64, 32]);
    expect(read.tensors.get('embeddings.word_embeddings.weight')?.values.length).toBe(120 * 32);
  });
});
