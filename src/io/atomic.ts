import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileError } from './read-file';

/** Creates a directory and its parents; a failure is a `FileError` naming it and saying what to do. */
export function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw fileError(error, dir, 'create the directory');
  }
}

/**
 * Writes a file so that readers see either the old or the new content, never a partial one: the data goes to a
 * temporary file in the same directory, which is then renamed over the target. A failure (a full disk, a read-only
 * file system) removes the temporary file and is a `FileError` naming the target and saying what to do; a temporary
 * file of the same target left by a killed process is removed by the next write.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  makeDirectory(dir);
  const prefix = `${basename(path)}.tmp-`;
  const temp = join(dir, `${prefix}${process.pid}-${Date.now()}`);
  try {
    for (const entry of readdirSync(dir)) if (entry.startsWith(prefix)) rmSync(join(dir, entry), { force: true });
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw fileError(error, path, 'write');
  }
}

/** Writes JSON (2-space indented, trailing newline) atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
