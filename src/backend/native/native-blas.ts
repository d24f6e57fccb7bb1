import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Environment variable that turns the native BLAS add-on off (`0`) even where it was built. */
export const BLAS_ENV = 'ADAPTERFUSION_BLAS';

/** OpenBLAS's setting for how long (2^n cycles) its idle threads spin before they sleep. */
const OPENBLAS_TIMEOUT_ENV = 'OPENBLAS_THREAD_TIMEOUT';

/** OpenBLAS's setting that names the kernels to use instead of those it picks for the CPU. */
const OPENBLAS_CORE_ENV = 'OPENBLAS_CORETYPE';

/** What OpenBLAS's choice of kernels depends on: the CPU's vendor and its instruction-set extensions. */
export interface CpuFeatures {
  vendor: string;
  flags: ReadonlySet<string>;
}

/** The first processor's vendor and flags in the text of Linux's /proc/cpuinfo; undefined when it names neither. */
export function parseCpuInfo(text: string): CpuFeatures | undefined {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const vendor = field('vendor_id');
  const flags = field('flags');
  return vendor === undefined || flags === undefined ? undefined : { vendor, flags: new Set(flags.split(/\s+/)) };
}

/**
 * The OpenBLAS kernels for an Intel CPU, from its vector extensions, as OpenBLAS picks them for the Intel models it
 * knows (newer releases name Sapphire Rapids' own, whose single-precision products are `Cooperlake`'s). A release
 * older than the CPU falls back not on the extensions but on its SSE3 kernels (`Prescott`): Debian 12's OpenBLAS
 * 0.3.21 ran products at 34 GFLOP/s on an Emerald Rapids Xeon against 278 with `Cooperlake`'s AVX-512. Other vendors
 * are left to OpenBLAS, which falls back on the extensions for models it does not know.
 */
