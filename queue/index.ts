import { ExperimentQueue } from '../fusion/index';
import { CliCommand, featureModule } from '../src/index';
import { queueCommands } from './commands';
import { bullmqExperimentQueue } from './submit';

export * from './jobs';
export * from './plan';
export * from './run-job';
export * from './status';
export * from './submit';
export * from './worker';

/**
 * Experiments over many workers through BullMQ on Redis, built on src/index.ts and fusion/index.ts: the queue
 * `run --queue` submits to, and the commands `worker` and `queue` (status, cancel).
 */
export default featureModule([
  [ExperimentQueue, bullmqExperimentQueue],
  [CliCommand, queueCommands],
]);
