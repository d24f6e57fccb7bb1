import { dirname } from 'node:path';
import { experimentForSeed, experimentStages, ExperimentConfig, type ExperimentStages } from '../fusion/index';
import {
  AdapterBackboneMismatchError,
  BackboneMismatchError,
  ConfigValidationError,
  DataError,
  extractionStageKey,
  fusionStageKey,
  loadConfigFile,
  MTA_STAGE_KEY,
  SafetensorsError,
  TokenizerError,
  UnknownTaskError,
  WeightMismatchError,
  type BackendInfo,
  type Container,
} from '../src/index';
import { IncompatibleJobError, JOB_FORMAT, type JobName, type JobPayload, type JobProgress, type JobResult } from './jobs';

/** Errors of the project's own that name bad data or a bad configuration: the same on any worker, so never retried. */
const PERMANENT_ERRORS = [ConfigValidationError, UnknownTaskError, DataError, TokenizerError, BackboneMismatchError, AdapterBackboneMismatchError, WeightMismatchError, SafetensorsError, IncompatibleJobError];

/** True when retrying `error` on another worker cannot help. */
export function isPermanent(error: unknown): boolean {
  return PERMANENT_ERRORS.some((type) => error instanceof type);
}

/** The stages of a job's seed, from the experiment file as the worker reads it now. */
export function jobStages(container: Container, payload: JobPayload, options: { backend?: BackendInfo; log: (line: string) => void }): ExperimentStages {
  const config = loadConfigFile(ExperimentConfig, payload.experiment);
  // Always resume: a retried job continues from the checkpoint the worker it was taken from left behind.
  return experimentStages(container, experimentForSeed(config, payload.seed), payload.seedDir, { baseDir: dirname(payload.experiment), source: payload.experiment, resume: true, log: options.log, ...(options.backend ? { backend: options.backend } : {}) });
}

/**
 * Runs one job with the stage code of a local `run` (`experimentStages`): the queue only decides what runs where.
 * Writes into the seed's run directory as a local run does, so a finished result outlives Redis.
 */
export async function runJob(name: JobName, stages: ExperimentStages, payload: JobPayload): Promise<JobResult> {
  if (name === 'extract') {
    const results = await stages.extract(payload.tasks);
    const key = (task: string) => (stages.config.mode === 'mt-a' ? MTA_STAGE_KEY : extractionStageKey(task));
    return { format: JOB_FORMAT, skipped: results.every((result) => result.skipped), metrics: Object.fromEntries(results.map((result) => [key(result.task), result.metrics])) };
  }
  if (name === 'fuse') {
    const result = await stages.fuse(payload.fusion ?? 0);
    return { format: JOB_FORMAT, skipped: result.skipped, metrics: { [fusionStageKey(result.target)]: result.metrics } };
  }
  await stages.inspect(payload.targets ?? []);
  return { format: JOB_FORMAT, skipped: false, metrics: {} };
}

/**
 * Reads the trainer's log lines (`step 3/20 ...ETA 4s`, `evaluation at step 3 (epoch 1): accuracy 0.75; ...`) into job
 * progress; returns undefined for other lines.
 */
export function progressOf(line: string, last: JobProgress | undefined): JobProgress | undefined {
  const step = /^step (\d+)\/(\d+) .*ETA (\S+)$/.exec(line);
  if (step) return { ...last, step: Number(step[1]), totalSteps: Number(step[2]), eta: step[3] as string };
  const evaluation = /evaluation at step (\d+) \(epoch [\d.]+\): ([^,;]+)/.exec(line);
  if (evaluation) return { step: Number(evaluation[1]), totalSteps: last?.totalSteps ?? Number(evaluation[1]), ...(last?.eta ? { eta: last.eta } : {}), metric: evaluation[2] as string };
  return undefined;
}
