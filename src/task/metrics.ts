import { IGNORE_INDEX, type HeadSpec } from './task-plugin';

/** A metric: how it is computed and which direction is better. */
export interface Metric {
  /** Computes the metric over aligned predictions and gold values (class indices or real values). */
  compute(predictions: readonly number[], golds: readonly number[]): number;
  /** Whether a larger value is better (used for checkpoint selection and early stopping). */
  higherIsBetter: boolean;
}

function checkAligned(name: string, predictions: readonly number[], golds: readonly number[]): void {
  if (predictions.length !== golds.length) {
    throw new Error(`${name}: expected as many predictions as gold values, got ${predictions.length} predictions and ${golds.length} gold values`);
  }
  if (predictions.length === 0) throw new Error(`${name}: expected at least one prediction, got none`);
}

/** Counts of one class in a confusion matrix. */
interface ClassCounts {
  truePositives: number;
  predicted: number;
  actual: number;
}

function classCounts(predictions: readonly number[], golds: readonly number[]): Map<number, ClassCounts> {
  const counts = new Map<number, ClassCounts>();
  const entry = (label: number): ClassCounts => {
    let found = counts.get(label);
    if (!found) counts.set(label, (found = { truePositives: 0, predicted: 0, actual: 0 }));
    return found;
  };
  predictions.forEach((prediction, i) => {
    const gold = golds[i] as number;
    entry(prediction).predicted++;
    entry(gold).actual++;
    if (prediction === gold) entry(gold).truePositives++;
  });
  return counts;
}

/** F1 of one class; 0 when the class is never predicted or never present (as scikit-learn's zero_division=0). */
function f1Of(counts: ClassCounts | undefined): number {
  if (!counts || counts.predicted + counts.actual === 0) return 0;
  return (2 * counts.truePositives) / (counts.predicted + counts.actual);
}

/** Fraction of exact matches. */
export function accuracy(predictions: readonly number[], golds: readonly number[]): number {
  checkAligned('accuracy', predictions, golds);
  return predictions.filter((prediction, i) => prediction === golds[i]).length / predictions.length;
}

/** Binary F1 with class 1 as the positive class (GLUE's MRPC and QQP). */
export function f1(predictions: readonly number[], golds: readonly number[]): number {
  checkAligned('f1', predictions, golds);
  return f1Of(classCounts(predictions, golds).get(1));
}

/** Unweighted mean of the per-class F1 over every class that occurs in the predictions or the gold values. */
export function macroF1(predictions: readonly number[], golds: readonly number[]): number {
  checkAligned('macro_f1', predictions, golds);
  const counts = [...classCounts(predictions, golds).values()];
  return counts.reduce((sum, c) => sum + f1Of(c), 0) / counts.length;
}

/**
 * Matthews correlation coefficient, multi-class form (Gorodkin 2004, as scikit-learn); 0 when either side is
 * constant, where the coefficient is undefined.
 */
export function matthewsCorrelation(predictions: readonly number[], golds: readonly number[]): number {
  checkAligned('matthews_correlation', predictions, golds);
  const total = predictions.length;
  let correct = 0;
  let predictedSquares = 0;
  let actualSquares = 0;
  let crossProducts = 0;
  for (const c of classCounts(predictions, golds).values()) {
    correct += c.truePositives;
    predictedSquares += c.predicted ** 2;
    actualSquares += c.actual ** 2;
    crossProducts += c.predicted * c.actual;
  }
  const denominator = Math.sqrt((total ** 2 - predictedSquares) * (total ** 2 - actualSquares));
  return denominator === 0 ? 0 : (correct * total - crossProducts) / denominator;
}

/** Pearson's r; 0 when either side is constant, where r is undefined. */
export function pearson(predictions: readonly number[], golds: readonly number[]): number {
  checkAligned('pearson', predictions, golds);
  const n = predictions.length;
  const meanPrediction = predictions.reduce((a, b) => a + b, 0) / n;
  const meanGold = golds.reduce((a, b) => a + b, 0) / n;
  let covariance = 0;
  let predictionVariance = 0;
  let goldVariance = 0;
  predictions.forEach((prediction, i) => {
    const dp = prediction - meanPrediction;
    const dg = (golds[i] as number) - meanGold;
    covariance += dp * dg;
    predictionVariance += dp * dp;
    goldVariance += dg * dg;
  });
  const denominator = Math.sqrt(predictionVariance * goldVariance);
  return denominator === 0 ? 0 : covariance / denominator;
}

/** 1-based ranks; tied values share the average of the ranks they span. */
function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1] as number] === values[order[start] as number]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k] as number] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Spearman's rank correlation: Pearson's r of the average ranks. */
export function spearman(predictions: readonly number[], golds: readonly number[]): number {
  checkAligned('spearman', predictions, golds);
  return pearson(averageRanks(predictions), averageRanks(golds));
}

