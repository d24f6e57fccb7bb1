import * as tf from '@tensorflow/tfjs-core';
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, attentionShapes, type AttentionAttrs } from '../../ops/attention';
import { applyDropoutMask, DROPOUT_KERNEL } from '../../ops/dropout';
import { GELU_GRAD_KERNEL, GELU_KERNEL } from '../../ops/gelu';
import { ADAMW_KERNEL, type AdamWAttrs } from '../../training/adamw';
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, layerNormRows, layerNormRowsGrad, RESIDUAL_LAYER_NORM_GRAD_KERNEL, RESIDUAL_LAYER_NORM_KERNEL } from '../../ops/layer-norm';
import { loadNativeBlas, type NativeBlas } from '../native/native-blas';
import { wasmThreads } from '../wasm-threads';
import { floatKernel, shapedLikeFirst } from './float-kernel';
import { cpuMatMulKernels } from './cpu-matmul';
import { cpuGatherKernel, wasmGatherKernel } from './gather-rows';
import { HeapWorkers } from './heap-workers';
import { compileSimdKernels, fusedMultiplyAdd } from './wasm-simd';
import { wasmSliceKernel } from './wasm-slice';
import { wasmIdentityKernel, wasmMatMulKernels, type WasmBackend } from './wasm-matmul';
import { WEBGPU_MATMUL_ENV, webGpuKernels } from './webgpu-kernels';

