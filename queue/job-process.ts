import { dirname, join } from 'node:path';
import { ExperimentConfig, writeSeedSummary } from '../fusion/index';
import { FileLock, loadConfigFile, startBackend, type CliContext } from '../src/index';
import { checkPayload, type JobName } from './jobs';
import { isPermanent, jobStages, runJob } from './run-job';
import type { JobMessage } from './worker';

/**
 * The process a worker starts for one job (`adapterfusion queue job`, which reads the job from the IPC channel): holds
 * the job's lock file in the run directory while it trains (two workers never train the same job, even when a stalled
 * job's first process still runs), sends its log lines and outcome to the worker, and stops when the worker is gone.
 */
export async function jobProcess({ container }: CliContext): Promise<void> {
  if (!process.send) throw new Error('queue job: started by `adapterfusion worker`, not by hand');
  const send = (message: JobMessage) => process.send?.(message);
  const log = (line: string) => send({ type: 'line', line });
  const { id, name, data } = await new Promise<{ id: string; name: JobName; data: unknown }>((resolve) => process.once('message', resolve));
  let lock: FileLock | undefined;
  const stop = () => {
    lock?.release();
    process.exit(1);
  };
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  try {
    const payload = checkPayload(id, data);
    const what = payload.tasks?.join('+') ?? (payload.fusion === undefined ? 'report' : `fusion-${payload.fusion}`);
    lock = await FileLock.acquire(join(payload.seedDir, 'locks', `${name}-${what}.lock`), id, {
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
