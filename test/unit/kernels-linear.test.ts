import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { linear } from '../../src/ops/linear';

function seeded(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** Names of the matrix-product kernels `f` runs. */
async function matMulKernels(f: () => tf.TensorContainer): Promise<string[]> {
  const profile = await tf.profile(() => f());
  return profile.kernels.map((kernel) => kernel.name).filter((name) => name === 'BatchMatMul' || name === '_FusedMatMul');
}

describe('linear', () => {
  it('computes x·kernel + bias over the last axis', async () => {
    const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]); // (B, T, in)
    const kernel = tf.tensor2d([1, 0, 0, 1, 1, 1], [3, 2]); // (in, out)
    const bias = tf.tensor1d([10, 20]);
    const y = linear(x, kernel, bias);
    expect(y.shape).toEqual([2, 2, 2]);
    // Row r of x is (a, b, c): output (a + c + 10, b + c + 20).
    expect(Array.from(await y.data())).toEqual([14, 25, 20, 31, 26, 37, 32, 43]);
    expect(Array.from(await linear(x, kernel).data())).toEqual([4, 5, 10, 11, 16, 17, 22, 23]);
    tf.dispose([x, kernel, bias, y]);
  });

  it('has the gradients of matMul + add', async () => {
    const x = seeded([2, 3, 4], 1);
    const kernel = seeded([4, 5], 2);
    const bias = seeded([5], 3);
    const weights = seeded([2, 3, 5], 4); // makes the loss sensitive to every output element differently
    type Projection = (xs: tf.Tensor, ks: tf.Tensor2D, bs: tf.Tensor1D) => tf.Tensor;
    const loss = (f: Projection) => (xs: tf.Tensor, ks: tf.Tensor, bs: tf.Tensor) =>
      tf.sum<tf.Scalar>(tf.mul(f(xs, ks as tf.Tensor2D, bs as tf.Tensor1D), weights));
    const reference: Projection = (xs, ks, bs) => {
      const product = tf.add(tf.matMul(tf.reshape(xs, [-1, ks.shape[0]]), ks), bs); // (N, out)
      return tf.reshape(product, [...xs.shape.slice(0, -1), ks.shape[1]]);
    };
    const ours = tf.grads(loss(linear))([x, kernel, bias]);
    const expected = tf.grads(loss(reference))([x, kernel, bias]);
    for (let i = 0; i < 3; i++) {
      const [got, want] = [ours[i] as tf.Tensor, expected[i] as tf.Tensor];
      expect(got.shape).toEqual(want.shape);
      const error = (await tf.max(tf.abs(tf.sub(got, want))).data())[0] ?? NaN;
      expect(error).toBeLessThan(1e-5);
    }
    tf.dispose([x, kernel, bias, weights, ...ours, ...expected]);
  });

  it('skips the weight-gradient product when the kernel is frozen, which tf.fused.matMul does not', async () => {
    const x = tf.variable(seeded([2, 8, 16], 5));
    const kernel = seeded([16, 16], 6) as tf.Tensor2D; // frozen: not differentiated
    const bias = seeded([16], 7) as tf.Tensor1D;
    const step = (f: (input: tf.Tensor3D) => tf.Tensor) => () => {
      const { grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.square(f(x as unknown as tf.Tensor3D))), [x]);
      return Object.values(grads);
    };
    const fused = await matMulKernels(step((input) => tf.fused.matMul({ a: tf.reshape(input, [-1, 16]), b: kernel, bias })));
    const ours = await matMulKernels(step((input) => linear(input, kernel, bias)));
    // Forward 1 + backward 2 (input and kernel gradients) for fused.matMul; forward 1 + backward 1 for linear.
    expect(fused).toHaveLength(3);
    expect(ours).toHaveLength(2);
    tf.dispose([x, kernel, bias]);
  });

  it('leaves no tensors behind', () => {
    const x = seeded([4, 6], 8);
    const kernel = tf.variable(seeded([6, 3], 9));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(linear(x, kernel as unknown as tf.Tensor2D)), [kernel]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, kernel]);
  });

  it('names the mismatch in shape errors', () => {
    const kernel = tf.zeros<tf.Rank.R2>([6, 3]);
    expect(() => linear(tf.zeros([2, 5]), kernel)).toThrow("linear: expected the input's last axis to match the kernel's 6 input features, got input shape [2, 5]");
    expect(() => linear(tf.zeros([2, 6]), kernel, tf.zeros<tf.Rank.R1>([4]))).toThrow('linear: expected a bias of shape [3], got [4]');
    kernel.dispose();
  });
});
