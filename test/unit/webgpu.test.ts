import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchBackend } from '../../src/backend/backend';
import { dropoutLimit, webGpuMatMulKernels } from '../../src/backend/kernels/webgpu-kernels';
import { decideWebGpu, isSoftwareAdapter, webGpuReport, type AdapterDescription } from '../../src/backend/webgpu';
import { applyDropoutMask, dropout } from '../../src/ops/dropout';
import { webGpuMissing } from '../backends';
import { productErrors } from './matmul-reference';

const llvmpipe: AdapterDescription = {
  vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  isFallbackAdapter: true, maxBufferSize: 2 ** 32 - 1, maxStorageBufferBindingSize: 2 ** 27, shaderF16: true,
};
const h100: AdapterDescription = {
  vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 570.86',
  isFallbackAdapter: false, maxBufferSize: 2 ** 34, maxStorageBufferBindingSize: 2 ** 32 - 4, shaderF16: true,
};
const swiftShader: AdapterDescription = { ...h100, vendor: 'google', architecture: '', device: 'SwiftShader Device (Subzero)', description: '', isFallbackAdapter: false };

describe('choosing WebGPU', () => {
  it('takes a hardware adapter automatically and a software one only when asked', () => {
    expect(decideWebGpu({ adapter: h100 }, false)).toEqual({ use: true, reason: 'hardware adapter NVIDIA H100 80GB HBM3 (nvidia, hopper)' });
    expect(decideWebGpu({ adapter: llvmpipe }, false)).toEqual({
      use: false,
      reason: 'the only adapter is llvmpipe-llvm-15-0-6-256-bits- (mesa, software), a software renderer, used only when asked for (--backend webgpu)',
    });
    expect(decideWebGpu({ adapter: llvmpipe }, true)).toEqual({ use: true, reason: 'adapter llvmpipe-llvm-15-0-6-256-bits- (mesa, software)' });
    expect(decideWebGpu({ reason: 'no WebGPU adapter found' }, true)).toEqual({ use: false, reason: 'no WebGPU adapter found' });
  });

  it('knows a software renderer by its flag, its architecture or its name', () => {
    expect([llvmpipe, h100, swiftShader].map(isSoftwareAdapter)).toEqual([true, false, true]);
    expect(isSoftwareAdapter({ ...h100, isFallbackAdapter: true })).toBe(true);
  });

  it('tells doctor the adapter, its limits and why it runs or not', () => {
    expect(webGpuReport({ adapter: h100 }, 'webgpu', false)).toEqual([
      'webgpu adapter: NVIDIA H100 80GB HBM3 (nvidia, hopper); max buffer 16384 MiB, max storage binding 4095 MiB, shader-f16 yes',
      'webgpu: in use (hardware adapter NVIDIA H100 80GB HBM3 (nvidia, hopper))',
    ]);
    expect(webGpuReport({ adapter: h100 }, 'tensorflow', false)[1]).toBe('webgpu: not used: tensorflow comes first');
    expect(webGpuReport({ adapter: h100 }, 'wasm', true)[1]).toBe('webgpu: not used: wasm was asked for');
    expect(webGpuReport({ adapter: llvmpipe }, 'wasm', false)[1]).toBe(
      'webgpu: not used: the only adapter is llvmpipe-llvm-15-0-6-256-bits- (mesa, software), a software renderer, used only when asked for (--backend webgpu)',
    );
    expect(webGpuReport({ adapter: llvmpipe }, 'webgpu', true)[1]).toBe('webgpu: in use (asked for)');
    expect(webGpuReport({ reason: 'the optional package "webgpu" (Dawn for Node) is not installed' }, 'wasm', false)).toEqual([
      'webgpu: not used: the optional package "webgpu" (Dawn for Node) is not installed',
    ]);
  });

  it('keeps an element exactly when its draw is below (1 - rate)·2³²', () => {
    expect(dropoutLimit(0.5)).toBe(2 ** 31 - 1);
    expect(dropoutLimit(0.1)).toBe(Math.ceil(0.9 * 2 ** 32) - 1);
    expect(dropoutLimit(1e-12)).toBe(2 ** 32 - 1);
  });
});

describe('WGSL kernels against their references', async () => {
  const missing = await webGpuMissing();
  beforeAll(async () => void (missing === undefined && (await switchBackend('webgpu'))));
  afterAll(async () => void (await switchBackend('wasm')));

  it.skipIf(missing !== undefined)('dropout: the same counter-based mask as every other backend, bit for bit', async () => {
    const values = Float32Array.from({ length: 3003 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
    for (const [rate, seed] of [[0.1, 42], [0.5, 2 ** 31 - 1], [0.9, -7], [0.25, 0]] as const) {
      const expected = new Float32Array(values.length);
      applyDropoutMask(values, expected, rate, seed);
      const x = tf.tensor2d(values, [3, 1001]);
      const dropped = dropout(x, rate, seed);
      expect(tf.getBackend()).toBe('webgpu');
      expect(Buffer.from((await dropped.data()).buffer).equals(Buffer.from(expected.buffer)), `rate ${rate} seed ${seed}`).toBe(true);
      tf.dispose([x, dropped]);
    }
  });

  it.skipIf(missing !== undefined)('matrix products: the tiled WGSL kernel (tfjs-webgpu\'s for fused activations) against a float64 reference', async () => {
    const kernels = webGpuMatMulKernels();
    const stock = kernels.map((config) => tf.getKernel(config.kernelName, 'webgpu'));
    const swap = (configs: tf.KernelConfig[]) => configs.forEach((config) => {
      tf.unregisterKernel(config.kernelName, 'webgpu');
      tf.registerKernel(config);
    });
    swap(kernels);
    try {
      for (const { name, shape, expectedShape, worst } of await productErrors()) {
        expect(shape, name).toEqual(expectedShape);
        expect(worst, name).toBeLessThan(1e-6);
      }
    } finally {
      swap(stock);
    }
  });
});
