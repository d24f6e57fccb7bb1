import type { HeadSpec, Prediction } from '../task/task-plugin';

/** A leaderboard file: its conventional name and its content. */
export interface PredictionFile {
  fileName: string;
  content: string;
}

/** The value a leaderboard expects: the label string for classification, the number (3 decimals) for regression. */
function labelText(head: HeadSpec, prediction: Prediction): string {
  const { id, value } = prediction;
  if (head.type === 'regression') {
    if (typeof value !== 'number') throw new Error(`prediction for example ${id}: expected a number, got ${JSON.stringify(value)}`);
    return value.toFixed(3);
  }
  if (head.type !== 'classification') throw new Error(`leaderboard files hold classification or regression predictions, got a ${head.type} head`);
  const label = typeof value === 'number' ? head.labels[value] : undefined;
  if (label === undefined) throw new Error(`prediction for example ${id}: expected a class index below ${head.labels.length}, got ${JSON.stringify(value)}`);
  return label;
}

/**
 * GLUE's submission format: `<TASK>.tsv` with a header `index\tprediction`, one line per example of the test file
 * (its `index` as id), labels as strings (`entailment`, `1`) or regression values.
 *
 * @example
 * gluePredictionFile('RTE.tsv', head, [{ id: '0', value: 1 }]).content; // 'index\tprediction\n0\tnot_entailment\n'
 */
export function gluePredictionFile(fileName: string, head: HeadSpec, predictions: readonly Prediction[]): PredictionFile {
  const lines = predictions.map((prediction) => `${prediction.id}\t${labelText(head, prediction)}`);
  return { fileName, content: ['index\tprediction', ...lines].join('\n') + '\n' };
}

/**
 * SuperGLUE's submission format: `<Task>.jsonl` with one `{"idx": ..., "label": ...}` per line; numeric ids are
 * written as numbers, labels as strings (`entailment`, `true`).
 *
 * @example
 * superGluePredictionFile('CB.jsonl', head, [{ id: '0', value: 1 }]).content; // '{"idx":0,"label":"contradiction"}\n'
 */
export function superGluePredictionFile(fileName: string, head: HeadSpec, predictions: readonly Prediction[]): PredictionFile {
  const lines = predictions.map((prediction) => {
    const idx = /^\d+$/.test(prediction.id) ? Number(prediction.id) : prediction.id;
    return JSON.stringify({ idx, label: labelText(head, prediction) });
  });
  return { fileName, content: lines.map((line) => `${line}\n`).join('') };
}
