import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { backendFromEnv, describeBackend, initBackend } from '../../src/backend/backend';

describe('backend', () => {
  it('runs on wasm by default in tests and explains the choice', async () => {
    const info = await initBackend();
    expect(tf.getBackend()).toBe(info.name);
    expect(describeBackend(info)).toMatch(/^backend \w+ \(@tensorflow\//);
    if (info.name === 'wasm') expect(describeBackend(info)).toContain(`; wasm threads ${info.threads ?? 'none'}`);
    const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
    expect(await product.data()).toEqual(new Float32Array([17, 39]));
  });

  it('refuses an unknown ADAPTERFUSION_BACKEND value naming the variable', () => {
    expect(() => backendFromEnv({ ADAPTERFUSION_BACKEND: 'gpu' })).toThrow(
      'ADAPTERFUSION_BACKEND: expected one of auto, tensorflow, webgpu, wasm, cpu, got "gpu"',
    );
    expect(backendFromEnv({})).toBeUndefined();
  });
});
