// A complete third-party task plugin: made-up movie one-liners, negative or positive, read from data/ beside this file.
// In your own project, import from 'adapterfusion' instead of the relative path to the sources.
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import {
  gluePredictionFile,
  injectable,
  readExamples,
  taskModule,
  type ColumnMapping,
  type Example,
  type HeadSpec,
  type Prediction,
  type PredictionFile,
  type TaskDataOptions,
  type TaskPlugin,
} from '../../../src/index';

const LABELS = ['negative', 'positive'];

/** The data shipped with the example: `train.tsv`, `dev.tsv` (columns id, review, sentiment) and unlabelled `test.tsv`. */
export const SENTIMENT_DATA_DIR = join(__dirname, 'data');

/**
 * Sentiment of a one-line movie review: two classes, accuracy and macro-F1, cross-entropy with label smoothing.
 *
 * @example
 * // adapterfusion.yaml
 * // modules: [./sentiment-task.js]
 * // tasks: [{ id: sentiment, dataDir: ./data }]
 */
@injectable()
export class SentimentTask implements TaskPlugin {
  readonly id = 'sentiment';
  readonly description = 'Made-up one-line movie reviews: negative or positive';
  readonly head: HeadSpec = { type: 'classification', labels: LABELS };
  /** The first metric picks the best checkpoint and drives early stopping. */
  readonly metrics = ['accuracy', 'macro_f1'];
  readonly splits = ['train', 'dev', 'test'];

  read(split: string, options: TaskDataOptions): AsyncIterable<Example> {
    const columns: ColumnMapping = { id: 'id', text: 'review' };
    if (split !== 'test') columns.label = 'sentiment';
    // Passing `options` on keeps the user's skipBadLines choice.
    return readExamples(join(options.dataDir, `${split}.tsv`), this.head, columns, options);
  }

  /** Cross-entropy against targets smoothed by 0.1 ([0.95, 0.05] for class 0), mean over the batch. */
  loss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const targets = tf.oneHot(labels, LABELS.length); // (B, 2)
      return tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(targets, logits, undefined, 0.1);
    });
  }

  /** Our made-up leaderboard takes GLUE's format: `index\tprediction` with label names. */
  formatPredictions(split: string, predictions: readonly Prediction[]): PredictionFile {
    return gluePredictionFile(`sentiment-${split}.tsv`, this.head, predictions);
  }
}

export default taskModule(SentimentTask);
