import * as tf from '@tensorflow/tfjs-core';

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm`, as PyTorch `clip_grad_norm_` does:
 * `total = sqrt(Σ‖g‖²)`, `coef = min(1, maxNorm / (total + 1e-6))`, every gradient times `coef`. A `maxNorm` of 0
 * leaves the gradients as they are (the norm is still measured). The returned tensors are new; the caller disposes them.
 *
 * @example
 * const { grads: clipped, norm } = await clipByGlobalNorm(grads, 1.0);
 * console.log(`gradient norm ${norm}`);
 */
export async function clipByGlobalNorm<K>(
  grads: ReadonlyMap<K, tf.Tensor>,
  maxNorm: number,
): Promise<{ grads: Map<K, tf.Tensor>; norm: number }> {
  if (grads.size === 0) return { grads: new Map(), norm: 0 };
  const [total, clipped] = tf.tidy((): [tf.Tensor, tf.Tensor[]] => {
    // The norm of the per-tensor norms, the order PyTorch sums in; written with square rather than tf.norm, whose
    // pow(|g|, 2) is ten times slower on wasm.
    const l2 = (x: tf.Tensor) => tf.sqrt(tf.sum(tf.square(x)));
    const total = l2(tf.stack([...grads.values()].map(l2))); // ()
    const coefficient = maxNorm > 0 ? tf.minimum(tf.div(maxNorm, tf.add(total, 1e-6)), 1) : tf.scalar(1); // ()
    return [total, [...grads.values()].map((g) => tf.mul(g, coefficient))];
  });
  // Read asynchronously (WebGPU has no synchronous read in Node), after the clipped gradients are queued.
  const norm = (await total.data())[0] ?? NaN;
  total.dispose();
  const keys = [...grads.keys()];
  return { grads: new Map(clipped.map((g, i) => [keys[i] as K, g])), norm };
}
