import { Worker } from 'node:worker_threads';
import { layerNormRows, layerNormRowsGrad } from '../../ops/layer-norm';
import { instantiateSimdKernels, PACK_FLOATS, SIMD_LANES } from './wasm-simd';
import type { SimdExports, SimdModule, WasmMemory } from './wasm-types';

/**
 * A part of a kernel: units `begin` … `end` − 1 (rows or elements) of `arrays`, which lie on the heap (the SIMD
 * kernels address it), with `scalars`, run by thread `thread` (0 the calling one). The workers run it from its source
 * too, so it reaches the kernels only through its first argument, their instance on the thread that runs it.
 */
type Part = (simd: SimdExports, arrays: Float32Array[], scalars: number[], begin: number, end: number, thread: number) => void;

interface Task {
  /** How many units (rows or elements) the arrays hold. */
  units(arrays: Float32Array[], scalars: number[]): number;
  part: Part;
}

const TASKS = {
  /**
   * arrays x, residual (empty for none), gamma, beta (dy for the gradient), out; scalars epsilon, gradient (1 or 0).
   * Rows of whole vectors.
   */
  layerNorm: {
    units: ([x, , gamma]) => (x as Float32Array).length / (gamma as Float32Array).length,
    part: (simd, [x, residual, gamma, third, out], [epsilon, gradient], begin, end) => {
      const size = (gamma as Float32Array).length;
      const row = (t: Float32Array) => (t.length === 0 ? 0 : t.byteOffset + 4 * begin * size);
      const [xAt, residualAt, gammaAt, outAt] = [row(x as Float32Array), row(residual as Float32Array), (gamma as Float32Array).byteOffset, row(out as Float32Array)];
      // beta is one row; dy has the input's rows
      if (gradient) simd.layerNormGrad(xAt, residualAt, gammaAt, row(third as Float32Array), outAt, end - begin, size, epsilon as number);
      else simd.layerNorm(xAt, residualAt, gammaAt, (third as Float32Array).byteOffset, outAt, end - begin, size, epsilon as number);
    },
  },
  /** arrays x, out; scalars rate, seed. Draw < (1 − rate)·2³² exactly when draw ≤ ⌈(1 − rate)·2³²⌉ − 1. */
  dropout: {
    units: ([x]) => (x as Float32Array).length,
    part: (simd, [x, out], [rate, seed], begin, end) => {
      const keep = 1 - (rate as number);
      simd.dropout((x as Float32Array).byteOffset + 4 * begin, (out as Float32Array).byteOffset + 4 * begin, end - begin, begin, seed as number, Math.ceil(keep * 4294967296) - 1, 1 / keep);
    },
  },
  /** arrays x, out. */
  gelu: {
    units: ([x]) => (x as Float32Array).length,
    part: (simd, [x, out], _scalars, begin, end) => simd.gelu((x as Float32Array).byteOffset + 4 * begin, (out as Float32Array).byteOffset + 4 * begin, end - begin),
  },
  /** arrays x, dy, out. */
  geluGrad: {
    units: ([x]) => (x as Float32Array).length,
    part: (simd, arrays, _scalars, begin, end) => {
      const [x, dy, out] = arrays.map((array) => array.byteOffset + 4 * begin) as [number, number, number];
      simd.geluGrad(x, dy, out, end - begin);
    },
  },
  /**
   * arrays a, b, out, bias (empty for none), pack (scratch, `packFloats` per thread); scalars m, n, k, transposeA and
   * transposeB (1 or 0), batchA, batchB, packFloats. Units are the rows of every product's result; product p
   * multiplies A's batch p mod batchA by B's batch p mod batchB.
   */
  matMul: {
    units: ([, , out], [, n]) => (out as Float32Array).length / (n as number),
    part: (simd, [a, b, out, bias, pack], [m, n, k, transposeA, transposeB, batchA, batchB, packFloats], begin, end, thread) => {
      const [rows, columns, inner] = [m as number, n as number, k as number];
      const [rowStride, innerStride] = transposeA ? [4, 4 * rows] : [4 * inner, 4];
      const [bRowStride, bColumnStride] = transposeB ? [4, 4 * inner] : [4 * columns, 4];
      const biasAt = (bias as Float32Array).length === 0 ? 0 : (bias as Float32Array).byteOffset;
      const packAt = (pack as Float32Array).byteOffset + 4 * thread * (packFloats as number);
      for (let row = begin; row < end;) {
        const product = Math.floor(row / rows);
        const [first, last] = [row - product * rows, Math.min(rows, end - product * rows)];
        const aAt = (a as Float32Array).byteOffset + 4 * (product % (batchA as number)) * rows * inner + first * rowStride;
        const bAt = (b as Float32Array).byteOffset + 4 * (product % (batchB as number)) * inner * columns;
        simd.matMul(aAt, bAt, (out as Float32Array).byteOffset + 4 * row * columns, last - first, columns, inner, rowStride, innerStride, bRowStride, bColumnStride, biasAt, packAt);
        row = product * rows + last;
      }
    },
  },
} satisfies Record<string, Task>;

