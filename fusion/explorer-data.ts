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

/**
 * A fusion's metrics log as the explorer plots it: `parseStepLines` without the measured speed (`examplesPerSecond`),
 * which differs from run to run, so the report `inspect` writes is the same file for the same training however often
 * it was interrupted, resumed or run on another machine.
 */
export function parseMetricsLines(text: string, file: string): MetricsPoint[] {
  return parseStepLines<MetricsPoint>(text, file).map(({ examplesPerSecond: _speed, ...point }) => point as MetricsPoint);
}

/** The log files of a fusion's training, by name in `<run>/metrics/`: what `inspect` and the web app read. */
export function trainingLogFiles(target: string): { metrics: string; attention: string } {
  return { metrics: `fuse-${target}.jsonl`, attention: `fuse-attention-${target}.jsonl` };
}


/** A file as the explorer reads it: a browser `File` qualifies, and so does anything with a name and its text. */
export interface NamedText {
  name: string;
  text(): Promise<string>;
}

/** What `explorerDataFromFiles` made of a set of files. */
export interface OpenedFiles {
  data: ExplorerData;
  /** Names of the files that are none of the explorer's (weights, configs, …), left unread. */
  ignored: string[];
}

/** The fields an `attention.json` must have for the explorer to show it. */
function checkReport(value: unknown, file: string): AttentionReport {
  const report = value as Partial<AttentionReport> | null;
  const missing = ['target', 'adapters', 'all'].filter((key) => report === null || typeof report !== 'object' || !(key in report));
  if (missing.length) throw new Error(`${file}: expected a report written by "adapterfusion inspect", but it has no ${missing.join(', ')}`);
  return report as AttentionReport;
}

/**
 * The explorer's data from the files of a run directory, as a browser hands them over (file input, drag and drop):
 * each `attention.json`, and the fusion logs `fuse-<target>.jsonl` and `fuse-attention-<target>.jsonl`; other files
 * are ignored unread. Errors name the file.
 *
 * @example
 * const { data, ignored } = await explorerDataFromFiles([...input.files]);
 */
export async function explorerDataFromFiles(files: readonly NamedText[]): Promise<OpenedFiles> {
  const reports = new Map<string, AttentionReport>();
  const training: Record<string, TrainingLog> = {};
  const log = (target: string) => (training[target] ??= { metrics: [], attention: [] });
  const ignored: string[] = [];
  for (const file of files) {
    const attention = /^fuse-attention-(.+)\.jsonl$/.exec(file.name);
    const metrics = /^fuse-(.+)\.jsonl$/.exec(file.name);
    if (file.name === 'attention.json') {
      let value: unknown;
      try {
        value = JSON.parse(await file.text());
      } catch (error) {
        throw new Error(`${file.name}: expected JSON (${(error as Error).message})`);
      }
      const report = checkReport(value, file.name);
      reports.set(report.target, report);
    } else if (attention?.[1]) {
      log(attention[1]).attention = parseStepLines<AttentionSnapshot>(await file.text(), file.name);
    } else if (metrics?.[1]) {
      log(metrics[1]).metrics = parseMetricsLines(await file.text(), file.name);
    } else {
      ignored.push(file.name);
    }
  }
  return { data: { reports: [...reports.values()], training }, ignored };
}
