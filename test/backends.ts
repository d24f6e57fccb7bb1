// The backends the conformance fixtures and the kernel tests run on: wasm always, webgpu wherever an adapter exists
// (a software one included, as on CI's llvmpipe).
import { afterAll, beforeAll, describe } from 'vitest';
import { switchBackend } from '../src/backend/backend';
import { probeWebGpu } from '../src/backend/webgpu';

/**
 * Why the WebGPU tests are skipped here, printed so that a skip is visible in the test output; undefined where an
 * adapter exists. Await it in an async `describe` (vitest awaits suite factories).
 */
export async function webGpuMissing(): Promise<string | undefined> {
  const probe = await probeWebGpu();
  if (probe.adapter) return undefined;
  console.warn(`SKIPPED on webgpu: ${probe.reason}`);
  return probe.reason;
}

/** The conformance backends. */
export const CONFORMANCE_BACKENDS = ['wasm', 'webgpu'] as const;
export type ConformanceBackend = (typeof CONFORMANCE_BACKENDS)[number];

/**
 * The same suite once per conformance backend (`<title>` > `on <backend>`), against the same bounds; the backend is made
 * current before the suite's own hooks run and wasm again after it. A backend that is absent skips its suite visibly.
 * As with `hasShared`, read files and make tensors in hooks or tests, never in the body.
 */
export function describeOnBackends(title: string, skip: boolean, body: (backend: ConformanceBackend) => void): void {
  describe(title, async () => {
    const missing = skip ? undefined : await webGpuMissing();
    for (const backend of CONFORMANCE_BACKENDS) {
      const absent = backend === 'webgpu' ? missing : undefined;
      describe.skipIf(skip || absent !== undefined)(`on ${backend}${absent ? ` (skipped: ${absent})` : ''}`, () => {
        beforeAll(async () => void (await switchBackend(backend)));
        afterAll(async () => void (await switchBackend('wasm')));
        body(backend);
      });
    }
  });
}
