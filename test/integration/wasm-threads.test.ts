import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planWasmThreads } from '../../src/backend/wasm-threads';

const REPO = resolve(__dirname, '..', '..');

/**
 * Runs a TypeScript script in its own process without the add-on and on two wasm threads. Fails if the process does
 * not end by itself within 30 s, which it would not if the backend's running threads kept their workers referenced.
 */
async function runThreaded(script: string, args: string[] = []): Promise<string> {
  const child = spawn(join(REPO, 'node_modules', '.bin', 'vite-node'), [join(REPO, script), ...args], {
    cwd: REPO,
    env: { ...process.env, ADAPTERFUSION_BLAS: '0', ADAPTERFUSION_WASM_THREADS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill(), 30_000);
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  clearTimeout(killer);
  expect(code, `${script} did not exit by itself with code 0 (stderr: ${stderr})`).toBe(0);
  return stdout;
}

describe('wasm threads', () => {
  it('plans one thread with the add-on, one per core (at most 8) without, what ADAPTERFUSION_WASM_THREADS says, and one where the threaded build is incomplete', () => {
    expect(planWasmThreads(true, {})).toEqual({ threads: 1, reason: 'the native add-on does the products' });
    expect(planWasmThreads(false, {})).toEqual({ threads: Math.min(availableParallelism(), 8), reason: 'one per core' });
    expect(planWasmThreads(true, { ADAPTERFUSION_WASM_THREADS: '3' })).toEqual({ threads: 3, reason: 'ADAPTERFUSION_WASM_THREADS=3' });
    const incomplete = { loader: join(REPO, 'package.json'), workerScript: join(REPO, 'no-such-worker.js') };
    expect(planWasmThreads(false, {}, incomplete)).toEqual({ threads: 1, reason: `one per core, but the threaded build lacks ${incomplete.workerScript}` });
    expect(planWasmThreads(false, { ADAPTERFUSION_WASM_THREADS: '1' }, incomplete)).toEqual({ threads: 1, reason: 'ADAPTERFUSION_WASM_THREADS=1' });
    for (const bad of ['0', '9', '1.5', 'two']) {
      expect(() => planWasmThreads(false, { ADAPTERFUSION_WASM_THREADS: bad })).toThrow(
        `ADAPTERFUSION_WASM_THREADS: expected a whole number from 1 to 8, got "${bad}"`,
      );
    }
  });

  // Its own process: the threaded build must start before anything else touches the wasm backend.
  it('runs every product case right on the threaded build, LayerNorm, dropout and GELU split over its heap, and the process ends by itself', async () => {
    const stdout = await runThreaded('test/integration/fixtures/threaded-products.ts');
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
      threads: string; matMul: string; elementwise: string; sharedHeap: boolean; layerNormWorst: number; dropoutDiffering: number; geluWorst: number;
      products: { name: string; shape: number[]; expectedShape: number[]; worst: number }[];
    };
    expect(report.threads).toBe('2 (ADAPTERFUSION_WASM_THREADS=2)');
    expect(report.matMul).toBe('WebAssembly SIMD with fused multiply-add, split over 2 threads, XNNPACK for the rest');
    expect(report.elementwise).toBe('GELU, LayerNorm and dropout in WebAssembly SIMD, split over 2 threads');
    expect(report.geluWorst).toBeLessThan(2e-6);
    expect(report.layerNormWorst).toBeLessThan(2e-6);
    expect(report.sharedHeap).toBe(true);
    expect(report.dropoutDiffering).toBe(0);
    expect(report.products.length).toBeGreaterThan(20);
    for (const { name, shape, expectedShape, worst } of report.products) {
      expect(shape, name).toEqual(expectedShape);
      expect(worst, name).toBeLessThan(1e-6);
    }
  });

  it('shows in doctor', async () => {
    const stdout = await runThreaded('test/integration/fixtures/run-cli.ts', ['doctor']);
    expect(stdout).toContain('\nwasm threads: 2 (ADAPTERFUSION_WASM_THREADS=2)\n');
    expect(stdout).toContain('\nblas: not used: off (ADAPTERFUSION_BLAS=0); matmul: WebAssembly SIMD with fused multiply-add, split over 2 threads, XNNPACK for the rest; ' +
      'element-wise: GELU, LayerNorm and dropout in WebAssembly SIMD, split over 2 threads\n');
    expect(stdout).toMatch(/\nmatmul 256x256: ok \(max error 0, /);
  });
});
