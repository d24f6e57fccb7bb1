// What some tests need beyond the code: the backend whose kernels they exercise, the native add-on. Off it, such a
// test would pass without checking anything, so it is skipped instead, and says why in the test output.

/** The backend setup.ts starts: wasm, unless ADAPTERFUSION_BACKEND names another ("auto" is known only at start). */
const TEST_BACKEND = process.env.ADAPTERFUSION_BACKEND ?? 'wasm';

/**
 * True, after printing what this run lacks, where `present` is falsy; for `it.skipIf(lacking('the native add-on',
 * loadNativeBlas().blas))`, so that a skip is visible in the test output as `hasShared` makes it for ../shared.
 */
export function lacking(what: string, present: unknown): boolean {
  if (present) return false;
  console.warn(`SKIPPED: tests that need ${what}: this run lacks it`);
  return true;
}

/** `lacking` for the wasm backend: true where the tests run on another one. */
export function offWasm(): boolean {
  return lacking(`the wasm backend (ADAPTERFUSION_BACKEND=${TEST_BACKEND})`, TEST_BACKEND === 'wasm');
}
