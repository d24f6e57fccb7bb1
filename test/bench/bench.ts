#!/usr/bin/env node
/**
 * `npm run bench`: training and inference throughput of adapters, fusion and full fine-tuning on BERT-shaped random
 * backbones at sequence length 128, with peak memory, effective matmul GFLOP/s and where the time goes. Each case runs
 * in its own process, so peak memory is that case's and the wasm heap (which never shrinks) starts empty.
 * Options are listed by `--help`; docs/performance.md records results.
 */
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AdapterFusion } from '../../fusion/adapter-fusion';
import { FUSION_PRESETS } from '../../fusion/fusion-options';
import { planMatMul } from '../../src/backend/kernels/matmul-plan';
import { DROPOUT_KERNEL } from '../../src/ops/dropout';
import { GELU_GRAD_KERNEL, GELU_KERNEL } from '../../src/ops/gelu';
import { RESIDUAL_LAYER_NORM_GRAD_KERNEL, RESIDUAL_LAYER_NORM_KERNEL } from '../../src/ops/layer-norm';
import { countMatMulFlops } from '../count-matmul-flops';
import type { WasmBackend } from '../../src/backend/kernels/wasm-matmul';
import { loadNativeBlas } from '../../src/backend/native/native-blas';
import {
  BertModel, BottleneckAdapter, Trainer, createHead, initBackend, validateAdapterConfig, validateConfig, writeJsonAtomic,
  TrainingConfig, BACKEND_PREFERENCES, type BackendPreference, type BertConfig,
} from '../../src/index';

/** BERT shapes from the BERT paper's table (Turc et al. 2019 for tiny and mini). */
const MODELS = {
  tiny: { layers: 2, hidden: 128, heads: 2, batch: 32 },
  mini: { layers: 4, hidden: 256, heads: 4, batch: 32 },
  base: { layers: 12, hidden: 768, heads: 12, batch: 8 },
} as const;
type ModelName = keyof typeof MODELS;

const CASES = ['adapter', 'fusion-2', 'fusion-4', 'fusion-8', 'full', 'inference', 'fusion-4-inference'] as const;
type CaseName = (typeof CASES)[number];

const SEQUENCE_LENGTH = 128;

/** One (model, case) measurement. */
interface Result {
  model: ModelName;
  case: CaseName;
  batch: number;
  /** Examples per forward/backward pass; batch / microBatch passes are accumulated into one optimizer step. */
  microBatch: number;
  examplesPerSecond: number;
  /** Median, fastest and slowest timed step. */
  stepMs: { median: number; min: number; max: number };
  /** Median CPU time of a step (all threads): steadier than wall time on a shared machine. */
  cpuMs: number;
  /** Matrix-product FLOPs of one step, counted kernel by kernel. */
  matMulFlopsPerStep: number;
  effectiveGflops: number;
  peakRssBytes: number;
  /**
   * Size of the wasm memory at the end, which is its peak (wasm memory never shrinks), or of the GPU buffers allocated
   * on webgpu; null on other backends.
   */
  heapBytes: number | null;
  /** What the timed steps added, from the first timed step to the last: live tensors, heap (as above) and RSS. Flat is 0. */
  growth: { tensors: number; heapBytes: number; rssBytes: number };
  /** The kernels that took the most time in one profiled step, with their share of it. */
  profile?: { kernel: string; ms: number; share: number }[];
}

interface Spec {
  model: ModelName;
  case: CaseName;
  /** Examples per optimizer step (or per inference batch). */
  batch: number;
  steps: number;
  warmup: number;
  microBatch: number;
  profile: boolean;
  backend: BackendPreference;
}

/**
 * Micro-batch size for a case: the largest that fits wasm's 4 GiB (measured; larger products run faster). BERT-base
 * training accumulates full fine-tuning and fusion over 8 adapters in parts, and every case without the native add-on,
 * whose steps need more heap. A GPU takes the whole batch.
 */
function defaultMicroBatch(model: ModelName, caseName: CaseName, batch: number, addon: boolean, gpu: boolean): number {
  if (gpu || model !== 'base' || caseName.endsWith('inference')) return batch;
  const large = caseName === 'full' || caseName === 'fusion-8';
  if (addon) return large ? 4 : batch;
  return caseName === 'full' ? 2 : 4;
}

