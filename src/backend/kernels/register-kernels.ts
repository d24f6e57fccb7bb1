import * as tf from '@tensorflow/tfjs-core';
import { loadNativeBlas } from '../native/native-blas';
import { cpuMatMulKernels } from './cpu-matmul';
import { cpuGatherKernel, wasmGatherKernel } from './gather-rows';
import { wasmIdentityKernel, wasmMatMulKernels, type WasmBackend } from './wasm-matmul';

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

/** Environment variable: `stock` keeps the backend's own kernels (to compare, or to rule the framework's out). */
export const KERNELS_ENV = 'ADAPTERFUSION_KERNELS';

const registered = new Map<string, KernelInfo>();

/**
 * Registers the framework's kernels for the backend that was just set, once per backend: gradients for every op, and
 * where they beat the stock ones, matrix products (through the native BLAS add-on when it loads), embedding-style
 * gathers and a copy-free Identity. Called by `initBackend`; `ADAPTERFUSION_BLAS=0` keeps the add-on out, `ADAPTERFUSION_KERNELS=stock` all of it.
 */
export function registerKernels(backendName: string, env: NodeJS.ProcessEnv = process.env): KernelInfo {
  ensureGradients();
  const known = registered.get(backendName);
  if (known) return known;
  if (env[KERNELS_ENV] === 'stock') {
    const stock = { matMul: `stock ${backendName} kernels (${KERNELS_ENV}=stock)`, blas: `not used (${KERNELS_ENV}=stock)`, registered: [] };
    registered.set(backendName, stock);
    return stock;
  }
  const { blas, description } = loadNativeBlas(env);
  let configs: tf.KernelConfig[] = [];
  let info: Omit<KernelInfo, 'registered'>;
  if (backendName === 'wasm') {
    configs = [...wasmMatMulKernels(tf.findBackend('wasm') as WasmBackend, blas), wasmIdentityKernel(), wasmGatherKernel()];
    info = { matMul: blas ? 'native BLAS on the wasm heap' : 'XNNPACK for every product (transposed operands copied into place)', blas: blas ? description : `not used: ${description}` };
  } else if (backendName === 'cpu') {
    configs = [...(blas ? cpuMatMulKernels(blas) : []), cpuGatherKernel()];
    info = blas ? { matMul: 'native BLAS on the cpu backend\'s arrays', blas: description } : { matMul: 'stock cpu kernels', blas: `not used: ${description}` };
  } else {
    info = { matMul: `stock ${backendName} kernels`, blas: backendName === 'tensorflow' ? 'not used (TensorFlow brings its own)' : `not used: ${description}` };
  }
  for (const config of configs) {
    tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
  const result = { ...info, registered: configs.map((config) => `${config.kernelName}/${config.backendName}`) };
  registered.set(backendName, result);
  return result;
}
