import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from './wasm-matmul';

/**
 * Slice on wasm copying only the sliced runs, straight from heap to heap. The stock kernel first copies the whole
 * input out of the heap (`readSync`), so taking BERT's first token from the last layer copied every token.
 */
export function wasmSliceKernel(): tf.KernelConfig {
  const stock = tf.getKernel(tf.Slice, 'wasm');
  if (!stock) throw new Error('the wasm backend registers no Slice kernel');
  return {
    kernelName: tf.Slice,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return stock.kernelFunc(args);
      const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
      const [from, count] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
      const backend = args.backend as WasmBackend;
      const out = backend.makeOutput(count, x.dtype);
      if (tf.util.sizeFromShape(count) === 0) return out;
      const bytes = backend.wasm.HEAPU8; // after makeOutput, which may grow the heap
      const elementBytes = tf.util.bytesPerElement(x.dtype);
      // The trailing axes the slice spans whole, with the axis before them, are one contiguous run of the input.
      let axis = x.shape.length - 1;
      while (axis > 0 && count[axis] === x.shape[axis]) axis--;
      const strides = [...tf.util.computeStrides(x.shape), 1];
      const runBytes = (count[axis] ?? 0) * (strides[axis] ?? 0) * elementBytes;
      const source = backend.dataIdMap.get(x.dataId).memoryOffset;
      let target = backend.dataIdMap.get(out.dataId).memoryOffset;
      const index = new Array<number>(axis).fill(0); // the run's position in the slice's leading axes
      for (let run = tf.util.sizeFromShape(count.slice(0, axis)); run > 0; run--) {
        let offset = (from[axis] ?? 0) * (strides[axis] ?? 0);
        index.forEach((i, j) => (offset += ((from[j] ?? 0) + i) * (strides[j] ?? 0)));
        const begins = source + offset * elementBytes;
        bytes.copyWithin(target, begins, begins + runBytes);
        target += runBytes;
        for (let j = axis - 1; j >= 0; j--) { // the next run, the last axis fastest
          index[j] = (index[j] ?? 0) + 1;
          if (index[j] !== count[j]) break;
          index[j] = 0;
        }
      }
      return out;
    },
  };
}
