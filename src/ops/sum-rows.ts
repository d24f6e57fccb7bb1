import * as tf from '@tensorflow/tfjs-core';

/**
 * Sums a tensor over every axis but the last, `(..., n)` → `(n)`: the gradient of a bias. Computed as a row of ones
 * times the rows, a matrix product: the wasm backend's Sum reduces only trailing axes, so it transposes the whole
 * tensor first, 15-30 times slower on a training step's (4096, 512) gradients.
 *
 * @example
 * const biasGradient = sumRows(dy); // (B, T, out) → (out)
 */
export function sumRows(t: tf.Tensor): tf.Tensor1D {
  const width = t.shape[t.rank - 1] ?? 1;
  const rows = t.size / width;
  return tf.tidy(() => tf.reshape<tf.Rank.R1>(tf.matMul(tf.ones([1, rows]), tf.reshape(t, [rows, width])), [width]));
}
