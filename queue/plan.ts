import type { FlowJob } from 'bullmq';
import { createHash } from 'node:crypto';
import { experimentSeeds, seedRunDir, type ExperimentConfig } from '../fusion/index';
import { extractionStageKey, MTA_STAGE_KEY } from '../src/index';
import { JOB_FORMAT, QUEUE_NAME, type JobName, type JobPayload } from './jobs';

/** Retries of a job that failed for a reason retrying may fix (a worker gone, a full disk); the project's errors fail at once. */
export const JOB_ATTEMPTS = 3;

const jobOptions = { attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, failParentOnFailure: true } as const;

/**
 * The BullMQ flows of an experiment, per seed: an `inspect` job whose children are the `fuse` jobs, each of whose
 * children are the `extract` jobs of the adapters it fuses (an extraction has one parent, so a fusion whose adapter
 * another fusion's flow extracts waits for it: `waitsFor`); extractions no fusion uses are flows of their own. Job ids
 * are `<experiment>.<submission>.s<seed>.<name>.<what>`, the experiment a hash of the run directory.
 */
export function planExperiment(config: ExperimentConfig, file: string, experimentHash: string, runDir: string, submission: string): FlowJob[] {
  const experiment = createHash('sha256').update(runDir).digest('hex').slice(0, 8);
  const flows: FlowJob[] = [];
  for (const seed of experimentSeeds(config)) {
    const base = { format: JOB_FORMAT, experiment: file, experimentHash, runDir, seed, seedDir: seedRunDir(config, runDir, seed) } as const;
    const job = (name: JobName, what: string, extra: Partial<JobPayload>, children?: FlowJob[]): FlowJob => ({
      name,
      queueName: QUEUE_NAME,
      data: { ...base, ...extra } satisfies JobPayload,
      opts: { ...jobOptions, jobId: `${experiment}.${submission}.s${seed}.${name}.${what}` },
      ...(children && children.length > 0 ? { children } : {}),
    });
    // ST-A: one extraction per task; MT-A trains every task in one loop, so one job.
    const extractions = new Map<string, { key: string; flow: FlowJob }>(
      config.mode === 'mt-a'
        ? [['*', { key: MTA_STAGE_KEY, flow: job('extract', 'mt-a', { tasks: config.tasks.map((task) => task.id) }) }]]
        : config.tasks.map((task) => [task.id, { key: extractionStageKey(task.id), flow: job('extract', task.id, { tasks: [task.id] }) }]),
    );
    const claimed = new Set<string>();
    const fusions = config.fusions.map((recipe, index) => {
      const needed = [...new Set(recipe.adapters.map((adapter) => (config.mode === 'mt-a' ? '*' : adapter)))].filter((id) => extractions.has(id));
      const own = needed.filter((id) => !claimed.has(id));
      own.forEach((id) => claimed.add(id));
      const waitsFor = needed.filter((id) => !own.includes(id)).map((id) => extractions.get(id)?.key as string);
      return job('fuse', `${index}-${recipe.target}`, { fusion: index, ...(waitsFor.length > 0 ? { waitsFor } : {}) }, own.map((id) => extractions.get(id)?.flow as FlowJob));
    });
    if (fusions.length > 0) flows.push(job('inspect', 'report', { targets: config.fusions.map((recipe) => recipe.target) }, fusions));
    for (const [id, { flow }] of extractions) if (!claimed.has(id)) flows.push(flow);
  }
  return flows;
}
