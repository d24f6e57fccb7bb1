import * as tf from '@tensorflow/tfjs-core';
import { IGNORE_INDEX } from '../task/task-plugin';

/**
 * Mean softmax cross-entropy over every row whose label is not `IGNORE_INDEX` (PyTorch `CrossEntropyLoss`):
 * `mean(logsumexp(logits) − logits[label])`. Logits `(..., C)`, labels int `(...)`. Returns 0 when every label is
 * ignored.
 *
 * @example
 * const loss = tf.tidy(() => crossEntropyLoss(tf.tensor2d([[2, 0]]), tf.tensor1d([0], 'int32'))); // 0.1269
 */
export function crossEntropyLoss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1] ?? 1;
    const flatLogits = tf.reshape(logits, [-1, classes]); // (N, C)
    const flatLabels = tf.cast(tf.reshape(labels, [-1]), 'int32'); // (N)
    const kept = tf.notEqual(flatLabels, IGNORE_INDEX); // (N)
    const safeLabels = tf.where(kept, flatLabels, tf.zerosLike(flatLabels)); // (N)
    const picked = tf.sum(tf.mul(tf.oneHot(safeLabels, classes), tf.logSoftmax(flatLogits)), -1); // (N)
    const weights = tf.cast(kept, 'float32'); // (N)
    return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.maximum(tf.sum(weights), 1));
  });
}

/** Mean squared error between flattened predictions and targets (PyTorch `MSELoss`). */
export function meanSquaredErrorLoss(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(tf.reshape(predictions, [-1]), tf.cast(tf.reshape(targets, [-1]), 'float32')))));
}

/**
 * Mean binary cross-entropy on logits against 0/1 targets of the same shape (PyTorch `BCEWithLogitsLoss`), in the
 * overflow-free form `max(x, 0) − x·y + log(1 + exp(−|x|))`.
 */
export function binaryCrossEntropyWithLogitsLoss(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const y = tf.cast(targets, 'float32');
    return tf.mean(tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))));
  });
}
