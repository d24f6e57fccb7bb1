import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KERNELS_ENV, registerKernels, type KernelInfo } from './kernels/register-kernels';
import { loadNativeBlas } from './native/native-blas';
import { guardWasmAllocations, type WasmAllocator } from './wasm-heap';
import { adapterName, decideWebGpu, probeWebGpu } from './webgpu';
import { planWasmThreads, setWasmBackend, wasmThreads } from './wasm-threads';

/** Which tensor backend to run on; `auto` picks the fastest that loads. */
export type BackendPreference = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** Environment variable that overrides the backend choice (same values as `--backend`). */
export const BACKEND_ENV = 'ADAPTERFUSION_BACKEND';

/** What runs and why the better backends were skipped. */
export interface BackendInfo {
  /** tfjs backend name: `tensorflow`, `webgpu`, `wasm` or `cpu`. */
  name: string;
  /** The package that provides it. */
  package: string;
  /** One sentence: why this backend runs. */
  reason: string;
  /** Better backends that were tried or passed over, each with the reason. */
  skipped: { package: string; reason: string }[];
  /** Versions of tfjs-core and the backend package. */
  versions: Record<string, string>;
  /** The framework's own kernels registered on this backend (matrix products, native BLAS). */
  kernels: KernelInfo;
  /** wasm only: the threads its own kernels run on, and why, e.g. `2 (one per core)`. */
  threads?: string;
  /** webgpu only: the adapter it runs on, e.g. `llvmpipe-… (mesa, software)`. */
  adapter?: string;
}

interface Candidate {
  package: string;
  name: string;
  /** Loads the package (registering its backend) or throws with a reason; `requested` when the user named it. */
  load(requested: boolean): void | Promise<void>;
  /** Makes it the tfjs backend (default: `tf.setBackend(name)`) or throws; returns its threads where it has a choice. */
  start?(): Promise<string>;
  /** Explains a load failure for the user. */
  explain(error: unknown): string;
}

const NATIVE_GPU_HINT =
  'tfjs-node-gpu is built against libtensorflow 2.9.1, which needs CUDA 11.2 and cuDNN 8.1 on the library path';

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' &&
    /Cannot find module '@tensorflow\/tfjs-node/.test(error.message);
}

/**
 * Loads a native TensorFlow package only when its binding was built: requiring it without one registers half its
 * kernels before failing, which floods the log and breaks the next candidate.
 */
function loadNative(packageName: string): void {
  const root = dirname(require.resolve(`${packageName}/package.json`));
  const libDir = join(root, 'lib');
  const built = existsSync(libDir) && readdirSync(libDir).some((dir) => existsSync(join(libDir, dir, 'tfjs_binding.node')));
  if (!built) throw new Error('its native binding was not built (the install script downloads libtensorflow, which needs internet access)');
  require(packageName);
}

const CANDIDATES: Record<Exclude<BackendPreference, 'auto'>, Candidate[]> = {
  tensorflow: [
    {
      package: '@tensorflow/tfjs-node-gpu',
      name: 'tensorflow',
      load: () => loadNative('@tensorflow/tfjs-node-gpu'),
      explain: (e) => (isMissing(e) ? 'not installed (optional; its install downloads libtensorflow)' : `failed to load: ${message(e)}; ${NATIVE_GPU_HINT}`),
    },
    {
      package: '@tensorflow/tfjs-node',
      name: 'tensorflow',
      load: () => loadNative('@tensorflow/tfjs-node'),
      explain: (e) => (isMissing(e) ? 'not installed (optional; its install downloads libtensorflow)' : `failed to load: ${message(e)}`),
    },
  ],
  webgpu: [
    {
      package: '@tensorflow/tfjs-backend-webgpu',
      name: 'webgpu',
      load: loadWebGpu,
      explain: (e) => message(e),
    },
  ],
  wasm: [
    {
      package: '@tensorflow/tfjs-backend-wasm',
      name: 'wasm',
      load: () => require('@tensorflow/tfjs-backend-wasm'),
      start: startWasm,
      explain: (e) => `failed to load: ${message(e)}`,
    },
  ],
  cpu: [
    {
      package: '@tensorflow/tfjs-backend-cpu',
      name: 'cpu',
      load: () => require('@tensorflow/tfjs-backend-cpu'),
      explain: (e) => `failed to load: ${message(e)}`,
    },
  ],
};

/**
 * Registers tfjs-backend-webgpu where `decideWebGpu` accepts the adapter; it must load after `navigator.gpu` exists,
 * which `probeWebGpu` puts in place in Node.
 */
async function loadWebGpu(requested: boolean): Promise<void> {
  const decision = decideWebGpu(await probeWebGpu(), requested);
  if (!decision.use) throw new Error(decision.reason);
  require('@tensorflow/tfjs-backend-webgpu');
}

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function setBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
}

