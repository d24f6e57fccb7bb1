import * as tf from '@tensorflow/tfjs-core';
import { planMatMul } from '../src/backend/kernels/matmul-plan';

/** Counts the FLOPs (2·m·n·k per product) of every matrix-product kernel `f` runs. */
export async function countMatMulFlops(f: () => void | Promise<void>): Promise<number> {
  const backendName = tf.getBackend();
  let flops = 0;
  const originals = [tf.BatchMatMul, tf._FusedMatMul].map((name) => tf.getKernel(name, backendName)).filter((kernel) => kernel !== undefined);
  const swap = (configs: tf.KernelConfig[]) => configs.forEach((config) => {
    tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  });
  swap(originals.map((original) => ({
    ...original,
    kernelFunc: (args: Parameters<tf.KernelFunc>[0]) => {
      const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
      flops += 2 * plan.m * plan.n * plan.k * plan.products.length;
      return original.kernelFunc(args);
    },
  })));
  try {
    await f();
  } finally {
    swap(originals);
  }
  return flops;
}
