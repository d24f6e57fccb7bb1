import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RunDirectory } from '../src/index';
import { checkPayload, connection, QUEUE_NAME, type JobName, type JobPayload, type JobProgress, type JobResult } from './jobs';
import { progressOf } from './run-job';

/** How a worker runs. */
export interface WorkerOptions {
  /** Jobs at once (each in its own process). */
  concurrency: number;
  /**
   * Seconds after which a job whose worker stopped renewing its lock (killed, machine gone) counts as stalled and
   * goes back to the queue; the check runs twice as often.
   */
  stalledAfter: number;
  /** The command to start for each job (argv without node): the `adapterfusion` script and `queue job`. */
  jobCommand: readonly string[];
  log: (line: string) => void;
}

/** What the job process sends back over IPC (its log lines come on stderr). */
export type JobMessage =
  | { type: 'result'; result: JobResult }
  | { type: 'error'; name: string; message: string; permanent: boolean };

/**
 * Takes jobs from the queue at `url` until closed: each in a process of its own (`options.jobCommand`), its progress
 * (steps, metric, ETA) reported to the job. A fusion whose adapters another flow extracts waits (delayed) until they
 * are in the manifest; a job `queue cancel` names is stopped and fails as cancelled.
 */
export function startWorker(url: string, options: WorkerOptions): Worker {
  const control = new Queue(QUEUE_NAME, { connection: connection(url) });
  const processor = async (job: Job, token?: string): Promise<JobResult> => {
    const id = job.id as string;
    let payload;
    try {
      payload = checkPayload(id, job.data);
    } catch (error) {
      throw new UnrecoverableError((error as Error).message);
    }
    const manifest = new RunDirectory(payload.seedDir).readManifest();
    const missing = (payload.waitsFor ?? []).filter((key) => !(key in manifest.stages));
    if (missing.length > 0) {
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError(`waiting for ${missing.join(', ')}`);
    }
    options.log(`${id}: started (attempt ${job.attemptsMade + 1})`);
    return runInProcess(job, options, control);
  };
  const worker = new Worker(QUEUE_NAME, processor, {
    connection: connection(url),
    concurrency: options.concurrency,
    lockDuration: options.stalledAfter * 1000,
    stalledInterval: (options.stalledAfter * 1000) / 2,
    maxStalledCount: 2,
  });
  worker.on('completed', (job) => options.log(`${job.id}: done`));
  worker.on('failed', (job, error) => options.log(`${job?.id ?? '?'}: failed: ${error.message}`));
  worker.on('closed', () => void control.close());
  return worker;
}

/** Runs the job in a child process, relaying its lines and progress, and stops it when the job is cancelled. */
function runInProcess(job: Job, options: WorkerOptions, control: Queue): Promise<JobResult> {
  const id = job.id as string;
  const [script, ...args] = options.jobCommand;
  // A process group of its own: Ctrl-C on the worker's terminal stops the worker (after its jobs), not the jobs.
  const child = fork(script as string, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  child.send({ id, name: job.name as JobName, data: job.data as unknown });
  let progress: JobProgress | undefined;
  const onLine = (line: string) => {
    options.log(`${id}: ${line}`);
    const next = progressOf(line, progress);
    if (next) {
      progress = next;
      void job.updateProgress({ ...next }).catch(() => undefined);
    }
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine);
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', onLine);
  let cancelled = false;
  const poll = setInterval(() => {
    void control.getJob(id).then((current) => {
      if ((current?.data as JobPayload | undefined)?.cancelled === true && !cancelled) {
        cancelled = true;
        // SIGKILL: training is synchronous between evaluations, so a gentler signal would wait for the next one. Every
        // file is written atomically, and the job lock of a dead process on this machine is taken over at once.
        child.kill('SIGKILL');
      }
    }).catch(() => undefined);
  }, 1000);
  return new Promise<JobResult>((resolve, reject) => {
    let outcome: JobMessage | undefined;
    child.on('message', (message: JobMessage) => (outcome = message));
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (cancelled) reject(new UnrecoverableError('cancelled by `adapterfusion queue cancel`'));
      else if (outcome?.type === 'result') resolve(outcome.result);
      else if (outcome?.type === 'error') reject(outcome.permanent ? new UnrecoverableError(`${outcome.name}: ${outcome.message}`) : new Error(`${outcome.name}: ${outcome.message}`));
      else reject(new Error(`job process ended with ${signal ?? `code ${code}`} before it reported a result`));
    });
  });
}
