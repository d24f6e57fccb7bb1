import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend/backend';
import { cpuMatMulKernels } from '../../src/backend/kernels/cpu-matmul';
import { cpuGatherKernel, wasmGatherKernel } from '../../src/backend/kernels/gather-rows';
import { planMatMul } from '../../src/backend/kernels/matmul-plan';
import { wasmIdentityKernel, wasmMatMulKernels, type WasmBackend } from '../../src/backend/kernels/wasm-matmul';
import { wasmSliceKernel } from '../../src/backend/kernels/wasm-slice';
import { loadNativeBlas } from '../../src/backend/native/native-blas';

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: number[];
  activation?: 'linear' | 'relu' | 'relu6' | 'leakyrelu' | 'sigmoid' | 'elu' | 'prelu';
}

const CASES: Case[] = [
  { name: 'plain 2-D', a: [5, 7], b: [7, 3] },
  { name: 'transposed A', a: [7, 5], b: [7, 3], transposeA: true },
  { name: 'transposed B', a: [5, 7], b: [3, 7], transposeB: true },
  { name: 'both transposed', a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
  { name: 'batched A, one B (rows folded)', a: [2, 4, 6], b: [6, 5] },
  { name: 'batched both', a: [3, 4, 6], b: [3, 6, 5] },
  { name: 'batched, transposed B (attention scores)', a: [2, 2, 4, 3], b: [2, 2, 4, 3], transposeB: true },
  { name: 'batched, transposed A', a: [3, 6, 4], b: [3, 6, 5], transposeA: true },
  { name: 'broadcast batch', a: [2, 1, 3, 4], b: [1, 3, 4, 2] },
  { name: 'one A, batched B', a: [3, 4], b: [2, 4, 5] },
  // An inner dimension above 48 with a bias: the stock wasm slow path adds the bias once per 48-wide block and
  // reads it from the wrong element after the first row.
  { name: 'bias, batched, inner 100', a: [2, 3, 100], b: [2, 100, 4], bias: [4] },
  { name: 'bias, transposed B, inner 100', a: [3, 100], b: [4, 100], transposeB: true, bias: [4] },
  { name: 'bias [1, n] with relu', a: [4, 5], b: [5, 6], bias: [1, 6], activation: 'relu' },
  { name: 'relu6', a: [2, 5, 9], b: [9, 4], bias: [4], activation: 'relu6' },
  { name: 'leakyrelu', a: [5, 9], b: [2, 9, 4], activation: 'leakyrelu' },
  { name: 'sigmoid', a: [5, 9], b: [9, 4], transposeA: false, bias: [4], activation: 'sigmoid' },
  { name: 'elu', a: [9, 5], b: [9, 4], transposeA: true, activation: 'elu' },
  { name: 'prelu', a: [5, 9], b: [9, 4], bias: [4], activation: 'prelu' },
  // Above the direct-loop size (32·1024 multiply-adds), so the tuned paths run too.
  { name: 'large, transposed B, bias', a: [2, 40, 64], b: [2, 48, 64], transposeB: true, bias: [48], activation: 'relu' },
  { name: 'large, transposed A', a: [2, 64, 40], b: [64, 48], transposeA: true },
  { name: 'inner dimension 0 with bias', a: [3, 0], b: [0, 4], bias: [4] },
];

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -2, 2, 'float32', seed);
}

