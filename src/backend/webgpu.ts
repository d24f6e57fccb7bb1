/**
 * The WebGPU adapter: found through `navigator.gpu` (in Node, Dawn's bindings from the optional `webgpu` package put
 * it there), described for `doctor`, and judged: a hardware adapter is used automatically, a software one (llvmpipe,
 * SwiftShader) only when asked for, since it runs slower than wasm on the same cores.
 */

/** What the framework reads from a WebGPU adapter: its identity and the limits that bound a model's tensors. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter says it is a fallback (software or otherwise limited). */
  isFallbackAdapter: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  shaderF16: boolean;
}

/** The outcome of looking for an adapter: one was found, or why none could be. */
export type AdapterProbe = { adapter: AdapterDescription } | { adapter?: undefined; reason: string };

/** Whether to run on WebGPU, and one sentence why (or why not). */
export interface WebGpuDecision {
  use: boolean;
  reason: string;
}

/** Names of the software rasterisers that implement Vulkan, D3D12 or Metal on the CPU. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|warp/i;

/** A software adapter: flagged as fallback, or named as one of the known CPU rasterisers, or of architecture `software`. */
export function isSoftwareAdapter(adapter: AdapterDescription): boolean {
  return adapter.isFallbackAdapter || adapter.architecture === 'software' || SOFTWARE_ADAPTER.test(`${adapter.device} ${adapter.description}`);
}

/** `llvmpipe-… (mesa, software)`: the adapter as `doctor` and the logs name it. */
export function adapterName(adapter: AdapterDescription): string {
  const name = adapter.device || adapter.description || 'unnamed adapter';
  const details = [adapter.vendor, adapter.architecture].filter((part) => part !== '').join(', ');
  return details ? `${name} (${details})` : name;
}

/** Its limits that matter for a model, for `doctor`. */
export function adapterLimits(adapter: AdapterDescription): string {
  const mib = (bytes: number) => `${Math.floor(bytes / 2 ** 20)} MiB`;
  return `max buffer ${mib(adapter.maxBufferSize)}, max storage binding ${mib(adapter.maxStorageBufferBindingSize)}, shader-f16 ${adapter.shaderF16 ? 'yes' : 'no'}`;
}

/**
 * Whether WebGPU runs: always where it was asked for and an adapter exists; automatically only on a hardware adapter.
 * A pure function of the probe, so the choice is tested without a GPU.
 */
export function decideWebGpu(probe: AdapterProbe, requested: boolean): WebGpuDecision {
  if (!probe.adapter) return { use: false, reason: probe.reason };
  const name = adapterName(probe.adapter);
  if (requested) return { use: true, reason: `adapter ${name}` };
  if (isSoftwareAdapter(probe.adapter)) {
    return { use: false, reason: `the only adapter is ${name}, a software renderer, used only when asked for (--backend webgpu)` };
  }
  return { use: true, reason: `hardware adapter ${name}` };
}

/** The subset of the WebGPU API read here (the DOM typings are not part of this Node project). */
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  features: { has(name: string): boolean };
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

/** Describes an adapter from its `info`, `limits` and `features`. */
export function describeAdapter(adapter: GpuAdapterLike): AdapterDescription {
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    shaderF16: adapter.features.has('shader-f16'),
  };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

/**
 * `navigator.gpu`, installing Dawn's in Node: its globals (GPUBufferUsage and the rest, which tfjs-backend-webgpu reads)
 * and a `navigator` holding the instance, as a browser has them. Throws with the reason where there is none.
 */
export function webGpu(): GpuLike {
  const scope = globalThis as { navigator?: { gpu?: GpuLike } };
  if (scope.navigator?.gpu) return scope.navigator.gpu;
  let dawn: { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  try {
    dawn = require('webgpu') as typeof dawn;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && /'webgpu'/.test((error as Error).message);
    throw new Error(missing ? 'the optional package "webgpu" (Dawn for Node) is not installed' : `the "webgpu" package failed to load: ${firstLine(error)}`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  // Node 21+ defines a read-only `navigator`; Node 20 none.
  Object.defineProperty(globalThis, 'navigator', { value: { ...(scope.navigator ?? {}), gpu }, configurable: true, writable: true });
  return gpu;
}

let probed: Promise<AdapterProbe> | undefined;

/** Looks for the adapter tfjs-backend-webgpu would take (high performance), once per process. */
export function probeWebGpu(): Promise<AdapterProbe> {
  probed ??= (async (): Promise<AdapterProbe> => {
    try {
      const adapter = await webGpu().requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) return { reason: 'no WebGPU adapter found (no GPU driver with Vulkan, Metal or D3D12; see docs/backends.md)' };
      return { adapter: describeAdapter(adapter) };
    } catch (error) {
      return { reason: firstLine(error) };
    }
  })();
  return probed;
}

/**
 * `doctor`'s lines on WebGPU: the adapter, its limits, and why it runs or not. `running` is the backend in use,
 * `requested` whether the user asked for one by name.
 */
export function webGpuReport(probe: AdapterProbe, running: string, requested: boolean): string[] {
  if (!probe.adapter) return [`webgpu: not used: ${probe.reason}`];
  const lines = [`webgpu adapter: ${adapterName(probe.adapter)}; ${adapterLimits(probe.adapter)}`];
  const automatic = decideWebGpu(probe, false);
  if (running === 'webgpu') lines.push(`webgpu: in use (${requested ? 'asked for' : automatic.reason})`);
  else if (requested) lines.push(`webgpu: not used: ${running} was asked for`);
  else if (!automatic.use) lines.push(`webgpu: not used: ${automatic.reason}`);
  else lines.push(`webgpu: not used: ${running} comes first`);
  return lines;
}
