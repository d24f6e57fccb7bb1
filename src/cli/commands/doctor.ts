import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { backendFromEnv, type BackendPreference } from '../../backend/backend';
import { probeWebGpu, webGpuReport } from '../../backend/webgpu';
import { backendOption, startBackend, type CliCommand } from '../program';

/**
 * `adapterfusion doctor`: which backend runs and why, versions, threads/SIMD, the WebGPU adapter and why it runs or
 * not, and a matmul that proves it works.
 */
export const doctorCommand: CliCommand = {
  register: (program: Command, { io }) => {
    program
      .command('doctor')
      .description('print the tensor backend, why it was chosen, versions, threads and SIMD, the WebGPU adapter, and run a test matmul')
      .addOption(backendOption())
      .action(async (options: { backend?: BackendPreference }) => {
        const info = await startBackend({ ...options, quiet: true });
        const lines = [`backend: ${info.name} (${info.package})`, `reason: ${info.reason}`];
        for (const skip of info.skipped) lines.push(`skipped: ${skip.package}: ${skip.reason}`);
        for (const [name, version] of Object.entries(info.versions)) lines.push(`version: ${name} ${version}`);
        lines.push(`node: ${process.version} (${process.platform}-${process.arch})`);
        lines.push(`blas: ${info.kernels.blas}; matmul: ${info.kernels.matMul}; element-wise: ${info.kernels.elementwise}`);
        if (info.name === 'wasm') {
          lines.push(`wasm simd: ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'yes' : 'no'}`);
          lines.push(`wasm threads: ${info.threads ?? 'unknown'}`);
        }
        const preference = options.backend ?? backendFromEnv() ?? 'auto';
        lines.push(...webGpuReport(await probeWebGpu(), info.name, preference !== 'auto'));
        const size = 256;
        const a = tf.randomUniform([size, size], -1, 1, 'float32', 1);
        const b = tf.eye(size);
        const started = performance.now();
        const product = tf.matMul(a, b);
        const [expected, actual] = (await Promise.all([a.data(), product.data()])) as [Float32Array, Float32Array];
        const millis = performance.now() - started;
        const maxError = expected.reduce((worst: number, value: number, i: number) => Math.max(worst, Math.abs(value - (actual[i] ?? NaN))), 0);
        tf.dispose([a, b, product]);
        if (!(maxError < 1e-6)) throw new Error(`test matmul on ${info.name} is wrong: max error ${maxError}`);
        lines.push(`matmul ${size}x${size}: ok (max error ${maxError}, ${millis.toFixed(1)} ms)`);
        io.out(`${lines.join('\n')}\n`);
      });
  },
};