/** What the framework put in place of the backend's stock kernels, for `doctor` and the benchmark. */
export interface KernelInfo {
  /** The matrix-product implementation in use, e.g. `native BLAS (OpenBLAS 0.3.21, 2 threads)`. */
  matMul: string;
  /** The native BLAS add-on: in use, or why not. */
  blas: string;
  /** Where the GELU, LayerNorm and dropout kernels run, e.g. `native add-on`. */
  elementwise: string;
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

/** The LayerNorm kernels' residual argument when there is none. */
const NO_RESIDUAL = new Float32Array(0);

/**
 * The kernels on the wasm heap (SIMD LayerNorm, GELU, dropout and small products) for when the native
 * add-on is absent, with a worker per wasm thread after the first where wasm runs its threaded build (its heap is
 * then shared).
 */
async function heapWorkers(env: NodeJS.ProcessEnv): Promise<HeapWorkers> {
  const { wasm } = tf.findBackend('wasm') as WasmBackend;
  const memory = wasm.wasmMemory ?? wasm.asm.memory;
  const shared = memory.buffer instanceof SharedArrayBuffer;
  return new HeapWorkers(memory, shared ? wasmThreads() : 1, await compileSimdKernels(shared, env));
}

/** The framework's kernels for one backend; none for native TensorFlow, whose own are fast. */
function kernelsFor(backendName: string, blas: NativeBlas | undefined, heap: HeapWorkers | undefined, env: NodeJS.ProcessEnv): tf.KernelConfig[] {
  if (backendName === 'webgpu') return webGpuKernels(env);
  if (backendName !== 'wasm' && backendName !== 'cpu') return [];
  // The add-on's element-wise kernels compute what the JavaScript ones do, vectorised; so do the heap workers' in
  // WebAssembly SIMD, split over wasm's threads.
  const library = blas ?? heap;
  const dropout = library ? library.dropout : applyDropoutMask;
  const [normalize, normalizeGrad] = library ? [library.layerNorm, library.layerNormGrad] : [layerNormRows, layerNormRowsGrad];
  const elementwise = [
    floatKernel(DROPOUT_KERNEL, backendName, ['x'], ([x], [out], attrs) => dropout(x as Float32Array, out as Float32Array, attrs.rate as number, attrs.seed as number)),
    floatKernel(LAYER_NORM_KERNEL, backendName, ['x', 'gamma', 'beta'], ([x, gamma, beta], [out], attrs) =>
      normalize(x as Float32Array, NO_RESIDUAL, gamma as Float32Array, beta as Float32Array, out as Float32Array, attrs.epsilon as number)),
    floatKernel(RESIDUAL_LAYER_NORM_KERNEL, backendName, ['x', 'residual', 'gamma', 'beta'], ([x, residual, gamma, beta], [out], attrs) =>
      normalize(x as Float32Array, residual as Float32Array, gamma as Float32Array, beta as Float32Array, out as Float32Array, attrs.epsilon as number)),
    floatKernel(LAYER_NORM_GRAD_KERNEL, backendName, ['x', 'gamma', 'dy'], ([x, gamma, dy], [out], attrs) =>
      normalizeGrad(x as Float32Array, NO_RESIDUAL, gamma as Float32Array, dy as Float32Array, out as Float32Array, attrs.epsilon as number)),
    floatKernel(RESIDUAL_LAYER_NORM_GRAD_KERNEL, backendName, ['x', 'residual', 'gamma', 'dy'], ([x, residual, gamma, dy], [out], attrs) =>
      normalizeGrad(x as Float32Array, residual as Float32Array, gamma as Float32Array, dy as Float32Array, out as Float32Array, attrs.epsilon as number)),
    ...(library ? [
      floatKernel(GELU_KERNEL, backendName, ['x'], ([x], [out]) => library.gelu(x as Float32Array, out as Float32Array)),
      floatKernel(GELU_GRAD_KERNEL, backendName, ['x', 'dy'], ([x, dy], [out]) => library.geluGrad(x as Float32Array, dy as Float32Array, out as Float32Array)),
    ] : []),
    ...(blas ? [
      floatKernel(ADAMW_KERNEL, backendName, ['variable', 'firstMoment', 'secondMoment', 'gradient'], (inputs, outputs, attrs) => {
        const [p, m, v, g] = inputs as [Float32Array, Float32Array, Float32Array, Float32Array];
        const [pOut, mOut, vOut] = outputs as [Float32Array, Float32Array, Float32Array];
        const { decay, beta1, beta2, secondCorrection, epsilon, stepSize } = attrs as unknown as AdamWAttrs;
        blas.adamW(p, m, v, g, pOut, mOut, vOut, decay, beta1, beta2, secondCorrection, epsilon, stepSize);
      }, shapedLikeFirst(3)),
      floatKernel(ATTENTION_KERNEL, backendName, ['query', 'key', 'value', 'keyBias'], (inputs, outputs, attrs, [shape]) => {
        const [query, key, value, keyBias] = inputs as [Float32Array, Float32Array, Float32Array, Float32Array];
        const [context, probabilities] = outputs as [Float32Array, Float32Array];
        const { heads, rate, seed } = attrs as unknown as AttentionAttrs;
        blas.attention(query, key, value, keyBias, context, probabilities, heads, (shape as number[])[1] as number, rate, seed);
      }, ([shape], attrs) => attentionShapes(shape as number[], (attrs as unknown as AttentionAttrs).heads)),
      floatKernel(ATTENTION_GRAD_KERNEL, backendName, ['query', 'key', 'value', 'probabilities', 'dContext'], (inputs, outputs, attrs, [shape]) => {
        const [query, key, value, probabilities, dContext] = inputs as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
        const [dQuery, dKey, dValue] = outputs as [Float32Array, Float32Array, Float32Array];
        const { heads, rate, seed } = attrs as unknown as AttentionAttrs;
        blas.attentionGrad(query, key, value, probabilities, dContext, dQuery, dKey, dValue, heads, (shape as number[])[1] as number, rate, seed);
      }, shapedLikeFirst(3)),
    ] : []),
  ];
  if (backendName === 'wasm') return [...wasmMatMulKernels(tf.findBackend('wasm') as WasmBackend, blas, heap), wasmIdentityKernel(), wasmGatherKernel(), wasmSliceKernel(), ...elementwise];
  return [...(blas ? cpuMatMulKernels(blas) : []), cpuGatherKernel(), ...elementwise];
}

/**
 * Registers the framework's kernels for the backend that was just set, once per backend: gradients for every op, and
 * where they beat the stock ones: matrix products (through the native add-on when it loads), embedding-style gathers,
 * a copy-free Identity, a wasm Slice that copies only the slice, and the kernels of the `dropout`, `layerNorm` and
 * `gelu` ops (on cpu, GELU only with the add-on).
 * Called by `initBackend`; `ADAPTERFUSION_BLAS=0` keeps the add-on out, `ADAPTERFUSION_KERNELS=stock` all of it.
 */
export async function registerKernels(backendName: string, env: NodeJS.ProcessEnv = process.env): Promise<KernelInfo> {
  ensureGradients();
  const known = registered.get(backendName);
  if (known) return known;
  if (env[KERNELS_ENV] === 'stock') {
    const stock = { matMul: `stock ${backendName} kernels (${KERNELS_ENV}=stock)`, blas: `not used (${KERNELS_ENV}=stock)`, elementwise: `tfjs ops (${KERNELS_ENV}=stock)`, registered: [] };
    registered.set(backendName, stock);
    return stock;
  }
  const { blas, description } = backendName === 'wasm' || backendName === 'cpu' ? loadNativeBlas(env) : { blas: undefined, description: '' };
  const heap = blas || backendName !== 'wasm' ? undefined : await heapWorkers(env);
  const configs = kernelsFor(backendName, blas, heap, env);
  const split = heap && heap.threads > 1 ? `, split over ${heap.threads} threads` : '';
  const elementwise = backendName === 'webgpu' ? 'dropout in WGSL, the rest tfjs ops' : backendName !== 'wasm' && backendName !== 'cpu' ? 'tfjs ops' : blas ? 'native add-on' : heap ? `GELU, LayerNorm and dropout in WebAssembly SIMD${split}` : 'JavaScript';
  const info =
    backendName === 'wasm'
      ? { matMul: blas ? 'native BLAS on the wasm heap' : `WebAssembly SIMD${(await fusedMultiplyAdd(env)) ? ' with fused multiply-add' : ''}${split}, XNNPACK for the rest`, blas: blas ? description : `not used: ${description}` }
    : backendName === 'cpu' && blas ? { matMul: 'native BLAS on the cpu backend\'s arrays', blas: description }
    : backendName === 'webgpu' && env[WEBGPU_MATMUL_ENV] === 'wgsl' ? { matMul: `tiled WGSL (${WEBGPU_MATMUL_ENV}=wgsl), tfjs-webgpu for fused activations`, blas: 'not used (the GPU does the products)' }
    : { matMul: `stock ${backendName} kernels`, blas: backendName === 'tensorflow' ? 'not used (TensorFlow brings its own)' : backendName === 'webgpu' ? 'not used (the GPU does the products)' : `not used: ${description}` };
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
  const result = { ...info, elementwise, registered: configs.map((config) => `${config.kernelName}/${config.backendName}`) };
  registered.set(backendName, result);
  return result;
}
