import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-matmul';

/** The parts of @tensorflow/tfjs-backend-cpu's MathBackendCPU this kernel uses. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.TypedArray): tf.TensorInfo;
}

/** What a row gather needs: `x` gathered along axis 0 by `indices`, row by row. */
interface RowGather {
  x: tf.TensorInfo;
  indices: tf.TensorInfo;
  rows: number;
  rowSize: number;
  outShape: number[];
}

/** A gather along axis 0 without batch dims (an embedding lookup), or undefined for the general case. */
function rowGather(args: Parameters<tf.KernelFunc>[0]): RowGather | undefined {
  const { x, indices } = args.inputs as unknown as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
  const normalizedAxis = axis < 0 ? axis + x.shape.length : axis;
  if (normalizedAxis !== 0 || (batchDims ?? 0) !== 0 || x.dtype === 'string' || x.dtype === 'complex64' || indices.dtype !== 'int32') return undefined;
  const rows = x.shape[0] ?? 0;
  return { x, indices, rows, rowSize: tf.util.sizeFromShape(x.shape.slice(1)), outShape: [...indices.shape, ...x.shape.slice(1)] };
}

function checkIndex(index: number, rows: number): void {
  if (!(index >= 0 && index < rows)) throw new Error(`gather: expected indices in [0, ${rows}), got ${index}`);
}

function stockKernel(backendName: string): tf.KernelFunc {
  const kernel = tf.getKernel(tf.GatherV2, backendName);
  if (!kernel) throw new Error(`the ${backendName} backend registers no GatherV2 kernel`);
  return kernel.kernelFunc;
}

/**
 * GatherV2 along axis 0 as one block copy per index (an embedding lookup). The stock wasm and cpu kernels compute
 * every element's source position separately, which made the embedding lookup of a BERT step cost more than its
 * attention. Other gathers go to the stock kernel.
 */
export function wasmGatherKernel(): tf.KernelConfig {
  const stock = stockKernel('wasm');
  return {
    kernelName: tf.GatherV2,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const gather = rowGather(args);
      if (!gather) return stock(args);
      const backend = args.backend as WasmBackend;
      const out = backend.makeOutput(gather.outShape, gather.x.dtype);
      const bytes = backend.wasm.HEAPU8; // after makeOutput, which may grow the heap
      const rowBytes = gather.rowSize * tf.util.bytesPerElement(gather.x.dtype);
      const source = backend.dataIdMap.get(gather.x.dataId).memoryOffset;
      const target = backend.dataIdMap.get(out.dataId).memoryOffset;
      const indexOffset = backend.dataIdMap.get(gather.indices.dataId).memoryOffset;
      const indices = new Int32Array(bytes.buffer, indexOffset, tf.util.sizeFromShape(gather.indices.shape));
      indices.forEach((index, i) => {
        checkIndex(index, gather.rows);
        bytes.copyWithin(target + i * rowBytes, source + index * rowBytes, source + (index + 1) * rowBytes);
      });
      return out;
    },
  };
}

/** The same row-copy gather for the cpu backend. */
export function cpuGatherKernel(): tf.KernelConfig {
  const stock = stockKernel('cpu');
  return {
    kernelName: tf.GatherV2,
    backendName: 'cpu',
    kernelFunc: (args) => {
      const gather = rowGather(args);
      const backend = args.backend as CpuBackend;
      const values = gather && backend.data.get(gather.x.dataId).values;
      const indices = gather && backend.data.get(gather.indices.dataId).values;
      if (!gather || !(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array) || !(indices instanceof Int32Array)) return stock(args);
      const { rowSize } = gather;
      const out = new (values.constructor as Float32ArrayConstructor)(indices.length * rowSize);
      indices.forEach((index, i) => {
        checkIndex(index, gather.rows);
        out.set(values.subarray(index * rowSize, (index + 1) * rowSize), i * rowSize);
      });
      return backend.makeTensorInfo(gather.outShape, gather.x.dtype, out);
    },
  };
}
