import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../src/backend/backend';
import { cpuMatMulKernels } from '../../src/backend/kernels/cpu-matmul';
import { cpuGatherKernel, wasmGatherKernel } from '../../src/backend/kernels/gather-rows';
import { HeapWorkers } from '../../src/backend/kernels/heap-workers';
import { planMatMul } from '../../src/backend/kernels/matmul-plan';
import { wasmIdentityKernel, wasmMatMulKernels, type WasmBackend } from '../../src/backend/kernels/wasm-matmul';
import { compileSimdKernels } from '../../src/backend/kernels/wasm-simd';
import { wasmSliceKernel } from '../../src/backend/kernels/wasm-slice';
import { loadNativeBlas } from '../../src/backend/native/native-blas';
import { lacking, offWasm } from '../requirements';
import { productErrors, seeded } from './matmul-reference';

async function checkAll(): Promise<void> {
  for (const { name, shape, expectedShape, worst } of await productErrors()) {
    expect(shape, name).toEqual(expectedShape);
    expect(worst, name).toBeLessThan(1e-6);
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

/** The SIMD kernels on the backend's own memory, on the calling thread (as where wasm runs one thread). */
async function heapWorkersOn(wasm: WasmBackend): Promise<HeapWorkers> {
  const memory = wasm.wasm.wasmMemory ?? wasm.wasm.asm.memory;
  return new HeapWorkers(memory, 1, await compileSimdKernels(memory.buffer instanceof SharedArrayBuffer));
}

describe('matmul kernels match a float64 reference', () => {
  let wasm: WasmBackend;
  beforeAll(async () => {
    await initBackend();
    wasm = tf.findBackend('wasm') as WasmBackend;
  });

  it.skipIf(offWasm())('on wasm through XNNPACK (no add-on)', async () => {
    await withKernels(wasmMatMulKernels(wasm, undefined), checkAll);
  });

  it.skipIf(offWasm())('on wasm through XNNPACK and the SIMD kernel (no add-on, as initBackend registers them)', async () => {
    await withKernels(wasmMatMulKernels(wasm, undefined, await heapWorkersOn(wasm)), checkAll);
  });

  it.skipIf(offWasm() || lacking('the native add-on', blas))('on wasm through the native BLAS add-on', async () => {
    await withKernels(wasmMatMulKernels(wasm, blas), checkAll);
  });

  describe.skipIf(lacking('the native add-on', blas))('on cpu through the native BLAS add-on', () => {
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

describe.skipIf(offWasm())('wasm kernels', () => {
  it('leave the tensor count and the wasm heap unchanged, on every path', async () => {
    await initBackend();
    const wasm = tf.findBackend('wasm') as WasmBackend;
    // Large enough for the XNNPACK path's transposed temporaries and per-batch tensor ids.
    const a = seeded([2, 3, 64, 48], 1);
    const b = seeded([2, 3, 64, 48], 2);
    const bias = seeded([48], 3);
    const step = () => tf.tidy(() => tf.sum(tf.fused.matMul({ a, b, transposeA: true, bias })).dataSync());
    const heap = await heapWorkersOn(wasm);
    for (const [library, simd] of [[undefined, undefined], [undefined, heap], [blas, undefined]] as const) {
      await withKernels(wasmMatMulKernels(wasm, library, simd), async () => {
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

  it.skipIf(offWasm())('copy rows along axis 0 on wasm and leave other gathers to the stock kernel', async () => {
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