/** The product computed in float64, straight from the definition (batch broadcasting from the trailing end). */
function reference(c: Case, a: Float32Array, b: Float32Array, bias: Float32Array | undefined, prelu: Float32Array | undefined): { shape: number[]; values: Float64Array } {
  const [aRows, aCols] = c.a.slice(-2) as [number, number];
  const [bRows, bCols] = c.b.slice(-2) as [number, number];
  const [m, k] = c.transposeA ? [aCols, aRows] : [aRows, aCols];
  const n = c.transposeB ? bRows : bCols;
  const aBatch = c.a.slice(0, -2);
  const bBatch = c.b.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (dims: number[]) => [...Array<number>(rank - dims.length).fill(1), ...dims];
  const [aDims, bDims] = [pad(aBatch), pad(bBatch)];
  const batch = aDims.map((size, i) => Math.max(size, bDims[i] ?? 1));
  const count = batch.reduce((x, y) => x * y, 1);
  const flatIndex = (coordinates: number[], dims: number[]) => coordinates.reduce((flat, coordinate, i) => flat * (dims[i] ?? 1) + ((dims[i] ?? 1) === 1 ? 0 : coordinate), 0);
  const values = new Float64Array(count * m * n);
  for (let p = 0; p < count; p++) {
    const coordinates: number[] = [];
    for (let i = rank - 1, rest = p; i >= 0; i--) {
      coordinates[i] = rest % (batch[i] ?? 1);
      rest = Math.floor(rest / (batch[i] ?? 1));
    }
    const [aBase, bBase] = [flatIndex(coordinates, aDims) * m * k, flatIndex(coordinates, bDims) * k * n];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = bias ? (bias[j] ?? NaN) : 0;
        for (let l = 0; l < k; l++) {
          const x = a[aBase + (c.transposeA ? l * m + i : i * k + l)] ?? NaN;
          const y = b[bBase + (c.transposeB ? j * k + l : l * n + j)] ?? NaN;
          sum += x * y;
        }
        values[p * m * n + i * n + j] = activate(sum, c.activation ?? 'linear', prelu?.[j] ?? NaN);
      }
    }
  }
  return { shape: [...batch, m, n], values };
}

function activate(x: number, activation: string, preluSlope: number): number {
  switch (activation) {
    case 'relu': return Math.max(x, 0);
    case 'relu6': return Math.min(Math.max(x, 0), 6);
    case 'leakyrelu': return x < 0 ? 0.2 * x : x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'elu': return x < 0 ? Math.expm1(x) : x;
    case 'prelu': return x < 0 ? preluSlope * x : x;
    default: return x;
  }
}

async function checkAll(): Promise<void> {
  for (const [index, c] of CASES.entries()) {
    const a = seeded(c.a, index * 4 + 1);
    const b = seeded(c.b, index * 4 + 2);
    const bias = c.bias ? seeded(c.bias, index * 4 + 3) : undefined;
    const n = c.transposeB ? (c.b[c.b.length - 2] ?? 0) : (c.b[c.b.length - 1] ?? 0);
    const prelu = c.activation === 'prelu' ? seeded([n], index * 4 + 4) : undefined;
    const y = c.bias || c.activation
      ? tf.fused.matMul({ a, b, transposeA: c.transposeA ?? false, transposeB: c.transposeB ?? false, activation: c.activation ?? 'linear', ...(bias ? { bias } : {}), ...(prelu ? { preluActivationWeights: prelu } : {}) })
      : tf.matMul(a, b, c.transposeA, c.transposeB);
    const want = reference(c, a.dataSync() as Float32Array, b.dataSync() as Float32Array, bias?.dataSync() as Float32Array | undefined, prelu?.dataSync() as Float32Array | undefined);
    expect(y.shape, c.name).toEqual(want.shape);
    const got = await y.data();
    const worst = want.values.reduce((max, value, i) => Math.max(max, Math.abs(value - (got[i] ?? NaN)) / (1 + Math.abs(value))), 0);
    expect(worst, c.name).toBeLessThan(1e-5);
    tf.dispose([a, b, y, ...(bias ? [bias] : []), ...(prelu ? [prelu] : [])]);
  }
}

/** Runs `f` with `configs` registered in place of the current kernels, then puts those back. */
async function withKernels(configs: tf.KernelConfig[], f: () => Promise<void>): Promise<void> {
  const saved = configs.map((config) => tf.getKernel(config.kernelName, config.backendName));
  const swap = (next: (tf.KernelConfig | undefined)[]) => {
    for (const [i, config] of configs.entries()) {
      if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName);
      const replacement = next[i];
      if (replacement) tf.registerKernel(replacement);
    }
  };
  swap(configs);
  try {
    await f();
  } finally {
    swap(saved);
  }
}

