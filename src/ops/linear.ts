import * as tf from '@tensorflow/tfjs-core';
import { sumRows } from './sum-rows';

/**
 * `y = x·kernel + bias` over the last axis of `x`, for any number of leading axes (`(B, T, in)` → `(B, T, out)`).
 *
 * The forward pass is one fused matrix product on a single row block, which every backend runs on its fast path. Its
 * gradient is registered per input, so the engine computes only what is differentiated: with a frozen kernel (a frozen
 * backbone under a trained adapter) backprop costs one product instead of the two that `tf.fused.matMul` always does.
 *
 * @param x input `(..., in)`
 * @param kernel weights `[in, out]` (a PyTorch Linear weight transposed)
 * @param bias optional `(out)`
 * @example
 * const hidden = tf.ones([2, 4, 8]) as tf.Tensor3D;          // (B, T, in)
 * const kernel = tf.variable(tf.randomNormal([8, 3]));       // (in, out)
 * const projected = linear(hidden, kernel, tf.zeros([3]));   // (B, T, out)
 */
export function linear<R extends tf.Rank>(x: tf.Tensor<R>, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor<R> {
  const [inFeatures, outFeatures] = kernel.shape;
  const lastAxis = x.shape[x.rank - 1];
  if (lastAxis !== inFeatures) {
    throw new Error(`linear: expected the input's last axis to match the kernel's ${inFeatures} input features, got input shape [${x.shape.join(', ')}]`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`linear: expected a bias of shape [${outFeatures}], got [${bias.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const rows = x.size / inFeatures;
    // The fused kernel takes rank-3 operands; folding all leading axes into rows makes one untransposed product.
    const a = tf.reshape(x, [1, rows, inFeatures]); // (1, N, in)
    const b = tf.reshape(kernel, [1, inFeatures, outFeatures]); // (1, in, out)
    const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
    const attrs = { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 };
    const y = tf.engine().runKernel<tf.Tensor3D>(tf._FusedMatMul, inputs, attrs); // (1, N, out)
    const outShape: number[] = [...x.shape.slice(0, -1), outFeatures];
    return tf.reshape<tf.Rank>(y, outShape) as tf.Tensor<R>; // (..., out)
  });
}

/*
 * tfjs-core calls `_FusedMatMul` only inside `customGrad` (whose inner kernels are never taped), so this gradient is
 * reached only through `linear`, which always passes untransposed operands and a linear activation. Each input's
 * gradient is a separate thunk: the tape evaluates only those of inputs that lead back to a differentiated variable.
 */
tf.registerGradient({
  kernelName: tf._FusedMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved) => {
    const [a, b] = saved as [tf.Tensor3D, tf.Tensor3D];
    const dy3 = dy as tf.Tensor3D; // (1, N, out)
    return {
      a: () => tf.matMul(dy3, b, false, true), // (1, N, in)
      b: () => tf.matMul(a, dy3, true, false), // (1, in, out)
      bias: () => sumRows(dy3), // (out)
    };
  },
});
