import type * as tf from '@tensorflow/tfjs-core';

/** Token under which task plugins are bound in the container (same name as the interface, by design). */
export const TaskPlugin = Symbol.for('adapterfusion.TaskPlugin');

/**
 * Label value whose position is left out of losses and metrics (PyTorch's `ignore_index`): padding and the sub-tokens
 * after a word's first in tagging.
 */
export const IGNORE_INDEX = -100;

/** One example as read from a dataset. Texts are raw strings; the framework tokenizes them. */
export interface Example {
  /** Stable id from the file (row index or the dataset's own id); used in prediction files and error messages. */
  id: string;
  /** The single text, or the first text of a pair; for multiple choice, the shared context. */
  text: string;
  /** The second text of a pair. */
  textPair?: string;
  /** Multiple choice: the candidate continuations, each paired with `text`. */
  choices?: string[];
  /** Tagging: the words `text` is made of, one tag each. */
  words?: string[];
  /**
   * Gold label; absent on unlabelled splits. Classification and multiple choice: class index; regression: the value;
   * multi-label: the indices of the classes present; tagging: one class index per word.
   */
  label?: number | number[];
}

/** What the task predicts; decides the head layout and its default loss. */
export type HeadSpec =
  | { type: 'classification'; labels: readonly string[] }
  | { type: 'regression'; range?: readonly [number, number] }
  | { type: 'multi-label'; labels: readonly string[] }
  | { type: 'tagging'; labels: readonly string[] }
  | { type: 'multiple-choice'; numChoices: number };

/** Where and how a plugin reads its data. */
export interface TaskDataOptions {
  /** Directory holding the task's files in their original distribution layout. */
  dataDir: string;
  /** Skip malformed lines (counting them) instead of stopping at the first. */
  skipBadLines?: boolean;
  /** Read at most this many examples (for quick runs). */
  maxExamples?: number;
}

/** A model prediction for one example, for metrics and leaderboard files. */
export interface Prediction {
  id: string;
  /** Class index, regression value, class indices (multi-label) or tag indices (tagging). */
  value: number | number[];
}

/**
 * A task: its data, head, loss and metrics. Plugins never touch freezing, optimizers or fusion.
 *
 * @example
 * @injectable()
 * class SentimentTask implements TaskPlugin {
 *   readonly id = 'sentiment';
 *   readonly description = 'Movie review polarity';
 *   readonly head = { type: 'classification', labels: ['negative', 'positive'] } as const;
 *   readonly metrics = ['accuracy'];
 *   readonly splits = ['train', 'dev'];
 *   read(split: string, options: TaskDataOptions) { return readTsv(join(options.dataDir, `${split}.tsv`), …); }
 * }
 */
export interface TaskPlugin {
  /** Unique id used in configs and run directories (lower-case, `[a-z0-9_-]`). */
  readonly id: string;
  /** One line for `--help` listings and reports. */
  readonly description: string;
  readonly head: HeadSpec;
  /** Metric names (see `METRICS`); the first one selects checkpoints and drives early stopping. */
  readonly metrics: readonly string[];
  /** Split names this task can read; `train` and `dev` are the ones training uses. */
  readonly splits: readonly string[];
  /** Streams the examples of one split. Errors name the file, line and field. */
  read(split: string, options: TaskDataOptions): AsyncIterable<Example>;
  /** Replaces the head's default loss (cross-entropy, MSE or binary cross-entropy). */
  loss?(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar;
  /** Writes predictions on an unlabelled split in the format the task's leaderboard expects. */
  formatPredictions?(split: string, predictions: readonly Prediction[]): { fileName: string; content: string };
}
