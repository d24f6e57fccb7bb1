import { dirname, join } from 'node:path';
import { ExperimentConfig, writeSeedSummary } from '../fusion/index';
import { FileLock, loadConfigFile, startBackend, type CliContext } from '../src/index';
import { checkPayload, type JobName } from './jobs';
import { isPermanent, jobStages, runJob } from './run-job';
import type { JobMessage } from './worker';

/**
 * A job lock not refreshed for this long belongs to a process on a machine that is gone (one on this machine is
 * recognized as dead at once). Refreshed at every log line, so it must exceed the time between two of them.
 */
export const JOB_LOCK_STALE_MS = 120_000;

/**
 * The process a worker starts for one job (`adapterfusion queue job`, which reads the job from the IPC channel): holds
 * the job's lock file in the run directory while it trains (two workers never train the same job, even when a stalled
 * job's first process still runs), sends its log lines and outcome to the worker, and stops when the worker is gone (at its next log line).
 */
export async function jobProcess({ container }: CliContext): Promise<void> {
  if (!process.send) throw new Error('queue job: started by `adapterfusion worker`, not by hand');
  const send = (message: JobMessage) => process.send?.(message);
  const worker = process.ppid;
  let lock: FileLock | undefined;
  const stop = () => {
    lock?.release();
    process.exit(1);
  };
  // Training runs synchronously between evaluations, so neither 'disconnect', a timer nor an IPC message gets through
  // then: every log line checks that the worker still lives (a killed worker's job process is adopted by another
  // parent), refreshes the lock, and goes to stderr, a pipe written synchronously, so that progress arrives as it happens.
  const log = (line: string) => {
    if (process.ppid !== worker) stop();
    lock?.refresh();
    process.stderr.write(`${line}\n`);
  };
  const { id, name, data } = await new Promise<{ id: string; name: JobName; data: unknown }>((resolve) => process.once('message', resolve));
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  try {
    const payload = checkPayload(id, data);
    const what = payload.tasks?.join('+') ?? (payload.fusion === undefined ? 'report' : `fusion-${payload.fusion}`);
    lock = await FileLock.acquire(join(payload.seedDir, 'locks', `${name}-${what}.lock`), id, {
      staleMs: JOB_LOCK_STALE_MS,
      onWait: (holder) => log(`waiting for ${holder ? `${holder.host} pid ${holder.pid} (${holder.purpose})` : 'another process'} to release the lock of this job`),
    });
    const config = loadConfigFile(ExperimentConfig, payload.experiment);
    const backend = await startBackend({ quiet: true });
    const stages = jobStages(await container(config.modules, dirname(payload.experiment)), payload, { backend, log });
    const result = await runJob(name, stages, payload);
    writeSeedSummary(config, payload.runDir);
    send({ type: 'result', result });
  } catch (error) {
    send({ type: 'error', name: (error as Error).name ?? 'Error', message: (error as Error).message ?? String(error), permanent: isPermanent(error) });
  } finally {
    lock?.release();
    process.off('disconnect', stop);
    process.disconnect();
  }
}
