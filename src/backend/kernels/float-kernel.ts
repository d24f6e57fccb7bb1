import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-matmul';

/** The parts of @tensorflow/tfjs-backend-cpu's MathBackendCPU a float kernel uses. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/** Computes `outputs` from the inputs' values (all float32, in place); `inputShapes` in the inputs' order. */
export type FloatCompute = (inputs: Float32Array[], outputs: Float32Array[], attrs: tf.NamedAttrMap, inputShapes: number[][]) => void;

/** Shapes of a kernel's outputs from its inputs' shapes (in `inputNames` order). */
export type OutputShapes = (inputShapes: number[][], attrs: tf.NamedAttrMap) => number[][];

/** `count` outputs shaped like the first input. */
export function shapedLikeFirst(count: number): OutputShapes {
  return ([shape]) => Array.from({ length: count }, () => shape as number[]);
}

/**
 * A kernel for the wasm or cpu backend computed in place on the backend's own float32 memory (views of the wasm
 * heap, or the cpu backend's arrays): `inputNames` in order; by default one output shaped like the first input.
 */
export function floatKernel(
  kernelName: string, backendName: 'wasm' | 'cpu', inputNames: readonly string[], compute: FloatCompute,
  outputShapes: OutputShapes = shapedLikeFirst(1),
): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, attrs = {}, backend }) => {
      const infos = inputNames.map((name) => {
        const info = inputs[name];
        if (!info || info.dtype !== 'float32') throw new Error(`${kernelName}: expected a float32 input "${name}", got ${info ? info.dtype : 'none'}`);
        return info;
      });
      const inputShapes = infos.map((info) => info.shape);
      const shapes = outputShapes(inputShapes, attrs);
      let outputs: tf.TensorInfo[];
      if (backendName === 'cpu') {
        const cpu = backend as CpuBackend;
        const values = shapes.map((shape) => new Float32Array(tf.util.sizeFromShape(shape)));
        compute(infos.map((info) => cpu.data.get(info.dataId).values as Float32Array), values, attrs, inputShapes);
        outputs = shapes.map((shape, i) => cpu.makeTensorInfo(shape, 'float32', values[i]));
      } else {
        const wasm = backend as WasmBackend;
        outputs = shapes.map((shape) => wasm.makeOutput(shape, 'float32'));
        const heap = wasm.wasm.HEAPF32; // after makeOutput, which may grow the heap
        const view = (info: tf.TensorInfo) => {
          const start = wasm.dataIdMap.get(info.dataId).memoryOffset / 4;
          return heap.subarray(start, start + tf.util.sizeFromShape(info.shape));
        };
        compute(infos.map(view), outputs.map(view), attrs, inputShapes);
      }
      return outputs.length === 1 ? (outputs[0] as tf.TensorInfo) : outputs;
    },
  };
}
