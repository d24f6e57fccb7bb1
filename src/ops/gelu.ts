import * as tf from '@tensorflow/tfjs-core';

/** Kernels behind `gelu`, registered where a faster implementation exists (the native add-on; on wasm, SIMD). */
export const GELU_KERNEL = 'AdapterFusionGelu';
export const GELU_GRAD_KERNEL = 'AdapterFusionGeluGrad';

/**
 * The exact GELU, `x·Φ(x) = 0.5·x·(1 + erf(x/√2))` (Hugging Face `gelu`, BERT's `hidden_act`), element-wise.
 *
 * With the native add-on it is one vectorised pass forward and one backward (erf to 1.5e-7), on wasm without it the
 * same in WebAssembly SIMD; elsewhere it is the formula from tfjs ops. On wasm, erf alone otherwise costs more than a
 * feed-forward block's matrix products.
 *
 * @example
 * const inner = gelu(linear(hidden, kernel, bias)); // (B, T, I)
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (tf.getKernel(GELU_KERNEL, tf.getBackend())) return tf.engine().runKernel<T>(GELU_KERNEL, { x });
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

tf.registerGradient({
  kernelName: GELU_KERNEL,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [tf.Tensor];
    return { x: () => tf.engine().runKernel<tf.Tensor>(GELU_GRAD_KERNEL, { x, dy: dy as tf.Tensor }) };
  },
});
