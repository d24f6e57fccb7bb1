import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { guardWasmAllocations, type WasmAllocator } from '../../src/backend/wasm-heap';
import { offWasm } from '../requirements';

describe('guarded wasm allocations', () => {
  it('pass addresses through and throw, saying what to change, where the allocator returns 0', () => {
    const calls: number[] = [];
    const module: WasmAllocator = {
      asm: { malloc: (bytes) => (calls.push(bytes), bytes > 1000 ? 0 : 4096) },
      _malloc: () => NaN,
      HEAPU8: new Uint8Array(3 * 2 ** 20),
    };
    guardWasmAllocations(module);
    expect(module._malloc(64)).toBe(4096);
    expect(module._malloc(0)).toBe(4096);
    expect(() => module._malloc(2 ** 21)).toThrow(
      'wasm heap full: could not allocate 2.0 MiB on a heap grown to 3 MiB (WebAssembly\'s limit is 4096 MiB); lower training.batchSize',
    );
    expect(calls).toEqual([64, 0, 2 ** 21]);
  });

  it.skipIf(offWasm())('are in place on the wasm backend: a tensor that cannot fit throws instead of landing at address 0', async () => {
    const { wasm } = tf.backend() as unknown as { wasm: WasmAllocator };
    expect(() => wasm._malloc(2 ** 32 - 2 ** 16)).toThrow(/^wasm heap full: could not allocate 4095\.9 MiB/);
    const tensors = tf.memory().numTensors;
    expect(() => tf.zeros([2 ** 30 - 2 ** 14])).toThrow(/^wasm heap full/);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});
