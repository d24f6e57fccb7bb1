import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** `../shared` beside the project: conformance fixtures, real datasets and the BERT vocabulary. */
const SHARED_DIR = resolve(__dirname, '..', '..', 'shared');

/** A path inside ../shared. */
export function sharedPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}

/**
 * True when the shared file or folder exists; otherwise prints why the tests that need it are skipped, so a skip is
 * visible in the test output. Use as `describe.skipIf(!hasShared('conformance', 'x'))(...)`, and read the files in
 * `beforeAll` or in the tests, never in the suite's body: vitest runs a skipped suite's body to collect its tests.
 */
export function hasShared(...parts: string[]): boolean {
  const path = sharedPath(...parts);
  if (existsSync(path)) return true;
  console.warn(`SKIPPED: ${path} is absent (the ../shared folder beside the project holds conformance fixtures and data)`);
  return false;
}
