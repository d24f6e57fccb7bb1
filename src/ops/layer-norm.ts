import * as tf from '@tensorflow/tfjs-core';
import { sumRows } from './sum-rows';

/** Kernels behind `layerNorm` on the wasm and cpu backends, without and with a residual. */
export const LAYER_NORM_KERNEL = 'AdapterFusionLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'AdapterFusionLayerNormGrad';
export const RESIDUAL_LAYER_NORM_KERNEL = 'AdapterFusionResidualLayerNorm';
export const RESIDUAL_LAYER_NORM_GRAD_KERNEL = 'AdapterFusionResidualLayerNormGrad';

/**
 * LayerNorm over the last axis, as PyTorch computes it: `(x − mean) / sqrt(var + epsilon) · gamma + beta` with the
 * biased variance; of `x + residual` when a residual is given (a transformer's post-LN residual connection).
 *
 * On wasm and cpu it is one kernel forward and one backward, so a training step keeps one tensor per LayerNorm
 * instead of the half-dozen full-size intermediates of the composed ops (tfjs holds every intermediate until the
 * backward pass ends); the residual is added row by row inside the kernels, so the sum is neither a separate pass nor
 * kept. Elsewhere it is those ops. Gradients for gamma and beta are computed only when asked for.
 *
 * @example
 * const normalised = layerNorm(h, gamma, beta, 1e-12, x); // LN(h + x), (B, T, D)
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, residual?: T): T {
  const size = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || beta.rank !== 1 || gamma.shape[0] !== size || beta.shape[0] !== size) {
    throw new Error(`layerNorm: expected gamma and beta of shape [${size}] (the input's last axis), got [${gamma.shape.join(', ')}] and [${beta.shape.join(', ')}]`);
  }
  if (residual && !tf.util.arraysEqual(residual.shape, x.shape)) {
    throw new Error(`layerNorm: expected a residual of the input's shape [${x.shape.join(', ')}], got [${residual.shape.join(', ')}]`);
  }
  const kernel = residual ? RESIDUAL_LAYER_NORM_KERNEL : LAYER_NORM_KERNEL;
  if (tf.getKernel(kernel, tf.getBackend())) return tf.engine().runKernel<T>(kernel, residual ? { x, residual, gamma, beta } : { x, gamma, beta }, { epsilon });
  return tf.tidy(() => tf.add(tf.mul(normalize(residual ? tf.add(x, residual) : x, epsilon), gamma), beta));
}

/** (x − mean) / sqrt(var + epsilon) over the last axis. */
function normalize<T extends tf.Tensor>(x: T, epsilon: number): T {
  const { mean, variance } = tf.moments(x, -1, true); // (..., 1) each
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
}

/**
 * The gradients of LayerNorm of x (+ residual). The input gradient is one kernel call, run here rather than in a
 * closure (the engine runs each closure in its own scope) because x and the residual share it.
 */
function layerNormGradients(x: tf.Tensor, residual: tf.Tensor | undefined, gamma: tf.Tensor, dy: tf.Tensor, epsilon: number): Record<string, () => tf.Tensor> {
  const dx = residual
    ? tf.engine().runKernel<tf.Tensor>(RESIDUAL_LAYER_NORM_GRAD_KERNEL, { x, residual, gamma, dy }, { epsilon })
    : tf.engine().runKernel<tf.Tensor>(LAYER_NORM_GRAD_KERNEL, { x, gamma, dy }, { epsilon });
  return {
    x: () => dx,
    // A tensor of its own: the engine disposes each input's gradient once it has been summed into another.
    ...(residual ? { residual: () => tf.clone(dx) } : {}),
    gamma: () => sumRows(tf.mul(dy, normalize(residual ? tf.add(x, residual) : x, epsilon))),
    beta: () => sumRows(dy),
  };
}

tf.registerGradient({
  kernelName: LAYER_NORM_KERNEL,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, [x, gamma], attrs) => layerNormGradients(x as tf.Tensor, undefined, gamma as tf.Tensor, dy as tf.Tensor, (attrs as { epsilon: number }).epsilon),
});

tf.registerGradient({
  kernelName: RESIDUAL_LAYER_NORM_KERNEL,
  inputsToSave: ['x', 'residual', 'gamma'],
  gradFunc: (dy, [x, residual, gamma], attrs) =>
    layerNormGradients(x as tf.Tensor, residual, gamma as tf.Tensor, dy as tf.Tensor, (attrs as { epsilon: number }).epsilon),
});

// The kernel bodies in JavaScript: the cpu backend's kernels, and the reference the native and SIMD ones follow.

/** Forward kernel body: `out` = LayerNorm of each row of `x + residual` (`x` when residual is empty; row length = gamma's). */
export function layerNormRows(x: Float32Array, residual: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, epsilon: number): void {
  const size = gamma.length;
  const input = residual.length === 0 ? x : out;
  for (let start = 0; start < x.length; start += size) {
    const { mean, inverseDeviation } = rowMoments(x, residual, out, start, size, epsilon);
    for (let j = 0, i = start; j < size; j++, i++) out[i] = ((input[i] as number) - mean) * inverseDeviation * (gamma[j] as number) + (beta[j] as number);
  }
}

/** Gradient kernel body: `out` = dL/dx (= dL/dresidual) = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) per row, with g = dy·gamma. */
export function layerNormRowsGrad(x: Float32Array, residual: Float32Array, gamma: Float32Array, dy: Float32Array, out: Float32Array, epsilon: number): void {
  const size = gamma.length;
  const input = residual.length === 0 ? x : out;
  for (let start = 0; start < x.length; start += size) {
    const { mean, inverseDeviation } = rowMoments(x, residual, out, start, size, epsilon);
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0, i = start; j < size; j++, i++) {
      const g = (dy[i] as number) * (gamma[j] as number);
      sumG += g;
      sumGX += g * (((input[i] as number) - mean) * inverseDeviation);
    }
    const [meanG, meanGX] = [sumG / size, sumGX / size];
    for (let j = 0, i = start; j < size; j++, i++) {
      const normalized = ((input[i] as number) - mean) * inverseDeviation;
      out[i] = inverseDeviation * ((dy[i] as number) * (gamma[j] as number) - meanG - normalized * meanGX);
    }
  }
}

/**
 * Mean and 1/sqrt(var + epsilon), in float64, of the row of `x + residual` that starts at `start`; with a residual
 * the sum is written into out's row, which the caller reads and then overwrites (row by row, so it is still in cache).
 */
function rowMoments(x: Float32Array, residual: Float32Array, out: Float32Array, start: number, size: number, epsilon: number): { mean: number; inverseDeviation: number } {
  const end = start + size;
  const input = residual.length === 0 ? x : out;
  if (input === out) for (let i = start; i < end; i++) out[i] = (x[i] as number) + (residual[i] as number);
  let sum = 0;
  for (let i = start; i < end; i++) sum += input[i] as number;
  const mean = sum / size;
  let squares = 0;
  for (let i = start; i < end; i++) {
    const centred = (input[i] as number) - mean;
    squares += centred * centred;
  }
  return { mean, inverseDeviation: 1 / Math.sqrt(squares / size + epsilon) };
}
