import type { Container, Io } from '../src/index';
import type { ExperimentConfig } from './experiment-config';

/** Token under which a module binds the queue `run --queue` submits experiments to (same name as the interface). */
export const ExperimentQueue = Symbol.for('adapterfusion.ExperimentQueue');

/** Where `run --queue <url>` sends an experiment instead of running it: a module that schedules its stages elsewhere. */
export interface ExperimentQueue {
  /**
   * Checks every stage of the validated experiment `file` (absolute) with `container`, then submits them over the
   * (absolute) `runDir`; says on `io` what it queued.
   */
  submit(request: { url: string; file: string; config: ExperimentConfig; runDir: string; container: Container }, io: Io): Promise<void>;
}
