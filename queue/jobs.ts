import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Version of the job format below. A worker refuses a job of another version (its payload may mean something else);
 * raise it whenever a field's meaning changes, and say so in docs/distributed.md.
 */
export const JOB_FORMAT = 1;

/** The BullMQ queue every job goes to. */
export const QUEUE_NAME = 'adapterfusion';

/** What a job does: one extraction (a task and seed; MT-A: every task), one fusion recipe, or one seed's attention report. */
export type JobName = 'extract' | 'fuse' | 'inspect';

/** A job's data: enough for any worker sharing the run directory's filesystem to run it. */
export interface JobPayload {
  format: typeof JOB_FORMAT;
  /** The experiment file (absolute); the worker reads and validates it again. */
  experiment: string;
  /** sha256 of the file at submission: a worker refuses to run a job whose file has changed since. */
  experimentHash: string;
  /** The experiment's run directory (absolute). */
  runDir: string;
  seed: number;
  /** The seed's run directory (absolute): `runDir`, or `runDir/seed-<n>` with several seeds. */
  seedDir: string;
  /** extract: the task ids (ST-A: one). */
  tasks?: string[];
  /** fuse: the recipe's index in `fusions`. */
  fusion?: number;
  /** fuse: manifest keys of extractions this fusion needs that other jobs of the flow run; it waits for them. */
  waitsFor?: string[];
  /** inspect: the fused targets the report covers. */
  targets?: string[];
  /** Set by `queue cancel` on an active job; the worker running it stops it. */
  cancelled?: boolean;
}

/** A finished job's return value. */
export interface JobResult {
  format: typeof JOB_FORMAT;
  /** Dev metrics by manifest key (`extract/rte`, `fuse/rte`); empty for a report. */
  metrics: Record<string, Record<string, number>>;
  /** True when the run directory had it done already. */
  skipped: boolean;
}

/** What a worker reports to a running job (`job.progress`). */
export interface JobProgress {
  step: number;
  totalSteps: number;
  /** Latest dev evaluation, e.g. `accuracy 0.8125`. */
  metric?: string;
  /** Time left as the trainer estimates it, e.g. `1m05s`. */
  eta?: string;
}

/** A job this worker cannot run as it is: another format version, a changed experiment file. Retrying cannot fix it. */
export class IncompatibleJobError extends Error {
  override name = 'IncompatibleJobError';
}

/** sha256 of a file's bytes. */
export function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The payload of job `id`, refused with a clear message when its format is not this worker's. */
export function checkPayload(id: string, data: unknown): JobPayload {
  const format = (data as { format?: unknown } | null)?.format;
  if (format !== JOB_FORMAT) {
    throw new IncompatibleJobError(`job ${id}: job format ${JSON.stringify(format)}, but this worker runs format ${JOB_FORMAT}; run a worker of the version that submitted it, or submit the experiment again`);
  }
  const payload = data as JobPayload;
  if (fileHash(payload.experiment) !== payload.experimentHash) {
    throw new IncompatibleJobError(`job ${id}: ${payload.experiment} has changed since it was submitted; submit the experiment again`);
  }
  return payload;
}

/** BullMQ connection options for a `redis://host:port[/db]` URL (commands wait while Redis restarts). */
export function connection(url: string): { url: string; maxRetriesPerRequest: null } {
  if (!/^rediss?:\/\//.test(url)) throw new Error(`--queue: expected a Redis URL such as redis://host:6379, got "${url}"`);
  return { url, maxRetriesPerRequest: null };
}
