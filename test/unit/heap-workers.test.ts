import { beforeAll, describe, expect, it } from 'vitest';
import { HeapWorkers } from '../../src/backend/kernels/heap-workers';
import { compileSimdKernels, instantiateSimdKernels, PACK_FLOATS } from '../../src/backend/kernels/wasm-simd';
import type { SimdModule } from '../../src/backend/kernels/wasm-types';
import { applyDropoutMask } from '../../src/ops/dropout';
import { layerNormRows, layerNormRowsGrad } from '../../src/ops/layer-norm';

// @types/node leaves WebAssembly.Memory out; what these tests use of it:
type Memory = new (pages: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer; grow(pages: number): number };
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: Memory } }).WebAssembly;
let simd: SimdModule;
beforeAll(async () => {
  simd = await compileSimdKernels(true);
});

const ROWS = 1100; // 1100 × 128 elements: above the size split over workers, and not a multiple of 3 threads
const SIZE = 128;
const N = ROWS * SIZE;

/**
 * A shared wasm memory with x, residual, dy, out, gamma and beta laid out in it, filled with fixed values, and the
 * product kernel's scratch for 3 threads.
 */
function heap() {
  const memory = new Memory({ initial: Math.ceil((4 * (4 * N + 2 * SIZE + 3 * PACK_FLOATS)) / 65536), maximum: 64, shared: true });
  const [x, residual, dy, out] = [0, 1, 2, 3].map((k) => new Float32Array(memory.buffer, 4 * k * N, N)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const [gamma, beta] = [0, 1].map((k) => new Float32Array(memory.buffer, 4 * (4 * N + k * SIZE), SIZE)) as [Float32Array, Float32Array];
  const pack = new Float32Array(memory.buffer, 4 * (4 * N + 2 * SIZE), 3 * PACK_FLOATS);
  for (let i = 0; i < N; i++) [x[i], residual[i], dy[i]] = [Math.sin(i) * 3, Math.cos(3 * i), Math.sin(7 * i)];
  for (let j = 0; j < SIZE; j++) [gamma[j], beta[j]] = [1 + j / SIZE, j / (2 * SIZE)];
  return { memory, x, residual, dy, out, gamma, beta, pack };
}

/** Elements that differ (NaN equal to NaN, 0 to −0 not): vitest's deep equality is slow on 140 800 floats. */
function differing(a: Float32Array, b: Float32Array): number {
  let count = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (!Object.is(a[i], b[i])) count++;
  return count;
}

describe('HeapWorkers', () => {
  for (const threads of [2, 3]) {
    it(`splits LayerNorm, GELU, their gradients, dropout and products over ${threads} threads, bit for bit as on one`, () => {
      const { memory, x, residual, dy, out, gamma, beta, pack } = heap();
      const workers = new HeapWorkers(memory, threads, simd);
      const one = instantiateSimdKernels(simd, memory);
      const want = new Float32Array(N);
      const none = new Float32Array(0);
      // Products: x as 1100 batches of 8×16 by residual's first 1100 batches of 16×8 (rows of products not split evenly).
      const [m, n, k, batches] = [8, 8, 16, ROWS];
      const product = (into: Float32Array, transposeA: boolean, bias: Float32Array) => {
        const [rowStride, innerStride] = transposeA ? [4, 4 * m] : [4 * k, 4];
        for (let p = 0; p < batches; p++) {
          one.matMul(x.byteOffset + 4 * p * m * k, residual.byteOffset + 4 * p * k * n, into.byteOffset + 4 * p * m * n, m, n, k, rowStride, innerStride, 4 * n, 4, bias.length ? bias.byteOffset : 0, pack.byteOffset);
        }
      };
      workers.dropout(x, out, 0.3, 12345);
      applyDropoutMask(x, want, 0.3, 12345);
      expect(differing(out, want), 'dropout').toBe(0);
      // The SIMD kernels, split and then in one call on the calling thread, into the heap's out.
      const layerNorm = (kernel: 'layerNorm' | 'layerNormGrad', third: Float32Array, withResidual: boolean, epsilon: number) =>
        () => one[kernel](x.byteOffset, withResidual ? residual.byteOffset : 0, gamma.byteOffset, third.byteOffset, out.byteOffset, ROWS, SIZE, epsilon);
      const simdCases: [string, () => void, () => void][] = [
        ['layerNorm', () => workers.layerNorm(x, none, gamma, beta, out, 1e-12), layerNorm('layerNorm', beta, false, 1e-12)],
        ['residual layerNorm', () => workers.layerNorm(x, residual, gamma, beta, out, 1e-5), layerNorm('layerNorm', beta, true, 1e-5)],
        ['layerNorm gradient', () => workers.layerNormGrad(x, none, gamma, dy, out, 1e-12), layerNorm('layerNormGrad', dy, false, 1e-12)],
        ['residual layerNorm gradient', () => workers.layerNormGrad(x, residual, gamma, dy, out, 1e-12), layerNorm('layerNormGrad', dy, true, 1e-12)],
        ['gelu', () => workers.gelu(x, out), () => one.gelu(x.byteOffset, out.byteOffset, N)],
        ['geluGrad', () => workers.geluGrad(x, dy, out), () => one.geluGrad(x.byteOffset, dy.byteOffset, out.byteOffset, N)],
        ...[false, true].map((transposeA): [string, () => void, () => void] => {
          const bias = transposeA ? beta.subarray(0, n) : none;
          return [`matMul, transposeA ${transposeA}`,
            () => workers.matMul(x.subarray(0, batches * m * k), residual.subarray(0, batches * k * n), out.subarray(0, batches * m * n), bias, pack, m, n, k, transposeA, false, batches, batches),
            () => product(out, transposeA, bias)];
        }),
      ];
      for (const [name, split, whole] of simdCases) {
        out.fill(NaN);
        split();
        const splitResult = out.slice();
        out.fill(NaN);
        whole();
        expect(differing(splitResult, out), name).toBe(0);
      }
      expect(workers.splitCalls).toBe(1 + simdCases.length);
    });
  }

  it('follows the wasm memory when it grows after the workers started', () => {
    const memory = new Memory({ initial: 1, maximum: 64, shared: true });
    const workers = new HeapWorkers(memory, 2, simd);
    memory.grow(40); // the arrays below lie beyond the memory the workers first saw
    const x = new Float32Array(memory.buffer, 4 * 65536, N);
    x.forEach((_, i) => (x[i] = Math.sin(i)));
    const out = new Float32Array(memory.buffer, 4 * (65536 + N), N);
    const want = new Float32Array(N);
    workers.dropout(x, out, 0.2, 5);
    applyDropoutMask(x, want, 0.2, 5);
    expect(workers.splitCalls).toBe(1);
    expect(differing(out, want)).toBe(0);
  });

  it('runs small arrays, and LayerNorm on rows that are not whole vectors (in JavaScript), on the calling thread; refuses arrays off its heap', () => {
    const { memory, x, dy, out, gamma, beta } = heap();
    const workers = new HeapWorkers(memory, 2, simd);
    const none = new Float32Array(0);
    const small = new Float32Array(memory.buffer, 0, 4 * SIZE);
    workers.layerNorm(small, none, gamma, beta, small, 1e-12);
    const [odd, want] = [gamma.subarray(0, 125), new Float32Array(N)]; // 1126.4 rows of 125: N must be whole rows
    const rows = x.subarray(0, 125 * 1126);
    workers.layerNorm(rows, none, odd, beta.subarray(0, 125), out.subarray(0, rows.length), 1e-12);
    layerNormRows(rows, none, odd, beta.subarray(0, 125), want.subarray(0, rows.length), 1e-12);
    expect(differing(out.subarray(0, rows.length), want.subarray(0, rows.length)), 'layerNorm').toBe(0);
    workers.layerNormGrad(rows, none, odd, dy.subarray(0, rows.length), out.subarray(0, rows.length), 1e-12);
    layerNormRowsGrad(rows, none, odd, dy.subarray(0, rows.length), want.subarray(0, rows.length), 1e-12);
    expect(differing(out.subarray(0, rows.length), want.subarray(0, rows.length)), 'layerNormGrad').toBe(0);
    expect(workers.splitCalls).toBe(0);
    const offHeap = new Float32Array(N);
    expect(() => workers.dropout(x, offHeap, 0.5, 1)).toThrow('dropout: expected arrays on the wasm heap');
    expect(() => workers.layerNorm(x, none, gamma, beta, offHeap, 1e-12)).toThrow('layerNorm: expected arrays on the wasm heap');
  });

  it('needs a shared memory for more than one thread, and runs everything on the calling thread with one', () => {
    const memory = new Memory({ initial: 16, maximum: 16, shared: true });
    const unshared = { buffer: new ArrayBuffer(65536) };
    expect(() => new HeapWorkers(unshared, 2, simd)).toThrow('heap workers: 2 threads need a shared memory');
    const workers = new HeapWorkers(memory, 1, simd);
    const x = new Float32Array(memory.buffer, 0, N / 2);
    x.forEach((_, i) => (x[i] = Math.sin(i)));
    const out = new Float32Array(memory.buffer, 2 * N, N / 2);
    workers.dropout(x, out, 0.25, 9);
    const want = new Float32Array(N / 2);
    applyDropoutMask(x, want, 0.25, 9);
    expect(differing(out, want)).toBe(0);
    expect(workers.splitCalls).toBe(0);
  });

  it('starts a dropout part where it lies in the tensor', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => i + 1);
    const [whole, parts] = [new Float32Array(1000), new Float32Array(1000)];
    applyDropoutMask(x, whole, 0.5, 99);
    applyDropoutMask(x.subarray(0, 377), parts.subarray(0, 377), 0.5, 99);
    applyDropoutMask(x.subarray(377), parts.subarray(377), 0.5, 99, 377);
    expect(parts).toEqual(whole);
    expect(whole.filter((v) => v === 0).length).toBeGreaterThan(400);
    expect(whole.filter((v) => v === 0).length).toBeLessThan(600);
  });
});