const { blas } = loadNativeBlas({});

describe('matmul kernels match a float64 reference', () => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    await initBackend();
    wasm = tf.findBackend('wasm') as WasmBackend;
  });

  it('on wasm through XNNPACK (no add-on)', async () => {
    await withKernels(wasmMatMulKernels(wasm, undefined), checkAll);
  });

  it.skipIf(!blas)('on wasm through the native BLAS add-on', async () => {
    await withKernels(wasmMatMulKernels(wasm, blas), checkAll);
  });

  describe.skipIf(!blas)('on cpu through the native BLAS add-on', () => {
    beforeAll(async () => {
      await tf.setBackend('cpu');
    });
    afterAll(async () => {
      await tf.setBackend('wasm');
    });
    it('matches', async () => {
      if (blas) await withKernels(cpuMatMulKernels(blas), checkAll);
    });
  });
});

describe('wasm kernels', () => {
  it('leave the tensor count and the wasm heap unchanged, on both paths', async () => {
    await initBackend();
    const wasm = tf.findBackend('wasm') as WasmBackend;
    // Large enough for the XNNPACK path's transposed temporaries and per-batch tensor ids.
    const a = seeded([2, 3, 64, 48], 1);
    const b = seeded([2, 3, 64, 48], 2);
    const bias = seeded([48], 3);
    const step = () => tf.tidy(() => tf.sum(tf.fused.matMul({ a, b, transposeA: true, bias })).dataSync());
    for (const library of [undefined, blas]) {
      await withKernels(wasmMatMulKernels(wasm, library), async () => {
        step();
        const before = { ...tf.memory(), dataIds: wasm.numDataIds() };
        for (let i = 0; i < 3; i++) step();
        expect(tf.memory().numTensors).toBe(before.numTensors);
        expect(tf.memory().numBytes).toBe(before.numBytes);
        expect(wasm.numDataIds()).toBe(before.dataIds);
      });
    }
    tf.dispose([a, b, bias]);
  });

  it('Identity shares memory instead of copying it', async () => {
    await initBackend();
    const wasm = tf.findBackend('wasm') as WasmBackend;
    await withKernels([wasmIdentityKernel()], async () => {
      const x = tf.tensor1d([1, 2, 3]);
      const y = tf.clone(x);
      expect(wasm.dataIdMap.get(y.dataId).memoryOffset).toBe(wasm.dataIdMap.get(x.dataId).memoryOffset);
      x.dispose();
      expect(Array.from(await y.data())).toEqual([1, 2, 3]);
      y.dispose();
    });
  });
  it('Slice copies the sliced runs from the heap, not the whole input first', async () => {
    await initBackend();
    const wasm = tf.findBackend('wasm') as WasmBackend;
    /** x[begin .. begin + size) of the values 0, 1, 2, … laid out in `shape`, element by element. */
    const expected = (shape: number[], begin: number[], size: number[]): number[] => {
      const strides = tf.util.computeStrides(shape);
      const outStrides = tf.util.computeStrides(size);
      return Array.from({ length: tf.util.sizeFromShape(size) }, (_, flat) => {
        let source = 0;
        let rest = flat;
        size.forEach((_, axis) => {
          const stride = outStrides[axis] ?? 1;
          source += ((begin[axis] ?? 0) + Math.floor(rest / stride)) * (strides[axis] ?? 1);
          rest %= stride;
        });
        return source;
      });
    };
    const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
      { shape: [3, 4, 5], begin: [0, 0, 0], size: [3, 1, 5] }, // BERT's first token
      { shape: [3, 4, 5], begin: [1, 2, 1], size: [2, 2, 3] },
      { shape: [3, 4, 5], begin: [1, 0, 0], size: [2, 4, 5] }, // one contiguous run
      { shape: [2, 3, 4, 5], begin: [0, 1, 0, 2], size: [2, 2, 4, 3] },
      { shape: [7], begin: [2], size: [4] },
      { shape: [3, 4], begin: [1, 0], size: [0, 4] },
    ];
    const readSync = vi.spyOn(wasm, 'readSync');
    await withKernels([wasmSliceKernel()], async () => {
      for (const { shape, begin, size } of cases) {
        for (const dtype of ['float32', 'int32'] as const) {
          const x = tf.tensor(Array.from({ length: tf.util.sizeFromShape(shape) }, (_, i) => i), shape, dtype);
          const y = tf.slice(x, begin, size);
          expect([y.shape, y.dtype], JSON.stringify(shape)).toEqual([size, dtype]);
          expect(readSync).not.toHaveBeenCalled();
          expect(Array.from(await y.data()), `${JSON.stringify({ shape, begin, size })} ${dtype}`).toEqual(expected(shape, begin, size));
          readSync.mockClear(); // reading the result back uses it
          tf.dispose([x, y]);
        }
      }
      const flags = tf.tensor2d([[true, false, true], [false, false, true]]);
      const sliced = tf.slice(flags, [0, 1], [2, -1]); // one byte per element
      expect([sliced.dtype, await sliced.array()]).toEqual(['bool', [[0, 1], [0, 1]]]);
      tf.dispose([flags, sliced]);
    });
    readSync.mockRestore();
  });
});

