// Expected values are worked out by hand in the comments (and agree with scikit-learn / SciPy).
import { describe, expect, it } from 'vitest';
import { accuracy, computeMetrics, f1, macroF1, matthewsCorrelation, METRICS, metricNamed, pearson, spearman } from '../../src/index';

describe('classification metrics', () => {
  const predictions = [1, 0, 1, 1];
  const golds = [1, 0, 0, 1]; // TP 2, TN 1, FP 1, FN 0

  it('accuracy: matches over examples', () => {
    expect(accuracy(predictions, golds)).toBe(0.75);
  });

  it('f1: binary, positive class 1', () => {
    expect(f1(predictions, golds)).toBeCloseTo((2 * 2) / (2 * 2 + 1 + 0), 12); // 0.8
    expect(f1([0, 0], [1, 0])).toBe(0); // class 1 never predicted
  });

  it('macro_f1: unweighted mean over classes', () => {
    // class 0: F1 1; class 1: TP 1, 2 predicted, 2 actual: 0.5; class 2: likewise 0.5.
    expect(macroF1([0, 1, 2, 2, 1, 0], [0, 1, 1, 2, 2, 0])).toBeCloseTo(2 / 3, 12);
  });

  it('matthews_correlation: binary equals (TP·TN − FP·FN)/√((TP+FP)(TP+FN)(TN+FP)(TN+FN))', () => {
    expect(matthewsCorrelation(predictions, golds)).toBeCloseTo(2 / Math.sqrt(3 * 2 * 2 * 1), 12); // 0.57735
    // For 0/1 values it is Pearson's r of the two vectors.
    expect(matthewsCorrelation(predictions, golds)).toBeCloseTo(pearson(predictions, golds), 12);
  });

  it('matthews_correlation: multi-class and degenerate cases', () => {
    // c = 5 correct of s = 6; predicted counts 2,1,3; true counts 2,2,2:
    // (5·6 − 12) / √((36 − 14)(36 − 12)) = 18 / √528
    expect(matthewsCorrelation([0, 0, 1, 2, 2, 2], [0, 0, 1, 1, 2, 2])).toBeCloseTo(18 / Math.sqrt(528), 12);
    expect(matthewsCorrelation([1, 1, 1], [0, 1, 0])).toBe(0); // constant predictions
    expect(matthewsCorrelation([0, 1, 0, 1], [1, 0, 1, 0])).toBeCloseTo(-1, 12);
  });
});

describe('regression metrics', () => {
  const predictions = [1, 2, 3, 4, 5];
  const golds = [2, 4, 5, 4, 5];

  it("pearson: covariance over the product of deviations", () => {
    // deviations (−2..2) and (−2, 0, 1, 0, 1): 6 / √(10·6)
    expect(pearson(predictions, golds)).toBeCloseTo(6 / Math.sqrt(60), 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBe(0);
  });

  it('spearman: Pearson of ranks, ties sharing their average rank', () => {
    // gold ranks 1, 2.5, 4.5, 2.5, 4.5: 7 / √(10·9) = 0.7378647873726218 (scipy.stats.spearmanr)
    expect(spearman(predictions, golds)).toBeCloseTo(0.7378647873726218, 12);
    expect(spearman([10, 20, 30], [1, 5, 100])).toBeCloseTo(1, 12); // monotone, not linear
  });
});

describe('registry and computeMetrics', () => {
  it('registers every metric, all higher-is-better', () => {
    expect(Object.keys(METRICS).sort()).toEqual(['accuracy', 'f1', 'macro_f1', 'matthews_correlation', 'pearson', 'spearman']);
    expect(Object.values(METRICS).every((metric) => metric.higherIsBetter)).toBe(true);
  });

  it('computes the named metrics', () => {
    expect(computeMetrics(['f1', 'accuracy'], [1, 0, 1, 1], [1, 0, 0, 1])).toEqual({ f1: expect.closeTo(0.8, 12), accuracy: 0.75 });
  });

  it('compares per-word predictions position by position, leaving out ignored (-100) positions', () => {
    expect(computeMetrics(['accuracy'], [[1, 2, 0], [0]], [[1, -100, 1], [0]])).toEqual({ accuracy: 2 / 3 });
    expect(() => computeMetrics(['accuracy'], [[1, 2]], [[1, 2, 0]])).toThrow('example 0: expected a prediction of length 3 (as its gold label), got length 2');
  });

  it('refuses unknown names, misaligned inputs and empty inputs', () => {
    expect(() => metricNamed('bleu')).toThrow('unknown metric "bleu": expected one of accuracy, f1, macro_f1, matthews_correlation, pearson, spearman');
    expect(() => metricNamed('toString')).toThrow('unknown metric "toString"');
    expect(() => computeMetrics(['accuracy'], [1], [1, 0])).toThrow('expected as many predictions as gold labels, got 1 predictions and 2 gold labels');
    expect(() => accuracy([], [])).toThrow('accuracy: expected at least one prediction, got none');
  });
});
