import type { Command } from 'commander';
import { resolve } from 'node:path';
import { positiveInteger, positiveNumber, type CliCommand } from '../src/index';
import { jobProcess } from './job-process';
import { cancelJob, printStatus } from './status';
import { startWorker } from './worker';

/**
 * `adapterfusion worker --queue <url> [--concurrency <n>] [--stalled-after <seconds>]` takes jobs until stopped (SIGINT
 * or SIGTERM: it takes no new job and exits when its running ones have finished; a second one stops it at once); `adapterfusion queue status|cancel`
 * watches and stops jobs; the hidden `queue job` is the process a worker starts for each job.
 */
export const queueCommands: CliCommand = {
  register: (program: Command, context) => {
    const { io } = context;
    program
      .command('worker')
      .description('take experiment jobs from a queue (see `run --queue`) and run each in a process of its own, until stopped')
      .requiredOption('--queue <url>', 'Redis URL of the queue, e.g. redis://host:6379')
      .option('--concurrency <n>', 'jobs at once', positiveInteger, 1)
      .option('--stalled-after <seconds>', "seconds after which a silent worker's job goes to another worker", positiveNumber, 30)
      .action(async (options: { queue: string; concurrency: number; stalledAfter: number }) => {
        const worker = startWorker(options.queue, {
          concurrency: options.concurrency,
          stalledAfter: options.stalledAfter,
          jobCommand: [process.argv[1] as string, 'queue', 'job'],
          log: (line) => io.err(`${line}\n`),
        });
        io.err(`worker: taking jobs from ${options.queue} (concurrency ${options.concurrency})\n`);
        await new Promise<void>((done) => {
          const stop = () => void worker.close().then(done);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      });
    const queue = program.command('queue').description('watch and stop the jobs of queued experiments');
    queue
      .command('status')
      .description('every job with its state, progress bar, latest dev metric and ETA')
      .requiredOption('--queue <url>', 'Redis URL of the queue')
      .option('--run <dir>', "only the jobs of this run directory")
      .action((options: { queue: string; run?: string }) => printStatus(options.queue, io, options.run === undefined ? undefined : resolve(options.run)));
    queue
      .command('cancel')
      .description('stop a job: an active one through its worker, a waiting one (with its children) is removed')
      .argument('<job>', 'job id, as `queue status` lists it')
      .requiredOption('--queue <url>', 'Redis URL of the queue')
      .action((id: string, options: { queue: string }) => cancelJob(options.queue, id, io));
    queue.command('job', { hidden: true }).description('run one job sent by a worker over IPC').action(() => jobProcess(context));
  },
};
