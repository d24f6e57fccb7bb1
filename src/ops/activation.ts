import * as tf from '@tensorflow/tfjs-core';
import { gelu } from './gelu';

const SQRT_TWO_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * Activation functions by the names Hugging Face `get_activation` and AdapterHub's `non_linearity` use (matched
 * case-insensitively, as AdapterHub lower-cases them). `swish` is SiLU, `gelu` the exact erf GELU, `gelu_new` the tanh
 * approximation.
 */
const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  leakyrelu: (x) => tf.leakyRelu(x, 0.01),
  leaky_relu: (x) => tf.leakyRelu(x, 0.01),
  gelu: (x) => gelu(x),
  gelu_new: geluTanh,
  gelu_fast: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  quick_gelu: (x) => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  silu: (x) => tf.mul(x, tf.sigmoid(x)),
  mish: (x) => tf.mul(x, tf.tanh(tf.softplus(x))),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  linear: (x) => x,
};

function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_TWO_OVER_PI);
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

/** Every activation name `activation()` accepts, sorted. */
export const ACTIVATION_NAMES: readonly string[] = Object.keys(ACTIVATIONS).sort();

/**
 * The activation function with this name (case-insensitive); throws listing the known names otherwise.
 * The returned function creates tensors: call it inside `tf.tidy`.
 *
 * @example
 * const swish = activation('swish');
 * const y = tf.tidy(() => swish(tf.tensor1d([-1, 0, 1])));
 */
export function activation(name: string): (x: tf.Tensor) => tf.Tensor {
  const fn = ACTIVATIONS[name.toLowerCase()];
  if (!fn) throw new Error(`unknown activation "${name}": expected one of ${ACTIVATION_NAMES.join(', ')}`);
  return fn;
}
