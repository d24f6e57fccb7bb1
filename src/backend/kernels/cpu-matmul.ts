import * as tf from '@tensorflow/tfjs-core';
import { BLAS_ACTIVATIONS, type NativeBlas } from '../native/native-blas';
import { isRowBias, planMatMul, productOffsets } from './matmul-plan';
import type { FusedInputs } from './wasm-matmul';

/** The parts of @tensorflow/tfjs-backend-cpu's MathBackendCPU these kernels use. */
interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/**
 * Matrix-product kernels for the cpu backend through the native BLAS add-on, which reads and writes the backend's
 * Float32Arrays directly. What the add-on does not cover (other dtypes, prelu, a bias that is not one row) goes to
 * the stock kernel.
 */
export function cpuMatMulKernels(blas: NativeBlas): tf.KernelConfig[] {
  const stock = (name: string): tf.KernelFunc => {
    const kernel = tf.getKernel(name, 'cpu');
    if (!kernel) throw new Error(`the cpu backend registers no ${name} kernel`);
    return kernel.kernelFunc;
  };
  const stockBatchMatMul = stock(tf.BatchMatMul);
  const stockFusedMatMul = stock(tf._FusedMatMul);

  const kernelFunc = (fallback: tf.KernelFunc): tf.KernelFunc => (args) => {
    const backend = args.backend as CpuBackend;
    const { a, b, bias, preluActivationWeights } = args.inputs as unknown as FusedInputs;
    const { transposeA, transposeB, activation = 'linear', leakyreluAlpha = 0 } = args.attrs as unknown as tf._FusedMatMulAttrs;
    const values = (info: tf.TensorInfo) => backend.data.get(info.dataId).values;
    const [aValues, bValues, biasValues] = [values(a), values(b), bias ? values(bias) : null];
    const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
    const code = BLAS_ACTIVATIONS[activation];
    if (!(aValues instanceof Float32Array) || !(bValues instanceof Float32Array) || code === undefined || preluActivationWeights ||
        (bias && !(biasValues instanceof Float32Array && isRowBias(bias.shape, plan.n)))) {
      return fallback(args);
    }
    const out = new Float32Array(tf.util.sizeFromShape(plan.outShape));
    blas.matMul(aValues, bValues, out, biasValues as Float32Array | null, productOffsets(plan), plan.m, plan.n, plan.k, transposeA, transposeB, code, leakyreluAlpha);
    return backend.makeTensorInfo(plan.outShape, 'float32', out);
  };

  return [
    { kernelName: tf.BatchMatMul, backendName: 'cpu', kernelFunc: kernelFunc(stockBatchMatMul) },
    { kernelName: tf._FusedMatMul, backendName: 'cpu', kernelFunc: kernelFunc(stockFusedMatMul) },
  ];
}