/**
 * The wasm backend on as many threads as `planWasmThreads` says (one with the native add-on, else one per core), its
 * allocations guarded.
 */
async function startWasm(): Promise<string> {
  const addonDoesProducts = process.env[KERNELS_ENV] !== 'stock' && loadNativeBlas().blas !== undefined;
  const plan = planWasmThreads(addonDoesProducts);
  if (!(await setWasmBackend(plan.threads))) throw new Error(`tf.setBackend('wasm') returned false (${plan.threads} threads)`);
  guardWasmAllocations((tf.backend() as unknown as { wasm: WasmAllocator }).wasm);
  return `${wasmThreads()} (${plan.reason})`;
}

let chosen: Promise<BackendInfo> | undefined;

/** Reads the preference from the environment; throws on an unknown value. */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): BackendPreference | undefined {
  const value = env[BACKEND_ENV];
  if (value === undefined || value === '') return undefined;
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(value)) {
    throw new Error(`${BACKEND_ENV}: expected one of ${BACKEND_PREFERENCES.join(', ')}, got "${value}"`);
  }
  return value as BackendPreference;
}

/**
 * Chooses the tensor backend once per process: native TensorFlow (GPU, then CPU) where it loads, else WebGPU on a
 * hardware adapter, else wasm, else cpu.
 * An explicit preference (argument, then the ADAPTERFUSION_BACKEND variable) restricts the choice to that backend.
 * Later calls return the first call's result.
 *
 * @example
 * const info = await initBackend();
 * console.log(`${info.name}: ${info.reason}`);
 */
export function initBackend(preference?: BackendPreference): Promise<BackendInfo> {
  chosen ??= choose(preference ?? backendFromEnv() ?? 'auto');
  return chosen;
}

/** Backends started in this process, by the name they were asked for, so that switching back only re-selects one. */
const started = new Map<BackendPreference, BackendInfo>();

/**
 * Makes `preference` the current backend, starting it the first time as `initBackend` would: for the conformance tests
 * and the benchmark, which run the same work on several backends in one process. Tensors made on the previous backend
 * must not be read afterwards (a WebGPU tensor cannot move to another backend in Node).
 */
export async function switchBackend(preference: BackendPreference): Promise<BackendInfo> {
  const known = started.get(preference);
  if (known) await setBackend(known.name);
  chosen = known ? Promise.resolve(known) : choose(preference);
  return chosen;
}

async function choose(preference: BackendPreference): Promise<BackendInfo> {
  const order: Exclude<BackendPreference, 'auto'>[] = preference === 'auto' ? ['tensorflow', 'webgpu', 'wasm', 'cpu'] : [preference];
  const skipped: BackendInfo['skipped'] = [];
  for (const kind of order) {
    for (const candidate of CANDIDATES[kind]) {
      let threads: string | undefined;
      try {
        await candidate.load(preference !== 'auto');
        if (candidate.start) threads = await candidate.start();
        else await setBackend(candidate.name);
        await tf.ready();
      } catch (error) {
        skipped.push({ package: candidate.package, reason: candidate.explain(error) });
        continue;
      }
      const reason =
        preference === 'auto'
          ? skipped.length === 0 ? 'the fastest available backend' : 'the fastest backend that loaded'
          : `requested (${process.env[BACKEND_ENV] === preference ? BACKEND_ENV : '--backend'} ${preference})`;
      const info: BackendInfo = {
        name: candidate.name,
        package: candidate.package,
        reason,
        skipped,
        versions: { '@tensorflow/tfjs-core': tf.version_core, [candidate.package]: packageVersion(candidate.package) },
        kernels: await registerKernels(candidate.name),
        ...(threads === undefined ? {} : { threads }),
        ...(candidate.name === 'webgpu' ? { adapter: await webGpuAdapterName() } : {}),
      };
      started.set(preference, info);
      return info;
    }
  }
  const details = skipped.map((s) => `${s.package}: ${s.reason}`).join('; ');
  throw new Error(`no tensor backend could be loaded for "${preference}" (${details})`);
}

async function webGpuAdapterName(): Promise<string> {
  const probe = await probeWebGpu();
  return probe.adapter ? adapterName(probe.adapter) : 'unknown';
}

/** One line for logs: `backend wasm (@tensorflow/tfjs-backend-wasm 4.22.0): reason; wasm threads 2 (one per core); skipped …`. */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.skipped.map((s) => `${s.package} ${s.reason}`).join('; ');
  const threads = info.threads ? `; wasm threads ${info.threads}` : info.adapter ? `; adapter ${info.adapter}` : '';
  return `backend ${info.name} (${info.package} ${info.versions[info.package] ?? ''}): ${info.reason}${threads}${skipped ? `; skipped ${skipped}` : ''}`;
}