type HeapTaskName = keyof typeof TASKS;
const TASK_NAMES = Object.keys(TASKS) as HeapTaskName[];

/** How long the workers may take to start. */
const STARTUP_MS = 10_000;

/** Elements below which a kernel runs on the calling thread: waking the workers costs more than it saves. */
const GRAIN = 64 * 1024;

// The control block: Int32 slots, then the job's arrays (heap byte offset and length) and scalars as float64.
const GENERATION = 0; // bumped for each job; the workers wait on it
const PENDING = 1; // workers still running the job; the caller waits on it
const FAILED = 2; // set by a worker whose part threw
const TASK = 3;
const ARRAY_COUNT = 4;
const SCALAR_COUNT = 5;
const UNITS = 6;
const READY = 7; // workers that have started
const INT_SLOTS = 8;
const MAX_ARRAYS = 8;
const MAX_SCALARS = 8;

/** The workers' loop: wait for a job, run its part, count down, repeat. Runs from its source, like the parts. */
function workerLoop(memory: WasmMemory, control: SharedArrayBuffer, index: number, threads: number, simd: SimdExports, parts: Part[]): void {
  const ints = new Int32Array(control, 0, INT_SLOTS);
  const numbers = new Float64Array(control, INT_SLOTS * 4, 2 * MAX_ARRAYS + MAX_SCALARS);
  let seen = Atomics.load(ints, GENERATION);
  Atomics.add(ints, READY, 1);
  Atomics.notify(ints, READY);
  for (;;) {
    Atomics.wait(ints, GENERATION, seen);
    seen = Atomics.load(ints, GENERATION);
    try {
      const arrays = Array.from({ length: ints[ARRAY_COUNT] as number }, (_, i) => new Float32Array(memory.buffer, numbers[2 * i], numbers[2 * i + 1]));
      const scalars = Array.from(numbers.subarray(2 * MAX_ARRAYS, 2 * MAX_ARRAYS + (ints[SCALAR_COUNT] as number)));
      const units = ints[UNITS] as number;
      (parts[ints[TASK] as number] as Part)(simd, arrays, scalars, Math.floor((units * index) / threads), Math.floor((units * (index + 1)) / threads), index);
    } catch {
      Atomics.store(ints, FAILED, 1);
    }
    if (Atomics.sub(ints, PENDING, 1) === 1) Atomics.notify(ints, PENDING);
  }
}

/**
 * The kernels on the wasm heap for when the native add-on, whose kernels use every core, is absent: LayerNorm, GELU
 * (and their gradients), dropout and small matrix products in WebAssembly SIMD (an instance of the kernels per thread
 * on the same memory). Where the heap is shared (the threaded build) a call is split over `threads` − 1 workers and
 * the calling thread, which takes the first part and waits for the others inside the call (`Atomics.wait`), so a
 * kernel stays synchronous. Small arrays are done on the calling thread, and so is LayerNorm on rows that are not
 * whole vectors, in JavaScript.
 */
export class HeapWorkers {
  private readonly ints: Int32Array;
  private readonly numbers: Float64Array;
  private readonly simd: SimdExports;
  /** Calls that were split over the workers (the others ran on the calling thread alone). */
  splitCalls = 0;

