import { describe, expect, it } from 'vitest';
import { samplingExponent, TaskSampler, type SamplerKind } from '../../src/pipeline/task-sampler';

const SIZES = { big: 9000, mid: 900, small: 100 };

/** Counts how often each task is drawn in `draws` steps of one epoch. */
function frequencies(sampler: TaskSampler, epoch: number, draws: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < draws; i++) {
    const task = sampler.next(epoch);
    counts[task] = (counts[task] ?? 0) + 1;
  }
  return counts;
}

/** p_i = N_i^α / Σ_j N_j^α, written out independently of the implementation. */
function expected(alpha: number): Record<string, number> {
  const total = 9000 ** alpha + 900 ** alpha + 100 ** alpha;
  return { big: 9000 ** alpha / total, mid: 900 ** alpha / total, small: 100 ** alpha / total };
}

describe('samplingExponent', () => {
  it('anneals α from 1 to 0.2 across the epochs', () => {
    expect(samplingExponent('annealed', 0, 5)).toBe(1);
    expect(samplingExponent('annealed', 2, 5)).toBeCloseTo(0.6, 12);
    expect(samplingExponent('annealed', 4, 5)).toBeCloseTo(0.2, 12);
    expect(samplingExponent('annealed', 0, 1)).toBe(1);
    expect(samplingExponent('proportional', 3, 5)).toBe(1);
    expect(samplingExponent('sqrt', 3, 5)).toBe(0.5);
    expect(samplingExponent('round-robin', 3, 5)).toBeUndefined();
  });

  it('refuses an epoch outside the run', () => {
    expect(() => samplingExponent('annealed', 5, 5)).toThrow('epoch must be an integer in [0, 4], got 5');
  });
});

describe('TaskSampler', () => {
  const cases: [SamplerKind, number, number][] = [
    ['proportional', 0, 1],
    ['sqrt', 1, 0.5],
    ['annealed', 0, 1],
    ['annealed', 1, 0.6],
    ['annealed', 2, 0.2],
  ];
  it.each(cases)('%s in epoch %i draws tasks with p ∝ N^%f within 4 standard deviations', (kind, epoch, alpha) => {
    const draws = 20_000;
    const counts = frequencies(new TaskSampler(kind, SIZES, { epochs: 3, seed: 7 }), epoch, draws);
    for (const [task, p] of Object.entries(expected(alpha))) {
      const sd = Math.sqrt(draws * p * (1 - p));
      expect(Math.abs((counts[task] ?? 0) - draws * p), task).toBeLessThan(4 * sd);
    }
  });

  it('reports the probabilities of the formula', () => {
    const probabilities = new TaskSampler('annealed', SIZES, { epochs: 3, seed: 1 }).probabilities(2);
    for (const [task, p] of Object.entries(expected(0.2))) expect(probabilities[task]).toBeCloseTo(p, 12);
  });

  it('visits the tasks in turn with round-robin', () => {
    const sampler = new TaskSampler('round-robin', SIZES, { epochs: 2, seed: 1 });
    expect(Array.from({ length: 7 }, () => sampler.next(1))).toEqual(['big', 'mid', 'small', 'big', 'mid', 'small', 'big']);
  });

  it('repeats its draws for a seed and differs for another seed', () => {
    const draw = (seed: number): string[] => {
      const sampler = new TaskSampler('sqrt', SIZES, { epochs: 1, seed });
      return Array.from({ length: 200 }, () => sampler.next(0));
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });

  it('continues the same sequence after its state is restored', () => {
    for (const kind of ['annealed', 'round-robin'] as const) {
      const original = new TaskSampler(kind, SIZES, { epochs: 2, seed: 9 });
      Array.from({ length: 50 }, () => original.next(0));
      const state = original.getState();
      const expectedNext = Array.from({ length: 50 }, () => original.next(1));
      const resumed = new TaskSampler(kind, SIZES, { epochs: 2, seed: 123 });
      resumed.setState(JSON.parse(JSON.stringify(state)));
      expect(Array.from({ length: 50 }, () => resumed.next(1)), kind).toEqual(expectedNext);
    }
  });

  it('refuses empty tasks and bad sizes with a message naming the task', () => {
    expect(() => new TaskSampler('sqrt', {}, { epochs: 1, seed: 1 })).toThrow('expected at least one task, got none');
    expect(() => new TaskSampler('sqrt', { rte: 0 }, { epochs: 1, seed: 1 })).toThrow(
      'task "rte" needs a positive integer number of training examples, got 0',
    );
    expect(() => new TaskSampler('sqrt', { rte: 5 }, { epochs: 0, seed: 1 })).toThrow('epochs must be an integer ≥ 1, got 0');
  });
});