/**
 * Every metric a task can name in `metrics`, by name.
 *
 * @example
 * METRICS.matthews_correlation.compute([1, 0, 1], [1, 0, 0]); // 0.5
 */
export const METRICS: Readonly<Record<string, Metric>> = {
  accuracy: { compute: accuracy, higherIsBetter: true },
  f1: { compute: f1, higherIsBetter: true },
  macro_f1: { compute: macroF1, higherIsBetter: true },
  matthews_correlation: { compute: matthewsCorrelation, higherIsBetter: true },
  pearson: { compute: pearson, higherIsBetter: true },
  spearman: { compute: spearman, higherIsBetter: true },
};

/** The registered metric called `name`; an unknown name lists the known ones. */
export function metricNamed(name: string): Metric {
  const metric = Object.hasOwn(METRICS, name) ? METRICS[name] : undefined;
  if (!metric) throw new Error(`unknown metric "${name}": expected one of ${Object.keys(METRICS).join(', ')}`);
  return metric;
}

/**
 * Flattens per-example values into the sequences metrics compare. Array values (tagging: one class per word) are
 * compared position by position; gold positions of `IGNORE_INDEX` (-100: sub-tokens, padding) are left out.
 */
function flatten(predictions: readonly (number | number[])[], golds: readonly (number | number[])[]): [number[], number[]] {
  if (predictions.length !== golds.length) {
    throw new Error(`expected as many predictions as gold labels, got ${predictions.length} predictions and ${golds.length} gold labels`);
  }
  const flatPredictions: number[] = [];
  const flatGolds: number[] = [];
  predictions.forEach((prediction, i) => {
    const gold = golds[i] as number | number[];
    const p = Array.isArray(prediction) ? prediction : [prediction];
    const g = Array.isArray(gold) ? gold : [gold];
    if (p.length !== g.length) {
      throw new Error(`example ${i}: expected a prediction of length ${g.length} (as its gold label), got length ${p.length}`);
    }
    g.forEach((value, k) => {
      if (value === IGNORE_INDEX) return;
      flatPredictions.push(p[k] as number);
      flatGolds.push(value);
    });
  });
  return [flatPredictions, flatGolds];
}

/**
 * Computes the named metrics over a split's predictions and gold labels, aligned by position.
 *
 * @example
 * computeMetrics(['f1', 'accuracy'], [1, 0, 1, 1], [1, 0, 0, 1]); // { f1: 0.8, accuracy: 0.75 }
 */
export function computeMetrics(
  names: readonly string[],
  predictions: readonly (number | number[])[],
  golds: readonly (number | number[])[],
): Record<string, number> {
  const metrics = names.map((name) => [name, metricNamed(name)] as const);
  const [flatPredictions, flatGolds] = flatten(predictions, golds);
  return Object.fromEntries(metrics.map(([name, metric]) => [name, metric.compute(flatPredictions, flatGolds)]));
}

/** Predictions of a split, with gold labels where the split has them. */
export interface SplitPredictions {
  ids: string[];
  predictions: (number | number[])[];
  /** Gold labels aligned with `predictions` (undefined on unlabelled splits). */
  golds: ((number | number[]) | undefined)[];
}

/**
 * A prediction and its gold label in the shape `computeMetrics` compares position by position: tagging rows cut to
 * the example's tokens, multi-label index lists as multi-hot vectors.
 */
export function alignForMetrics(head: HeadSpec, prediction: number | number[], gold: number | number[]): [number | number[], number | number[]] {
  if (head.type === 'tagging') return [(prediction as number[]).slice(0, (gold as number[]).length), gold];
  if (head.type === 'multi-label') {
    const hot = (indices: number[]) => head.labels.map((_, i) => (indices.includes(i) ? 1 : 0));
    return [hot(prediction as number[]), hot(gold as number[])];
  }
  return [prediction, gold];
}

/** The metrics of predictions against their gold labels; every example must be labelled. */
export function scorePredictions(spec: HeadSpec, metrics: readonly string[], split: SplitPredictions): Record<string, number> {
  const predictions: (number | number[])[] = [];
  const golds: (number | number[])[] = [];
  split.predictions.forEach((prediction, i) => {
    const gold = split.golds[i];
    if (gold === undefined) throw new Error(`example ${split.ids[i]} has no gold label: metrics need a labelled split`);
    const [p, g] = alignForMetrics(spec, prediction, gold);
    predictions.push(p);
    golds.push(g);
  });
  return computeMetrics(metrics, predictions, golds);
}
