import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-matmul';

/** The parts of @tensorflow/tfjs-backend-cpu's MathBackendCPU an element-wise kernel uses. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/** Computes `out` (the shape of the first input) from the inputs' values, all float32 and in place. */
export type FloatCompute = (inputs: Float32Array[], out: Float32Array, attrs: tf.NamedAttrMap) => void;

/**
 * A kernel for the wasm or cpu backend computed in place on the backend's own float32 memory (views of the wasm
 * heap, or the cpu backend's arrays): `inputNames` in order, output shaped like the first.
 */
export function floatKernel(kernelName: string, backendName: 'wasm' | 'cpu', inputNames: readonly string[], compute: FloatCompute): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs = {}, backend }) => {
      const infos = inputNames.map((name) => {
        const info = inputs[name];
        if (!info || info.dtype !== 'float32') throw new Error(`${kernelName}: expected a float32 input "${name}", got ${info ? info.dtype : 'none'}`);
        return info;
      });
      const shape = (infos[0] as tf.TensorInfo).shape;
      const size = tf.util.sizeFromShape(shape);
      if (backendName === 'cpu') {
        const cpu = backend as CpuBackend;
        const out = new Float32Array(size);
        compute(infos.map((info) => cpu.data.get(info.dataId).values as Float32Array), out, attrs);
        return cpu.makeTensorInfo(shape, 'float32', out);
      }
      const wasm = backend as WasmBackend;
      const out = wasm.makeOutput(shape, 'float32');
      const heap = wasm.wasm.HEAPF32; // after makeOutput, which may grow the heap
      const view = (info: tf.TensorInfo) => {
        const start = wasm.dataIdMap.get(info.dataId).memoryOffset / 4;
        return heap.subarray(start, start + tf.util.sizeFromShape(info.shape));
      };
      compute(infos.map(view), view(out), attrs);
      return out;
    },
  };
}
