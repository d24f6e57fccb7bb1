import * as tf from '@tensorflow/tfjs-core';
import { sumRows } from './sum-rows';

/** Kernels behind `layerNorm` on the wasm and cpu backends. */
export const LAYER_NORM_KERNEL = 'AdapterFusionLayerNorm';
export const LAYER_NORM_GRAD_KERNEL = 'AdapterFusionLayerNormGrad';

/**
 * LayerNorm over the last axis, as PyTorch computes it: `(x − mean) / sqrt(var + epsilon) · gamma + beta` with the
 * biased variance.
 *
 * On wasm and cpu it is one kernel forward and one backward, so a training step keeps one tensor per LayerNorm
 * instead of the half-dozen full-size intermediates of the composed ops (tfjs holds every intermediate until the
 * backward pass ends); elsewhere it is those ops. Gradients for gamma and beta are computed only when asked for.
 *
 * @example
 * const normalised = layerNorm(tf.add(h, x), gamma, beta, 1e-12); // (B, T, D)
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): T {
  const size = x.shape[x.rank - 1];
  if (gamma.rank !== 1 || beta.rank !== 1 || gamma.shape[0] !== size || beta.shape[0] !== size) {
    throw new Error(`layerNorm: expected gamma and beta of shape [${size}] (the input's last axis), got [${gamma.shape.join(', ')}] and [${beta.shape.join(', ')}]`);
  }
  if (tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend())) return tf.engine().runKernel<T>(LAYER_NORM_KERNEL, { x, gamma, beta }, { epsilon });
  return tf.tidy(() => tf.add(tf.mul(normalize(x, epsilon), gamma), beta));
}

/** (x − mean) / sqrt(var + epsilon) over the last axis. */
function normalize<T extends tf.Tensor>(x: T, epsilon: number): T {
  const { mean, variance } = tf.moments(x, -1, true); // (..., 1) each
  return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
}

tf.registerGradient({
  kernelName: LAYER_NORM_KERNEL,
  inputsToSave: ['x', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma] = saved as [tf.Tensor, tf.Tensor];
    const gradient = dy as tf.Tensor;
    const { epsilon } = attrs as { epsilon: number };
    return {
      x: () => tf.engine().runKernel<tf.Tensor>(LAYER_NORM_GRAD_KERNEL, { x, gamma, dy: gradient }, { epsilon }),
      gamma: () => sumRows(tf.mul(gradient, normalize(x, epsilon))),
      beta: () => sumRows(gradient),
    };
  },
});

/** Forward kernel body: `out` = LayerNorm of each row of `x` (row length = gamma's). */
export function layerNormRows(x: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, epsilon: number): void {
  const size = gamma.length;
  for (let start = 0; start < x.length; start += size) {
    const { mean, inverseDeviation } = rowStatistics(x, start, size, epsilon);
    for (let j = 0; j < size; j++) out[start + j] = ((x[start + j] ?? 0) - mean) * inverseDeviation * (gamma[j] ?? 0) + (beta[j] ?? 0);
  }
}

/** Gradient kernel body: `out` = dL/dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) per row, with g = dy·gamma. */
export function layerNormRowsGrad(x: Float32Array, gamma: Float32Array, dy: Float32Array, out: Float32Array, epsilon: number): void {
  const size = gamma.length;
  for (let start = 0; start < x.length; start += size) {
    const { mean, inverseDeviation } = rowStatistics(x, start, size, epsilon);
    let sumG = 0;
    let sumGX = 0;
    for (let j = 0; j < size; j++) {
      const g = (dy[start + j] ?? 0) * (gamma[j] ?? 0);
      sumG += g;
      sumGX += g * ((x[start + j] ?? 0) - mean) * inverseDeviation;
    }
    const [meanG, meanGX] = [sumG / size, sumGX / size];
    for (let j = 0; j < size; j++) {
      const normalized = ((x[start + j] ?? 0) - mean) * inverseDeviation;
      out[start + j] = inverseDeviation * ((dy[start + j] ?? 0) * (gamma[j] ?? 0) - meanG - normalized * meanGX);
    }
  }
}

/** Mean and 1/sqrt(var + epsilon) of one row, accumulated in float64. */
function rowStatistics(x: Float32Array, start: number, size: number, epsilon: number): { mean: number; inverseDeviation: number } {
  let sum = 0;
  for (let j = 0; j < size; j++) sum += x[start + j] ?? 0;
  const mean = sum / size;
  let squares = 0;
  for (let j = 0; j < size; j++) {
    const centred = (x[start + j] ?? 0) - mean;
    squares += centred * centred;
  }
  return { mean, inverseDeviation: 1 / Math.sqrt(squares / size + epsilon) };
}
