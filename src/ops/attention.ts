import * as tf from '@tensorflow/tfjs-core';
import { dropout } from './dropout';

/** Kernels behind `attention` on the wasm and cpu backends with the native add-on. */
export const ATTENTION_KERNEL = 'AdapterFusionAttention';
export const ATTENTION_GRAD_KERNEL = 'AdapterFusionAttentionGrad';

/** Attributes of both attention kernels. */
export interface AttentionAttrs {
  heads: number;
  /** Dropout on the attention probabilities (0 when not training). */
  rate: number;
  seed: number;
}

/** Output shapes of the attention kernel: the context (B, T, D) and the probabilities it keeps for backprop (B, H, T, T). */
export function attentionShapes(queryShape: readonly number[], heads: number): number[][] {
  const [batch = 0, length = 0] = queryShape;
  return [[...queryShape], [batch, heads, length, length]];
}

/**
 * Multi-head scaled dot-product attention (BERT's self-attention between its projections and output dense layer):
 * per head, `softmax(Q·Kᵀ/sqrt(D/H) + keyBias)` with dropout at `rate`, times V, heads side by side again.
 *
 * With the native add-on on wasm or cpu this is one kernel forward and one backward working on the (B, T, D)
 * projections in place, heads spread over the BLAS's threads, keeping only the probabilities for backprop; elsewhere
 * the same computation from tfjs ops. Dropout draws the same mask either way for the same seed (that of `dropout` on
 * the (B, H, T, T) probabilities).
 *
 * @param keyBias added to every score of each key: 0 for tokens, a large negative number for padding (B, T)
 * @param seed any integer; default a random one
 * @example
 * const keyBias = tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), -3.4e38); // (B, T)
 * const context = attention(query, key, value, keyBias, 12, 0.1, 7); // (B, T, D)
 */
export function attention(
  query: tf.Tensor3D, key: tf.Tensor3D, value: tf.Tensor3D, keyBias: tf.Tensor2D, heads: number, rate = 0,
  seed: number = Math.floor(Math.random() * 2 ** 31),
): tf.Tensor3D {
  const [batch, length, width] = query.shape;
  const fits = (t: tf.Tensor) => t.shape.length === 3 && t.shape.every((size, axis) => size === query.shape[axis]);
  if (!fits(key) || !fits(value) || keyBias.shape[0] !== batch || keyBias.shape[1] !== length || width % heads !== 0) {
    throw new Error(`attention: expected query, key and value of one shape (B, T, D) with D a multiple of ${heads} heads and keyBias (B, T); got [${query.shape.join(', ')}], [${key.shape.join(', ')}], [${value.shape.join(', ')}] and [${keyBias.shape.join(', ')}]`);
  }
  if (!(rate >= 0 && rate < 1)) throw new Error(`attention: expected a dropout rate in [0, 1), got ${rate}`);
  if (tf.getKernel(ATTENTION_KERNEL, tf.getBackend())) return fusedAttention(query, key, value, keyBias, { heads, rate, seed });
  return tf.tidy(() => {
    const headSize = width / heads;
    // (B, T, D) → (B, H, T, D/H): heads become a batch axis of the score products.
    const split = (x: tf.Tensor3D) => tf.transpose(tf.reshape(x, [batch, length, heads, headSize]), [0, 2, 1, 3]);
    // Scaling the queries instead of the (T × T) scores is the same product with fewer multiplications.
    const scores = tf.add(tf.matMul(tf.mul(split(query), 1 / Math.sqrt(headSize)), split(key), false, true), tf.reshape(keyBias, [batch, 1, 1, length])); // (B, H, T, T)
    const probabilities = rate > 0 ? dropout(tf.softmax(scores), rate, seed) : tf.softmax(scores); // (B, H, T, T)
    return tf.reshape<tf.Rank.R3>(tf.transpose(tf.matMul(probabilities, split(value)), [0, 2, 1, 3]), [batch, length, width]); // (B, T, D)
  });
}

/**
 * The native kernels, differentiated through `customGrad` rather than a registered gradient: the tape would hand a
 * registered gradient a zero-filled (B, H, T, T) gradient for the probabilities output, built in JavaScript each step.
 */
function fusedAttention(query: tf.Tensor3D, key: tf.Tensor3D, value: tf.Tensor3D, keyBias: tf.Tensor2D, attributes: AttentionAttrs): tf.Tensor3D {
  const attrs = attributes as unknown as tf.NamedAttrMap;
  const attend = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [q, k, v, bias, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor2D, tf.GradSaveFunc];
    const [context, probabilities] = tf.engine().runKernel<tf.Tensor[]>(ATTENTION_KERNEL, { query: q, key: k, value: v, keyBias: bias }, attrs);
    save([q, k, v, probabilities as tf.Tensor]);
    return {
      value: context as tf.Tensor3D,
      gradFunc: (dContext: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, p] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const gradients = tf.engine().runKernel<tf.Tensor[]>(ATTENTION_GRAD_KERNEL, { query: sq, key: sk, value: sv, probabilities: p, dContext }, attrs);
        return [...gradients, tf.zerosLike(bias)]; // the key bias is a padding mask, not trained
      },
    };
  });
  return attend(query, key, value, keyBias);
}