function bertConfig(model: ModelName): BertConfig {
  const { layers, hidden, heads } = MODELS[model];
  return {
    modelType: 'bert', vocabSize: 30522, hiddenSize: hidden, numHiddenLayers: layers, numAttentionHeads: heads,
    intermediateSize: 4 * hidden, hiddenAct: 'gelu', hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1,
    maxPositionEmbeddings: 512, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0, initializerRange: 0.02,
  };
}

interface Inputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  labels: tf.Tensor1D;
}

function randomInputs(batch: number, seed: number): Inputs {
  return tf.tidy(() => ({
    inputIds: tf.randomUniformInt<tf.Rank.R2>([batch, SEQUENCE_LENGTH], 1000, 30000, seed),
    attentionMask: tf.ones<tf.Rank.R2>([batch, SEQUENCE_LENGTH], 'int32'),
    labels: tf.randomUniformInt<tf.Rank.R1>([batch], 0, 2, seed + 1),
  }));
}

/** Builds the case and returns one step (a training step of `batch` examples, or one inference batch). */
function buildCase(spec: Spec): { step: () => Promise<void>; dispose: () => void } {
  const { batch } = spec;
  const backbone = BertModel.random(bertConfig(spec.model), 1);
  const hidden = backbone.config.hiddenSize;
  const head = createHead('bench', { type: 'classification', labels: ['a', 'b'] }, hidden, 2);
  const adapterCount = Number(/^fusion-(\d+)/.exec(spec.case)?.[1] ?? 1);
  const adapters = Array.from({ length: adapterCount }, (_, i) => BottleneckAdapter.create(`task${i}`, validateAdapterConfig({ preset: 'seq_bn' }), backbone, 10 + i));
  const fusion = adapterCount > 1 ? AdapterFusion.create(adapters, FUSION_PRESETS.create('dynamic'), backbone, 3) : undefined;
  const hook = fusion ? fusion.hook() : spec.case === 'full' ? undefined : adapters[0]?.hook();
  const microBatches = Array.from({ length: batch / spec.microBatch }, (_, i) => randomInputs(spec.microBatch, 100 + 2 * i));
  const dispose = () => {
    tf.dispose(microBatches.flatMap((inputs) => [inputs.inputIds, inputs.attentionMask, inputs.labels]));
    fusion?.dispose();
    adapters.forEach((adapter) => adapter.dispose());
    backbone.dispose();
    tf.dispose([...head.variables.values()]);
  };

  if (spec.case.endsWith('inference')) {
    const inputs = randomInputs(batch, 7);
    return {
      step: async () => {
        const logits = tf.tidy(() => {
          const output = backbone.forward(inputs, { training: false, firstTokenOnly: true, ...(hook ? { hook } : {}) });
          return head.forward(output.lastHiddenState, output.pooledOutput, false);
        });
        await logits.data();
        logits.dispose();
      },
      dispose: () => {
        tf.dispose([inputs.inputIds, inputs.attentionMask, inputs.labels]);
        dispose();
      },
    };
  }

  const trainable = new Map<string, tf.Variable>([...head.variables]);
  const frozen = new Map<string, tf.Variable>();
  const own = fusion ? fusion.variables : spec.case === 'full' ? backbone.weights : adapters[0]?.variables ?? new Map<string, tf.Variable>();
  for (const [name, variable] of own) trainable.set(name, variable);
  if (spec.case !== 'full') for (const [name, variable] of backbone.weights) frozen.set(name, variable);
  if (fusion) for (const adapter of adapters) for (const [name, variable] of adapter.variables) frozen.set(name, variable);
  const config = validateConfig(TrainingConfig, { schedule: 'constant', maxSteps: 1_000_000 });
  const trainer = new Trainer<Inputs>({
    config, trainable, frozen, progress: false, log: () => undefined,
    loss: (inputs) => {
      const output = backbone.forward(inputs, { training: true, firstTokenOnly: true, ...(hook ? { hook } : {}) });
      const loss = head.loss(head.forward(output.lastHiddenState, output.pooledOutput, true), inputs.labels);
      return fusion ? tf.add(loss, fusion.regularizationLoss()) : loss;
    },
  });
  return { step: async () => void (await trainer.step(microBatches)), dispose };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

async function runCase(spec: Spec): Promise<Result> {
  await initBackend(spec.backend);
  const { batch } = spec;
  const { step, dispose } = buildCase(spec);
  for (let i = 0; i < spec.warmup; i++) await step();
  const matMulFlopsPerStep = await countMatMulFlops(step);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const backend = tf.backend() as Partial<WasmBackend>;
  const heapBytes = () => backend.wasm?.HEAPF32.buffer.byteLength ?? (tf.memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU ?? null;
  const memory = () => ({ tensors: tf.memory().numTensors, heapBytes: heapBytes() ?? 0, rssBytes: process.memoryUsage().rss });
  let before = memory();
  for (let i = 0; i < spec.steps; i++) {
    if (i === 1) before = memory(); // after one timed step, so a step's own allocations are not counted as growth

    const [started, cpuStarted] = [performance.now(), process.cpuUsage()];
    await step();
    times.push(performance.now() - started);
    const cpu = process.cpuUsage(cpuStarted);
    cpuTimes.push((cpu.user + cpu.system) / 1000);
  }
  const after = memory();
  const growth = { tensors: after.tensors - before.tensors, heapBytes: after.heapBytes - before.heapBytes, rssBytes: after.rssBytes - before.rssBytes };
  let profile: Result['profile'];
  if (spec.profile) {
    const info = await tf.profile(step);
    const byKernel = new Map<string, number>();
    for (const kernel of info.kernels) byKernel.set(kernel.name, (byKernel.get(kernel.name) ?? 0) + Number(kernel.kernelTimeMs));
    const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
    profile = [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([kernel, ms]) => ({ kernel, ms: round(ms, 1), share: round(ms / total, 3) }));
  }
  dispose();
  const stepMs = median(times);
  return {
    model: spec.model, case: spec.case, batch, microBatch: spec.microBatch,
    examplesPerSecond: round(batch / (stepMs / 1000), 2),
    stepMs: { median: round(stepMs, 1), min: round(Math.min(...times), 1), max: round(Math.max(...times), 1) },
    cpuMs: round(median(cpuTimes), 1),
    matMulFlopsPerStep,
    effectiveGflops: round(matMulFlopsPerStep / stepMs / 1e6, 2),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    heapBytes: heapBytes(),
    growth,
    ...(profile ? { profile } : {}),
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** The add-on's own sgemm rate on a BERT-base-sized product (1024×768 · 768×3072), best of several runs. */
function sgemmCeiling(): number | null {
  const { blas } = loadNativeBlas();
  if (!blas) return null;
  const [m, k, n] = [1024, 768, 3072];
  const [a, b, c] = [new Float32Array(m * k).fill(0.5), new Float32Array(k * n).fill(0.5), new Float32Array(m * n)];
  const offsets = new Float64Array(3);
  let best = 0;
  for (let run = 0; run < 20; run++) {
    const started = performance.now();
    blas.matMul(a, b, c, null, offsets, m, n, k, false, false, 0, 0);
    best = Math.max(best, (2 * m * n * k) / ((performance.now() - started) * 1e6));
  }
  return round(best, 1);
}

/**
 * The backend's own matrix-product rate: best GFLOP/s of `size`² · `size`² products, four queued per run and the last
 * read back, so the GPU finishes them all (the first run compiles and is not counted).
 */
async function matMulCeiling(size: number): Promise<number> {
  const [a, b] = [tf.randomUniform([size, size], -1, 1, 'float32', 1), tf.randomUniform([size, size], -1, 1, 'float32', 2)];
  const run = async (): Promise<number> => {
    const started = performance.now();
    const products = [0, 1, 2, 3].map(() => tf.matMul(a, b));
    const corner = tf.slice(products[3] as tf.Tensor2D, [0, 0], [1, 1]);
    await corner.data();
    tf.dispose([...products, corner]);
    return (4 * 2 * size ** 3) / ((performance.now() - started) * 1e6);
  };
  await run();
  let best = 0;
  for (let i = 0; i < 5; i++) best = Math.max(best, await run());
  tf.dispose([a, b]);
  return round(best, 1);
}

/** The products of a BERT-base training step at batch 8 × 128 (D 768, I 3072, 12 heads; B·T = 1024 rows). */
const MATMUL_CASES: { name: string; a: number[]; b: number[]; transposeA?: boolean; transposeB?: boolean; bias?: boolean }[] = [
  { name: 'x·W + b (dense, fused bias)', a: [1, 1024, 768], b: [1, 768, 3072], bias: true },
  { name: 'x·W, batched x (8,128,768)', a: [8, 128, 768], b: [768, 768] },
  { name: 'dy·Wᵀ (input gradient)', a: [1, 1024, 3072], b: [1, 768, 3072], transposeB: true },
  { name: 'xᵀ·dy (weight gradient)', a: [1, 1024, 768], b: [1, 1024, 3072], transposeA: true },
  { name: 'Q·Kᵀ (96 heads × 128²)', a: [8, 12, 128, 64], b: [8, 12, 128, 64], transposeB: true },
  { name: 'P·V (96 heads)', a: [8, 12, 128, 128], b: [8, 12, 128, 64] },
  { name: 'fusion scores (1024 × 1·4)', a: [1024, 1, 768], b: [1024, 4, 768], transposeB: true },
];

/** GFLOP/s of each product in MATMUL_CASES on the current kernels, best of several runs. */
async function matMulRates(): Promise<{ name: string; gflops: number }[]> {
  const rates: { name: string; gflops: number }[] = [];
  for (const { name, a, b, transposeA = false, transposeB = false, bias } of MATMUL_CASES) {
    const [left, right] = [tf.randomUniform(a, -1, 1, 'float32', 1), tf.randomUniform(b, -1, 1, 'float32', 2)];
    const plan = planMatMul(a, b, transposeA, transposeB);
    const biasTensor = bias ? tf.zeros([plan.n]) : undefined;
    let best = Infinity;
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      const product = biasTensor ? tf.fused.matMul({ a: left, b: right, transposeA, transposeB, bias: biasTensor }) : tf.matMul(left, right, transposeA, transposeB);
      await product.data();
      product.dispose();
      best = Math.min(best, performance.now() - started);
    }
    tf.dispose([left, right, ...(biasTensor ? [biasTensor] : [])]);
    rates.push({ name, gflops: round((2 * plan.m * plan.n * plan.k * plan.products.length) / best / 1e6, 1) });
  }
  return rates;
}

/**
 * Milliseconds of the framework's element-wise kernels alone, best of 40 calls, on a BERT-tiny step's feed-forward
 * activations (32, 128, 512) and BERT-base's hidden width over the same tokens (32, 128, 768).
 */
function elementwiseTimes(): { name: string; ms: number | null }[] {
  const [x, dy] = [tf.randomNormal([32, 128, 512], 0, 1, 'float32', 1), tf.randomNormal([32, 128, 512], 0, 1, 'float32', 2)];
  const [h, residual, dh] = [3, 4, 5].map((seed) => tf.randomNormal([32, 128, 768], 0, 1, 'float32', seed)) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const [gamma, beta] = [tf.ones([768]), tf.zeros([768])];
  const cases: [string, string, tf.NamedTensorMap, tf.NamedAttrMap][] = [
    ['GELU (32,128,512)', GELU_KERNEL, { x }, {}],
    ['GELU gradient', GELU_GRAD_KERNEL, { x, dy }, {}],
    ['dropout 0.1', DROPOUT_KERNEL, { x }, { rate: 0.1, seed: 7 }],
    ['LayerNorm of x + residual (32,128,768)', RESIDUAL_LAYER_NORM_KERNEL, { x: h, residual, gamma, beta }, { epsilon: 1e-12 }],
    ['LayerNorm gradient', RESIDUAL_LAYER_NORM_GRAD_KERNEL, { x: h, residual, gamma, dy: dh }, { epsilon: 1e-12 }],
  ];
  const times = cases.map(([name, kernel, inputs, attrs]) => {
    if (!tf.getKernel(kernel, tf.getBackend())) return { name, ms: null };
    let best = Infinity;
    for (let run = 0; run < 40; run++) {
      const started = performance.now();
      tf.dispose(tf.engine().runKernel(kernel, inputs, attrs));
      best = Math.min(best, performance.now() - started);
    }
    return { name, ms: round(best, 2) };
  });
  tf.dispose([x, dy, h, residual, dh, gamma, beta]);
  return times;
}

const HELP = `usage: npm run bench -- [options]
  --models <list>       tiny,mini,base (default: all)
  --cases <list>        ${CASES.join(',')} (default: all)
  --quick               BERT-tiny only, cases adapter, fusion-2 and inference, 3 timed steps
  --steps <n>           timed steps per case (default 5), after --warmup <n> (default 2)
  --batch <n>           examples per step (default: 32 on tiny and mini, 8 on base)
  --ceiling-size <n>    on webgpu, the side of the square products that measure the adapter's matmul ceiling (default 4096, --quick 512)
  --micro-batch <n>     examples per forward/backward pass (default: the whole batch; on BERT-base 4 for full and fusion-8, and without the add-on 2 for full, else 4)
  --profile             add the kernels that take the most time in one step
  --matmul              only measure GFLOP/s of the matrix products of a BERT-base step, one by one
  --elementwise         only time the element-wise kernels (GELU, dropout, LayerNorm, gradients) alone
  --backend <name>      ${BACKEND_PREFERENCES.join(', ')} (default: ADAPTERFUSION_BACKEND or auto)
  --out <file>          JSON results (default: runs/bench/bench-<date>.json)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' }, cases: { type: 'string' }, quick: { type: 'boolean' }, steps: { type: 'string' },
      warmup: { type: 'string' }, 'micro-batch': { type: 'string' }, profile: { type: 'boolean' }, backend: { type: 'string' },
      out: { type: 'string' }, child: { type: 'string' }, help: { type: 'boolean' }, matmul: { type: 'boolean' }, elementwise: { type: 'boolean' },
      batch: { type: 'string' }, 'ceiling-size': { type: 'string' },
    },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  if (values.child) return void process.stdout.write(`${JSON.stringify(await runCase(JSON.parse(values.child) as Spec))}\n`);

  const list = <T extends string>(text: string | undefined, all: readonly T[], fallback: readonly T[]): T[] => {
    if (!text) return [...fallback];
    const items = text.split(',');
    const unknown = items.filter((item) => !all.includes(item as T));
    if (unknown.length > 0) throw new Error(`expected items from ${all.join(', ')}, got ${unknown.join(', ')}`);
    return items as T[];
  };
  const modelNames = Object.keys(MODELS) as ModelName[];
  const models = list(values.models, modelNames, values.quick ? ['tiny'] : modelNames);
  const cases = list(values.cases, CASES, values.quick ? ['adapter', 'fusion-2', 'inference'] : CASES);
  const backend = (values.backend ?? process.env.ADAPTERFUSION_BACKEND ?? 'auto') as BackendPreference;
  if (!BACKEND_PREFERENCES.includes(backend)) throw new Error(`--backend: expected one of ${BACKEND_PREFERENCES.join(', ')}, got "${backend}"`);
  const count = (text: string | undefined, fallback: number, name: string): number => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer, got "${text}"`);
    return value;
  };
  const steps = count(values.steps, values.quick ? 3 : 5, 'steps');
  const warmup = count(values.warmup, values.quick ? 1 : 2, 'warmup');

  const info = await initBackend(backend);
  const addon = loadNativeBlas().blas !== undefined;
  const gpu = info.name === 'webgpu';
  // The rate the figures are a share of: the add-on's sgemm on the CPU, the adapter's own product on a GPU.
  const ceilingSize = count(values['ceiling-size'], values.quick ? 512 : 4096, 'ceiling-size');
  const ceiling = gpu ? await matMulCeiling(ceilingSize) : sgemmCeiling();
  const ceilingName = gpu ? `matmul ceiling (${ceilingSize}² products)` : 'sgemm ceiling';
  const header = `backend ${info.name}${info.threads ? `, threads ${info.threads}` : ''}${info.adapter ? `, adapter ${info.adapter}` : ''}; matmul: ${info.kernels.matMul}; element-wise: ${info.kernels.elementwise}; blas: ${info.kernels.blas}` +
    (ceiling === null ? '' : `; ${ceilingName} ${ceiling} GFLOP/s`);
  process.stdout.write(`${header}\n`);
  if (values.matmul) {
    for (const { name, gflops } of await matMulRates()) process.stdout.write(`${name.padEnd(32)} ${gflops.toFixed(1).padStart(7)} GFLOP/s\n`);
    return;
  }
  if (values.elementwise) {
    for (const { name, ms } of elementwiseTimes()) process.stdout.write(`${name.padEnd(40)} ${ms === null ? 'not registered' : `${ms.toFixed(2).padStart(7)} ms`}\n`);
    return;
  }
  const row = (cells: (string | number)[]) => cells.map((cell, i) => String(cell).padStart(i === 0 ? 5 : i === 1 ? 18 : 11)).join(' ');
  process.stdout.write(`${row(['model', 'case', 'batch', 'ex/s', 'best ex/s', 'step ms', 'cpu ms', 'GFLOP/s', ceiling === null ? '' : gpu ? '% ceiling' : '% sgemm', 'RSS MiB', gpu ? 'GPU MiB' : 'heap MiB', 'growth'])}\n`);
  const results: Result[] = [];
  for (const model of models) {
    for (const caseName of cases) {
      const batch = count(values.batch, MODELS[model].batch, 'batch');
      const microBatch = values['micro-batch'] ? count(values['micro-batch'], 1, 'micro-batch') : defaultMicroBatch(model, caseName, batch, addon, gpu);
      const spec: Spec = { model, case: caseName, batch, steps, warmup, microBatch, profile: values.profile ?? false, backend };
      const child = spawnSync(process.execPath, [__filename, '--child', JSON.stringify(spec)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
      const last = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !last.startsWith('{')) {
        process.stdout.write(`${row([model, caseName, 'failed'])} (exit ${child.status ?? child.signal})\n`);
        continue;
      }
      const result = JSON.parse(last) as Result;
      results.push(result);
      const mib = (bytes: number | null) => (bytes === null ? '-' : (bytes / 2 ** 20).toFixed(0));
      process.stdout.write(`${row([
        model, caseName, result.microBatch === result.batch ? result.batch : `${result.batch}=${result.batch / result.microBatch}×${result.microBatch}`,
        result.examplesPerSecond, round(result.batch / (result.stepMs.min / 1000), 2), result.stepMs.median, result.cpuMs, result.effectiveGflops,
        ceiling === null ? '' : `${((100 * result.effectiveGflops) / ceiling).toFixed(0)}%`, mib(result.peakRssBytes), mib(result.heapBytes),
        `${result.growth.tensors} tensors, ${gpu ? 'GPU' : 'heap'} +${mib(result.growth.heapBytes)}, RSS ${result.growth.rssBytes >= 0 ? '+' : ''}${mib(result.growth.rssBytes)} MiB`,
      ])}\n`);
      for (const entry of result.profile ?? []) process.stdout.write(`${' '.repeat(21)}${entry.kernel.padEnd(24)} ${entry.ms.toFixed(1).padStart(9)} ms ${(100 * entry.share).toFixed(1).padStart(5)}%\n`);
    }
  }
  const out = values.out ?? join('runs', 'bench', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeJsonAtomic(out, {
    date: new Date().toISOString(), command: `node ${process.argv.slice(1).join(' ')}`, node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, sequenceLength: SEQUENCE_LENGTH,
    backend: info.name, threads: info.threads, adapter: info.adapter, kernels: info.kernels,
    ...(gpu ? { matMulCeilingGflops: ceiling, matMulCeilingSize: ceilingSize } : { sgemmCeilingGflops: ceiling }), results,
  });
  process.stdout.write(`results: ${out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