  /**
   * `threads` counts the calling thread: `threads` − 1 workers start (only on a shared memory), unreferenced so the
   * process can end. `simd` is `compileSimdKernels`'s module for this memory.
   */
  constructor(private readonly memory: WasmMemory, readonly threads: number, simd: SimdModule) {
    if (threads > 1 && !(memory.buffer instanceof SharedArrayBuffer)) throw new Error(`heap workers: ${threads} threads need a shared memory`);
    this.simd = instantiateSimdKernels(simd, memory);
    const control = new SharedArrayBuffer(INT_SLOTS * 4 + (2 * MAX_ARRAYS + MAX_SCALARS) * 8);
    this.ints = new Int32Array(control, 0, INT_SLOTS);
    this.numbers = new Float64Array(control, INT_SLOTS * 4, 2 * MAX_ARRAYS + MAX_SCALARS);
    const constants = { GENERATION, PENDING, FAILED, TASK, ARRAY_COUNT, SCALAR_COUNT, UNITS, READY, INT_SLOTS, MAX_ARRAYS, MAX_SCALARS };
    const source = [
      ...Object.entries(constants).map(([name, value]) => `const ${name} = ${value};`),
      `const { memory, control, index, threads, simd } = require('node:worker_threads').workerData;`,
      `const parts = [${TASK_NAMES.map((name) => String(TASKS[name].part)).join(', ')}];`,
      `(${String(workerLoop)})(memory, control, index, threads, new WebAssembly.Instance(simd, { env: { memory } }).exports, parts);`,
    ].join('\n');
    for (let index = 1; index < threads; index++) {
      new Worker(source, { eval: true, workerData: { memory, control, index, threads, simd } }).unref();
    }
    // A job would wait forever for a worker that never started: wait for all of them here, within a limit.
    const deadline = performance.now() + STARTUP_MS;
    for (let ready = Atomics.load(this.ints, READY); ready < threads - 1; ready = Atomics.load(this.ints, READY)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`heap workers: ${ready} of ${threads - 1} started within ${STARTUP_MS} ms`);
      Atomics.wait(this.ints, READY, ready, left);
    }
  }

  /** `layerNormRows`, in SIMD and split over the threads where rows are whole vectors. */
  readonly layerNorm = (x: Float32Array, residual: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, epsilon: number): void => {
    if (gamma.length % SIMD_LANES === 0) this.run('layerNorm', [x, residual, gamma, beta, out], [epsilon, 0]);
    else layerNormRows(x, residual, gamma, beta, out, epsilon);
  };

  /** `layerNormRowsGrad`, likewise. */
  readonly layerNormGrad = (x: Float32Array, residual: Float32Array, gamma: Float32Array, dy: Float32Array, out: Float32Array, epsilon: number): void => {
    if (gamma.length % SIMD_LANES === 0) this.run('layerNorm', [x, residual, gamma, dy, out], [epsilon, 1]);
    else layerNormRowsGrad(x, residual, gamma, dy, out, epsilon);
  };

  /** `applyDropoutMask`, bit for bit, in SIMD and split over the threads. */
  readonly dropout = (x: Float32Array, out: Float32Array, rate: number, seed: number): void => this.run('dropout', [x, out], [rate, seed]);

  /** out = GELU(x). */
  readonly gelu = (x: Float32Array, out: Float32Array): void => this.run('gelu', [x, out], []);

  /** out = dy·GELU′(x). */
  readonly geluGrad = (x: Float32Array, dy: Float32Array, out: Float32Array): void => this.run('geluGrad', [x, dy, out], []);

  /**
   * `out` = op(A_p)·op(B_p) (+ bias) for every product p: A's batch p mod batchA (m×k, or k×m stored when transposed),
   * B's batch p mod batchB (k×n, or n×k stored when transposed); n a multiple of `SIMD_COLUMNS`; `bias` n floats or
   * empty; `pack` scratch on the heap of `PACK_FLOATS` floats per thread.
   */
  readonly matMul = (a: Float32Array, b: Float32Array, out: Float32Array, bias: Float32Array, pack: Float32Array, m: number, n: number, k: number,
    transposeA: boolean, transposeB: boolean, batchA: number, batchB: number): void => {
    if (pack.length < this.threads * PACK_FLOATS) throw new Error(`matMul: expected ${this.threads} × ${PACK_FLOATS} floats of scratch, got ${pack.length}`);
    this.run('matMul', [a, b, out, bias, pack], [m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0, batchA, batchB, PACK_FLOATS]);
  };

  /** Runs a task on `arrays` (views of the heap, in the task's order) and `scalars`, split over every thread. */
  private run(task: HeapTaskName, arrays: Float32Array[], scalars: number[]): void {
    const { part }: Task = TASKS[task];
    const count = TASKS[task].units(arrays, scalars);
    const heap = this.memory.buffer;
    if (!arrays.every((array) => array.length === 0 || array.buffer === heap)) throw new Error(`${task}: expected arrays on the wasm heap`);
    if (this.threads === 1 || (arrays[0] as Float32Array).length < GRAIN) {
      part(this.simd, arrays, scalars, 0, count, 0);
      return;
    }
    this.splitCalls++;
    const { ints, numbers } = this;
    arrays.forEach((array, i) => numbers.set([array.byteOffset, array.length], 2 * i));
    numbers.set(scalars, 2 * MAX_ARRAYS);
    ints.set([TASK_NAMES.indexOf(task), arrays.length, scalars.length, count], TASK);
    Atomics.store(ints, FAILED, 0);
    Atomics.store(ints, PENDING, this.threads - 1);
    Atomics.add(ints, GENERATION, 1);
    Atomics.notify(ints, GENERATION);
    try {
      part(this.simd, arrays, scalars, 0, Math.floor(count / this.threads), 0);
    } finally {
      // Even when the calling thread's part throws: the next job must not overwrite the block under running workers.
      for (let pending = Atomics.load(ints, PENDING); pending !== 0; pending = Atomics.load(ints, PENDING)) Atomics.wait(ints, PENDING, pending);
    }
    if (Atomics.load(ints, FAILED) !== 0) throw new Error(`${task}: a heap worker's part failed`);
  }
}