export function openblasCoreFor(cpu: CpuFeatures): string | undefined {
  if (cpu.vendor !== 'GenuineIntel') return undefined;
  const has = (...flags: string[]) => flags.every((flag) => cpu.flags.has(flag));
  if (has('avx512f', 'avx512vl', 'avx512bw', 'avx512dq')) return has('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
  return has('avx2', 'fma') ? 'Haswell' : undefined;
}

/** Sets OPENBLAS_CORETYPE for this CPU (see openblasCoreFor) unless the user set it; the core it set, if any. */
function chooseOpenblasCore(): string | undefined {
  if (process.env[OPENBLAS_CORE_ENV] !== undefined || process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let cpuInfo: string;
  try {
    cpuInfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  const cpu = parseCpuInfo(cpuInfo);
  const core = cpu && openblasCoreFor(cpu);
  if (core) process.env[OPENBLAS_CORE_ENV] = core;
  return core;
}

/** The kernels OpenBLAS runs, and whether they are those chosen for the CPU (an OpenBLAS built for one CPU type ignores the choice). */
export function describeCore(coreName: string, chosen: string | undefined): string {
  if (chosen === undefined) return coreName;
  return chosen === coreName ? `${coreName}, chosen from the CPU's flags` : `${coreName}, not ${chosen}: built for one CPU type`;
}

/** What this process chose, once, before OpenBLAS first loaded (it reads the setting only then). */
let openblasCore: { chosen?: string } | undefined;

/** Activation codes the add-on applies after the product: the tfjs wasm backend's numbering (no prelu). */
export const BLAS_ACTIVATIONS: Readonly<Record<string, number>> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 4, sigmoid: 5, elu: 6 };

/** The native add-on (src/backend/native/blas.c): batched `cblas_sgemm` and element-wise kernels on Float32Arrays, in place. */
export interface NativeBlas {
  /**
   * For each product p with `offsets[3p..3p+2] = [oa, ob, oc]`: `c[oc..] = act(op(a[oa..])·op(b[ob..]) + bias)`,
   * row-major, op(a) m×k (stored k×m when transposeA), op(b) k×n (stored n×k when transposeB), bias n values or null.
   */
  matMul(
    a: Float32Array, b: Float32Array, c: Float32Array, bias: Float32Array | null, offsets: Float64Array,
    m: number, n: number, k: number, transposeA: boolean, transposeB: boolean, activation: number, alpha: number,
  ): void;
  /** `y = x·Φ(x)`, the exact GELU (erf to 1.5e-7), vectorised. */
  gelu(x: Float32Array, y: Float32Array): void;
  /** `dx = dy·(Φ(x) + x·φ(x))`, the GELU's gradient. */
  geluGrad(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** `out = x` masked and scaled exactly as `applyDropoutMask` in src/ops/dropout.ts does, vectorised. */
  dropout(this: void, x: Float32Array, out: Float32Array, rate: number, seed: number): void;
  /** LayerNorm of each row of `x + residual` (`x` alone when residual is empty; rows of gamma's length) into `out`, as `layerNormRows` in src/ops/layer-norm.ts. */
  layerNorm(this: void, x: Float32Array, residual: Float32Array, gamma: Float32Array, beta: Float32Array, out: Float32Array, epsilon: number): void;
  /** Its gradient with respect to x (and residual), as `layerNormRowsGrad`. */
  layerNormGrad(this: void, x: Float32Array, residual: Float32Array, gamma: Float32Array, dy: Float32Array, out: Float32Array, epsilon: number): void;
  /** One AdamW update of p with gradient g and moments m, v into the outputs, as `AdamW.apply` computes it. */
  adamW(this: void, p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, pOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
    decay: number, beta1: number, beta2: number, secondCorrection: number, epsilon: number, stepSize: number): void;
  /**
   * Multi-head attention on (B, T, D) projections: `context` = dropout(softmax(q·kᵀ/sqrt(D/H) + keyBias))·v per head
   * (keyBias (B, T) added to each key's scores), the softmax before dropout into `probabilities` (B, H, T, T).
   */
  attention(this: void, query: Float32Array, key: Float32Array, value: Float32Array, keyBias: Float32Array, context: Float32Array,
    probabilities: Float32Array, heads: number, length: number, rate: number, seed: number): void;
  /** The gradients of `attention`'s context with respect to query, key and value, from its saved probabilities. */
  attentionGrad(this: void, query: Float32Array, key: Float32Array, value: Float32Array, probabilities: Float32Array, dContext: Float32Array,
    dQuery: Float32Array, dKey: Float32Array, dValue: Float32Array, heads: number, length: number, rate: number, seed: number): void;
  /** The BLAS library in use. */
  info(): { config: string; coreName: string; threads: number };
}

/** The add-on when it loads, else why not (one line). */
export interface BlasStatus {
  blas?: NativeBlas;
  /** `OpenBLAS 0.3.21 … (Zen, 2 threads)`, or why the add-on is not used. */
  description: string;
}

const ADDON = join('build', 'Release', 'adapterfusion_blas.node');

/** The add-on is built beside its source; compiled code runs from dist/src/backend/native, tests from the source. */
function addonPath(): string | undefined {
  return [join(__dirname, ADDON), resolve(__dirname, '..', '..', '..', '..', 'src', 'backend', 'native', ADDON)].find((path) => existsSync(path));
}

/**
 * Loads the native BLAS add-on unless `ADAPTERFUSION_BLAS=0`. It is built by `npm install` where OpenBLAS and a
 * C compiler are present (`npm run build:native` rebuilds it); everything works without it, only slower.
 *
 * @example
 * const { blas, description } = loadNativeBlas();
 * console.log(`blas: ${description}`);
 */
export function loadNativeBlas(env: NodeJS.ProcessEnv = process.env): BlasStatus {
  if (env[BLAS_ENV] === '0') return { description: `off (${BLAS_ENV}=0)` };
  const path = addonPath();
  if (!path) return { description: 'not built (needs OpenBLAS, e.g. apt-get install libopenblas-dev, then npm run build:native)' };
  // OpenBLAS's threads spin for up to 2^28 cycles (0.1 s) after each product, waiting for the next, and so hold a
  // core that attention's threads and the element-wise kernels need: measured 15-20 % of a BERT-tiny training step.
  // 2^4 cycles makes them sleep at once. The library reads this when it loads; a value the user set wins.
  process.env[OPENBLAS_TIMEOUT_ENV] ??= '4';
  openblasCore ??= { chosen: chooseOpenblasCore() };
  try {
    const blas = require(path) as NativeBlas;
    const { config, coreName, threads } = blas.info();
    return { blas, description: `${config.split(' ').slice(0, 2).join(' ')} (${describeCore(coreName, openblasCore.chosen)}, ${threads} threads)` };
  } catch (error) {
    return { description: `failed to load ${path}: ${(error as Error).message.split('\n')[0]}` };
  }
}
