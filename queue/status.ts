import { Queue, type Job } from 'bullmq';
import { ExperimentConfig, printSeedSummary, summarizeSeeds } from '../fusion/index';
import { loadConfigFile, type Io } from '../src/index';
import { connection, QUEUE_NAME, type JobPayload, type JobProgress } from './jobs';

const STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'] as const;

/** A 20-character bar of `done` out of `total`. */
export function progressBar(done: number, total: number): string {
  const filled = total > 0 ? Math.min(20, Math.round((20 * done) / total)) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(20 - filled)}] ${String(total > 0 ? Math.round((100 * done) / total) : 0).padStart(3)}%`;
}

/** One job's status line: id, state, progress bar, step, latest metric and ETA (or why it failed). */
export function statusLine(id: string, state: string, progress: JobProgress | undefined, failedReason?: string): string {
  const bar = state === 'completed' ? progressBar(1, 1) : progressBar(progress?.step ?? 0, progress?.totalSteps ?? 0);
  const detail = state === 'failed'
    ? failedReason ?? ''
    : [progress && state !== 'completed' ? `step ${progress.step}/${progress.totalSteps}` : '', progress?.metric ?? '', progress?.eta && state === 'active' ? `ETA ${progress.eta}` : ''].filter(Boolean).join('  ');
  return `${id.padEnd(44)} ${state.padEnd(16)} ${bar}  ${detail}`.trimEnd();
}

/** Every job on the queue at `url` (of the run directory `runDir` when given), oldest first, with its state. */
export async function experimentJobs(url: string, runDir?: string): Promise<{ job: Job; state: string }[]> {
  const queue = new Queue(QUEUE_NAME, { connection: connection(url) });
  try {
    const jobs: { job: Job; state: string }[] = [];
    for (const state of STATES) for (const job of await queue.getJobs([state])) if (job && (runDir === undefined || (job.data as JobPayload).runDir === runDir)) jobs.push({ job, state });
    return jobs.sort((a, b) => a.job.timestamp - b.job.timestamp || String(a.job.id).localeCompare(String(b.job.id)));
  } finally {
    await queue.close();
  }
}

/**
 * Prints every job's status line; when every job of an experiment has completed, also its dev metrics over the seeds
 * (read from the run directories, as a local run reports them).
 */
export async function printStatus(url: string, io: Io, runDir?: string): Promise<void> {
  const jobs = await experimentJobs(url, runDir);
  if (jobs.length === 0) io.out(`no jobs on ${url}${runDir ? ` for ${runDir}` : ''}\n`);
  for (const { job, state } of jobs) io.out(`${statusLine(job.id as string, state, typeof job.progress === 'object' ? (job.progress as unknown as JobProgress) : undefined, job.failedReason)}\n`);
  const experiments = new Map(jobs.map(({ job }) => [(job.data as JobPayload).runDir, (job.data as JobPayload).experiment]));
  for (const [dir, file] of experiments) {
    const own = jobs.filter(({ job }) => (job.data as JobPayload).runDir === dir);
    if (!own.every(({ state }) => state === 'completed')) continue;
    const config = loadConfigFile(ExperimentConfig, file);
    if ((config.seeds ?? []).length < 2) continue;
    io.out(`\n${dir}: dev metrics over seeds ${(config.seeds ?? []).join(', ')}\n`);
    printSeedSummary(summarizeSeeds(config, dir), io);
  }
}

/** Stops job `id`: an active one through its worker (it fails as cancelled), a waiting one (with its children) is removed. */
export async function cancelJob(url: string, id: string, io: Io): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: connection(url) });
  try {
    const job = await queue.getJob(id);
    if (!job) throw new Error(`queue cancel: no job "${id}" on ${url} (adapterfusion queue status lists them)`);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') throw new Error(`queue cancel: job ${id} has ${state} already`);
    if (state === 'active') {
      await job.updateData({ ...(job.data as JobPayload), cancelled: true });
      io.out(`cancelling ${id}: its worker stops it within a second; its checkpoint stays for a later run\n`);
    } else {
      await job.remove();
      io.out(`removed ${id} (${state})\n`);
    }
  } finally {
    await queue.close();
  }
}
