import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Example, HeadSpec, Prediction, TaskDataOptions, TaskPlugin } from '../task/task-plugin';
import { gluePredictionFile, superGluePredictionFile, type PredictionFile } from './prediction-files';
import { readExamples, type ColumnMapping } from './read-examples';

/** A file a split can be read from (relative to the task's data directory) and how its columns map to examples. */
export interface SplitFile extends ColumnMapping {
  file: string;
}

/** A leaderboard file for an unlabelled split: GLUE TSV or SuperGLUE JSONL, and its file name. */
export interface LeaderboardFile {
  format: 'glue' | 'superglue';
  fileName: string;
}

/** Everything a task read from data files needs to say about itself. */
export interface FileTaskSpec {
  id: string;
  description: string;
  head: HeadSpec;
  metrics: readonly string[];
  /**
   * For each split, the files it can come from, in order of preference; the first that exists is read. Listing
   * several lets a task accept every distribution of the same data (GLUE TSV and SuperGLUE JSONL, say).
   */
  splits: Readonly<Record<string, readonly SplitFile[]>>;
  /** Leaderboard files of unlabelled splits, by split. */
  leaderboard?: Readonly<Record<string, LeaderboardFile>>;
}

/**
 * A task plugin described by data: which files hold each split and which columns make an example. Reading streams
 * the first file found (see `readExamples` for bad-line handling); `formatPredictions` exists when the spec names
 * leaderboard files.
 *
 * @example
 * export const rteTask = new FileTask({
 *   id: 'rte', description: 'Recognizing Textual Entailment', metrics: ['accuracy'],
 *   head: { type: 'classification', labels: ['entailment', 'not_entailment'] },
 *   splits: { dev: [{ file: 'dev.tsv', id: 'index', text: 'sentence1', textPair: 'sentence2', label: 'label' }] },
 * });
 * export default taskModule(rteTask);
 */
export class FileTask implements TaskPlugin {
  readonly id: string;
  readonly description: string;
  readonly head: HeadSpec;
  readonly metrics: readonly string[];
  readonly splits: readonly string[];
  readonly formatPredictions?: (split: string, predictions: readonly Prediction[]) => PredictionFile;

  constructor(private readonly spec: FileTaskSpec) {
    this.id = spec.id;
    this.description = spec.description;
    this.head = spec.head;
    this.metrics = spec.metrics;
    this.splits = Object.keys(spec.splits);
    const leaderboard = spec.leaderboard;
    if (leaderboard) this.formatPredictions = (split, predictions) => this.leaderboardFile(leaderboard, split, predictions);
  }

  /** The file a split is read from: the first of its candidates present in `dataDir`. */
  fileFor(split: string, dataDir: string): SplitFile & { path: string } {
    const candidates = this.spec.splits[split];
    if (!candidates) throw new Error(`task "${this.id}": expected a split among ${this.splits.join(', ')}, got "${split}"`);
    for (const candidate of candidates) {
      const path = join(dataDir, candidate.file);
      if (existsSync(path)) return { ...candidate, path };
    }
    throw new Error(`task "${this.id}", split "${split}": expected ${candidates.map((c) => c.file).join(' or ')} in ${dataDir}, found none`);
  }

  async *read(split: string, options: TaskDataOptions): AsyncGenerator<Example> {
    const source = this.fileFor(split, options.dataDir);
    yield* readExamples(source.path, this.head, source, options);
  }

  private leaderboardFile(leaderboard: Readonly<Record<string, LeaderboardFile>>, split: string, predictions: readonly Prediction[]): PredictionFile {
    const target = leaderboard[split];
    if (!target) throw new Error(`task "${this.id}": leaderboard files exist for ${Object.keys(leaderboard).join(', ')}, got split "${split}"`);
    const write = target.format === 'glue' ? gluePredictionFile : superGluePredictionFile;
    return write(target.fileName, this.head, predictions);
  }
}
