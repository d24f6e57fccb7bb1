import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** Environment variable: how many threads the wasm backend runs its products on (1 turns its threaded build off). */
export const WASM_THREADS_ENV = 'ADAPTERFUSION_WASM_THREADS';

/** tfjs-backend-wasm's threaded build starts eight workers and uses at most that many. */
const MAX_WASM_THREADS = 8;

/** How many threads to ask the wasm backend for, and why. */
export interface WasmThreadsPlan {
  threads: number;
  reason: string;
}

/** The files of tfjs-backend-wasm's threaded build that Node loads itself: the loader and the worker script. */
export interface ThreadedBuild {
  loader: string;
  workerScript: string;
}

function threadedBuild(): ThreadedBuild {
  const outDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  return { loader: join(outDir, 'tfjs-backend-wasm-threaded-simd.js'), workerScript: join(outDir, 'tfjs-backend-wasm-threaded-simd.worker.js') };
}

/**
 * One thread where the native add-on does the products (its BLAS threads use the cores), else every core, up to
 * tfjs's eight; `ADAPTERFUSION_WASM_THREADS` overrides both. One, with the reason, where the threaded build's files
 * are missing (a bundler may leave them out): a worker that cannot load them would end the process.
 */
export function planWasmThreads(addonLoaded: boolean, env: NodeJS.ProcessEnv = process.env, build: ThreadedBuild = threadedBuild()): WasmThreadsPlan {
  const value = env[WASM_THREADS_ENV];
  let plan: WasmThreadsPlan;
  if (value !== undefined && value !== '') {
    const threads = Number(value);
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
      throw new Error(`${WASM_THREADS_ENV}: expected a whole number from 1 to ${MAX_WASM_THREADS}, got "${value}"`);
    }
    plan = { threads, reason: `${WASM_THREADS_ENV}=${value}` };
  } else if (addonLoaded) {
    plan = { threads: 1, reason: 'the native add-on does the products' };
  } else {
    plan = { threads: Math.min(os.availableParallelism(), MAX_WASM_THREADS), reason: 'one per core' };
  }
  const missing = [build.loader, build.workerScript].find((path) => !existsSync(path));
  return plan.threads > 1 && missing ? { threads: 1, reason: `${plan.reason}, but the threaded build lacks ${missing}` } : plan;
}

type WasmPackage = { setThreadsCount(threads: number): void; getThreadsCount(): number };

/**
 * Sets the wasm backend with its threaded build on `threads` threads, which tfjs-backend-wasm 4.22 turns off in Node
 * (tensorflow/tfjs#3830). Three things stand in its way, each undone once the backend is up:
 * - the build's pthreads start as browser workers from Blob URLs: a Node worker evaluates the same worker script
 *   and loads the package's threaded loader from its file instead of the Blob;
 * - the backend caps the threads at half the logical cores (it assumes two hyperthreads per core), so on two
 *   cores it would run one: while it starts it is shown twice as many cores as threads asked for;
 * - a running pthread keeps its worker referenced, so the process would never exit: the workers stay unreferenced
 *   (the main thread waits for them synchronously inside each kernel, never in the event loop).
 * Returns what `tf.setBackend` returns; with `threads` 1 it only calls that.
 */
export async function setWasmBackend(threads: number): Promise<boolean> {
  if (threads <= 1) return tf.setBackend('wasm');
  const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  const { loader, workerScript } = threadedBuild();
  // The worker script is exported as a string for a Blob; its escaped newlines must stay escaped once evaluated.
  const { wasmWorkerContents } = require(workerScript) as { wasmWorkerContents: string };
  const workerSource = wasmWorkerContents.replace(/\n/g, '\\n');

  class PthreadWorker extends Worker {
    constructor() {
      super(workerSource, { eval: true });
      this.unref();
    }

    override ref(): void {}

    override postMessage(message: unknown, transferList?: Parameters<Worker['postMessage']>[1]): void {
      const load = message as { cmd?: string } | null;
      super.postMessage(load?.cmd === 'load' ? { ...load, urlOrBlob: loader } : message, transferList);
    }
  }

  const cpus = os.cpus;
  const worker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  // The loader assigns `global.Worker` itself; a getter makes it take this one.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => {} });
  const shown = Array<os.CpuInfo>(2 * threads).fill(cpus()[0] as os.CpuInfo); // the loader reads only the length
  os.cpus = () => shown;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    return await tf.setBackend('wasm');
  } finally {
    os.cpus = cpus;
    if (worker) Object.defineProperty(globalThis, 'Worker', worker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
}

/** The threads the wasm backend's products run on (1 before it starts or with its single-threaded build). */
export function wasmThreads(): number {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  return Math.max(1, wasm.getThreadsCount());
}
