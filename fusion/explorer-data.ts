import type { AttentionReport, SiteMeans } from './attention-report';

/** One line of a trainer's metrics log (`<run>/metrics/<stage>-<task>.jsonl`): step, loss, learningRate, eval_*… */
export type MetricsPoint = { step: number } & Record<string, number>;

/** The fusion attention on the dev split at one training step (`logAttentionEvery`). */
export interface AttentionSnapshot {
  step: number;
  /** Per site, the mean weight of each adapter over the dev split's non-padding tokens. */
  sites: SiteMeans[];
  /** Per adapter, the mean over sites. */
  overall: number[];
}

/** What the trainer logged for one fusion: its metrics lines and, when recorded, its attention snapshots. */
export interface TrainingLog {
  metrics: MetricsPoint[];
  attention: AttentionSnapshot[];
}

/** Everything the explorer shows: the reports `inspect` wrote and, per target, the training logs of its fusion. */
export interface ExplorerData {
  reports: AttentionReport[];
  training: Record<string, TrainingLog>;
}

/**
 * Parses a JSON-lines file of objects with a numeric `step` (a metrics log or an attention log); when a resumed run
 * logged a step again, the last line of that step wins. Errors name the file and line.
 *
 * @example
 * parseStepLines('{"step":1,"loss":0.7}\n{"step":2,"loss":0.6}\n', 'fuse-rte.jsonl'); // [{ step: 1, … }, { step: 2, … }]
 */
export function parseStepLines<T extends { step: number }>(text: string, file: string): T[] {
  const byStep = new Map<number, T>();
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${file}:${n + 1}: expected a JSON object per line, got ${JSON.stringify(line.slice(0, 40))} (${(error as Error).message})`);
    }
    const step = (value as { step?: unknown } | null)?.step;
    if (typeof step !== 'number') throw new Error(`${file}:${n + 1}: expected an object with a numeric "step", got ${line.slice(0, 60)}`);
    byStep.set(step, value as T);
  });
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The log files of a fusion's training, by name in `<run>/metrics/`: what `inspect` and the web app read. */
export function trainingLogFiles(target: string): { metrics: string; attention: string } {
  return { metrics: `fuse-${target}.jsonl`, attention: `fuse-attention-${target}.jsonl` };
}

