import type * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { encodeExamples, type EncodedExample } from './encode-examples';
import { makeBatches, type Batch } from './make-batches';
import { readTaskSplit } from './read-task-split';
import type { PredictionHead } from '../heads/prediction-head';
import type { TaskPlugin } from '../task/task-plugin';
import type { Tokenizer } from '../tokenizer/tokenizer';

/** A task's data as every training stage uses it: encoded training examples and labelled evaluation batches. */
export interface TaskData {
  train: EncodedExample[];
  dev: EncodedExample[];
  devBatches: Batch[];
}

/** Where a stage reads a task's data from and how it encodes it. */
export interface TaskDataRequest {
  dataDir: string;
  maxExamples?: number | undefined;
  skipBadLines?: boolean | undefined;
  maxLength: number;
  /** Evaluation batch size. */
  batchSize: number;
  seed: number;
  trainSplit?: string;
  devSplit?: string;
  /** The stage, named in the error when the evaluation split has no labels (`extraction`, `fusion`, `MT-A`). */
  stage: string;
}

/**
 * Reads and encodes a task's training and evaluation splits; refuses an unlabelled evaluation split, since every
 * stage selects its weights on it.
 */
export async function loadTaskData(plugin: TaskPlugin, tokenizer: Tokenizer, request: TaskDataRequest): Promise<TaskData> {
  const { dataDir, maxExamples, skipBadLines, maxLength, trainSplit = 'train', devSplit = 'dev' } = request;
  const read = async (split: string): Promise<EncodedExample[]> => {
    const examples = await readTaskSplit(plugin, split, {
      dataDir,
      ...(maxExamples === undefined ? {} : { maxExamples }),
      ...(skipBadLines === undefined ? {} : { skipBadLines }),
    });
    return encodeExamples(examples, tokenizer, plugin.head, maxLength);
  };
  const train = await read(trainSplit);
  const dev = await read(devSplit);
  const devBatches = makeBatches(dev, { batchSize: request.batchSize, shuffle: false, seed: request.seed, padTokenId: tokenizer.padTokenId });
  if (devBatches.some((batch) => !batch.labels)) {
    throw new Error(`task "${plugin.id}": the ${devSplit} split in ${dataDir} has no labels; ${request.stage} selects weights on labelled ${devSplit} data`);
  }
  return { train, dev, devBatches };
}

/** sha256 of JSON values one after the other: a fingerprint of examples or of a configuration. */
export function fingerprintOf(values: Iterable<unknown>): string {
  const hash = createHash('sha256');
  for (const value of values) hash.update(`${JSON.stringify(value)}\n`);
  return hash.digest('hex');
}

/**
 * What a stage's checkpoints record so that a resume over other data or another configuration is refused
 * (`TrainerOptions.fingerprint`): the encoded training and evaluation examples and the stage's configuration.
 * `task` names the task in the keys when a stage trains several.
 */
export function trainingFingerprint(data: Pick<TaskData, 'train' | 'dev'>, configuration: unknown, task?: string): Record<string, string> {
  const suffix = task === undefined ? '' : ` of ${task}`;
  return {
    [`training data${suffix}`]: fingerprintOf(data.train),
    [`evaluation data${suffix}`]: fingerprintOf(data.dev),
    configuration: fingerprintOf([configuration]),
  };
}

/** The task's loss: the plugin's own when it has one, else its head's. */
export function taskLoss(plugin: TaskPlugin, head: PredictionHead): (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar {
  return plugin.loss?.bind(plugin) ?? ((logits, labels) => head.loss(logits, labels));
}
