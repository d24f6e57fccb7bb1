import * as tf from '@tensorflow/tfjs-core';
import { IGNORE_INDEX, type HeadSpec } from '../task/task-plugin';
import type { Batch } from './make-batches';

/** A batch as tensors; the caller disposes them (`tf.dispose(Object.values(tensors))`). */
export interface BatchTensors {
  /** int32 (R, T): R = B rows, or B×numChoices for multiple choice. */
  inputIds: tf.Tensor2D;
  /** int32 (R, T). */
  tokenTypeIds: tf.Tensor2D;
  /** int32 (R, T): 1 on tokens, 0 on padding. */
  attentionMask: tf.Tensor2D;
  /**
   * Classification and multiple choice: int32 (B) class or choice index; regression: float32 (B); multi-label: float32
   * (B, L) multi-hot; tagging: int32 (B, T) with `IGNORE_INDEX` off the first sub-tokens and on padding.
   */
  labels?: tf.Tensor;
}

function matrix(rows: readonly (readonly number[])[]): tf.Tensor2D {
  const width = rows[0]?.length ?? 0;
  return tf.tensor2d(Int32Array.from(rows.flat()), [rows.length, width], 'int32'); // (R, T)
}

function labelTensor(labels: readonly (number | number[])[], head: HeadSpec, width: number): tf.Tensor {
  const scalars = (): number[] => labels.map((label) => label as number);
  switch (head.type) {
    case 'classification':
    case 'multiple-choice':
      return tf.tensor1d(scalars(), 'int32'); // (B)
    case 'regression':
      return tf.tensor1d(scalars(), 'float32'); // (B)
    case 'multi-label': {
      const hot = new Float32Array(labels.length * head.labels.length);
      labels.forEach((label, b) => (label as number[]).forEach((index) => (hot[b * head.labels.length + index] = 1)));
      return tf.tensor2d(hot, [labels.length, head.labels.length]); // (B, L)
    }
    case 'tagging':
      return matrix(labels.map((label) => [...(label as number[]), ...new Array<number>(width - (label as number[]).length).fill(IGNORE_INDEX)])); // (B, T)
  }
}

/**
 * Turns a batch into int32 input tensors and a label tensor shaped for the head's loss.
 *
 * @example
 * const tensors = batchToTensors(batch, plugin.head);
 * try { ... } finally { tf.dispose(Object.values(tensors)); }
 */
export function batchToTensors(batch: Batch, head: HeadSpec): BatchTensors {
  const tensors: BatchTensors = {
    inputIds: matrix(batch.inputIds),
    tokenTypeIds: matrix(batch.tokenTypeIds),
    attentionMask: matrix(batch.attentionMask),
  };
  if (batch.labels) tensors.labels = labelTensor(batch.labels, head, tensors.inputIds.shape[1]);
  return tensors;
}
