import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { makeDirectory } from './atomic';
import { fileError } from './read-file';

/** Who holds a lock file: written into it so that a waiting process can say whom it waits for. */
export interface LockHolder {
  host: string;
  pid: number;
  /** What the holder does under the lock (a job id, "manifest"). */
  purpose: string;
}

/** How old (by its modification time) a lock file must be before it counts as left behind by a dead holder. */
export const STALE_LOCK_MS = 30_000;

/** True when the holder ran on this host and its process is gone. */
function holderDied(path: string): boolean {
  const holder = lockHolder(path);
  if (holder?.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Creates the lock file if nobody holds it; a lock whose holder died on this host, or older than `staleMs` (a holder
 * on another machine stopped refreshing it), is taken over.
 */
function tryCreate(path: string, purpose: string, staleMs: number): boolean {
  makeDirectory(dirname(path));
  try {
    const fd = openSync(path, 'wx');
    writeSync(fd, JSON.stringify({ host: hostname(), pid: process.pid, purpose } satisfies LockHolder));
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(error, path, 'write');
  }
  try {
    if (Date.now() - statSync(path).mtimeMs > staleMs || holderDied(path)) rmSync(path, { force: true });
  } catch {
    // released meanwhile: the next try creates it
  }
  return false;
}

/** The holder a lock file names, or undefined when it is gone or half written. */
export function lockHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `fn` holding the lock file `path`, which works across processes and across machines sharing the filesystem
 * (exclusive create). Meant for short critical sections such as a manifest's read-modify-write; waits while another
 * process holds it, up to `timeoutMs`.
 */
export function withFileLockSync<T>(path: string, purpose: string, fn: () => T, { staleMs = STALE_LOCK_MS, timeoutMs = 2 * STALE_LOCK_MS } = {}): T {
  const deadline = Date.now() + timeoutMs;
  while (!tryCreate(path, purpose, staleMs)) {
    if (Date.now() > deadline) {
      const holder = lockHolder(path);
      throw new Error(`${path}: still locked after ${timeoutMs / 1000} s${holder ? ` by ${holder.host} pid ${holder.pid} (${holder.purpose})` : ''}; remove it if that process is gone`);
    }
    Atomics.wait(sleeper, 0, 0, 20);
  }
  try {
    return fn();
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * A long-held lock file (a training job's): `acquire` waits until no live process holds it, the holder refreshes it
 * every few seconds so that it never looks stale while alive, and `release` removes it.
 *
 * @example
 * const lock = await FileLock.acquire(join(run.root, 'locks', 'extract-rte.lock'), 'extract rte');
 * try { await train(); } finally { lock.release(); }
 */
export class FileLock {
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(readonly path: string, staleMs: number) {
    this.heartbeat = setInterval(() => this.refresh(), Math.max(10, staleMs / 5));
    this.heartbeat.unref();
  }

  /** Marks the lock as alive; call it from long synchronous work too, during which the timer cannot run. */
  refresh(): void {
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
    } catch {
      // taken over after a pause longer than staleMs; nothing to refresh
    }
  }

  /** Waits (polling every `pollMs`) until the lock is free or stale, then holds it; `onWait` hears once whom it waits for. */
  static async acquire(path: string, purpose: string, { staleMs = STALE_LOCK_MS, pollMs = 500, onWait }: { staleMs?: number; pollMs?: number; onWait?: (holder: LockHolder | undefined) => void } = {}): Promise<FileLock> {
    let told = false;
    while (!tryCreate(path, purpose, staleMs)) {
      if (!told) onWait?.(lockHolder(path));
      told = true;
      await new Promise((done) => setTimeout(done, pollMs));
    }
    return new FileLock(path, staleMs);
  }

  /** Gives the lock up. */
  release(): void {
    clearInterval(this.heartbeat);
    rmSync(this.path, { force: true });
  }
}