describe('planMatMul', () => {
  it('folds batches of A into rows when B is one matrix', () => {
    const plan = planMatMul([8, 128, 768], [768, 64], false, false);
    expect(plan).toMatchObject({ m: 1024, n: 64, k: 768, outShape: [8, 128, 64], products: [{ a: 0, b: 0 }] });
  });

  it('pairs broadcast batches', () => {
    expect(planMatMul([2, 1, 3, 4], [1, 3, 4, 2], false, false).products).toEqual([
      { a: 0, b: 0 }, { a: 0, b: 1 }, { a: 0, b: 2 }, { a: 1, b: 0 }, { a: 1, b: 1 }, { a: 1, b: 2 },
    ]);
  });

  it('names both shapes when inner dimensions differ', () => {
    expect(() => planMatMul([2, 3], [4, 5], false, false)).toThrow('matMul: inner dimensions differ: [2, 3] · [4, 5] (3 vs 4)');
  });
});

describe('gather kernels', () => {
  const table = [[0, 1, 2], [10, 11, 12], [20, 21, 22], [30, 31, 32]];

  async function checkGather(): Promise<void> {
    const x = tf.tensor2d(table);
    const rows = tf.gather(x, tf.tensor2d([[3, 0], [1, 1]], [2, 2], 'int32'));
    expect(rows.shape).toEqual([2, 2, 3]);
    expect(await rows.array()).toEqual([[[30, 31, 32], [0, 1, 2]], [[10, 11, 12], [10, 11, 12]]]);
    const ints = tf.gather(tf.tensor2d(table, [4, 3], 'int32'), tf.tensor1d([2], 'int32'));
    expect(ints.dtype).toBe('int32');
    expect(await ints.array()).toEqual([[20, 21, 22]]);
    expect(await tf.gather(x, tf.tensor1d([2, 0], 'int32'), 1).array()).toEqual(table.map((row) => [row[2], row[0]]));
    expect(() => tf.gather(x, tf.tensor1d([4], 'int32'))).toThrow('gather: expected indices in [0, 4), got 4');
  }

  it('copy rows along axis 0 on wasm and leave other gathers to the stock kernel', async () => {
    await withKernels([wasmGatherKernel()], checkGather);
  });

  it('do the same on cpu', async () => {
    await tf.setBackend('cpu');
    try {
      await withKernels([cpuGatherKernel()], checkGather);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
