import { describe, expect, it } from 'vitest';
import { checkWeights, stripPrefix, WeightMismatchError } from '../../src/io/weights';

describe('checkWeights', () => {
  const expected = new Map([
    ['a.weight', [4, 2]],
    ['a.bias', [4]],
    ['b.weight', [3, 3]],
  ]);

  it('accepts exactly the expected names and shapes, in any order', () => {
    expect(() => checkWeights('w.safetensors', expected, new Map([['b.weight', [3, 3]], ['a.bias', [4]], ['a.weight', [4, 2]]]))).not.toThrow();
  });

  it('lists every missing, unexpected and mis-shaped weight at once', () => {
    const found = new Map([
      ['a.weight', [2, 4]],
      ['b.weight', [3, 3]],
      ['c.bias', [5]],
    ]);
    let error: unknown;
    try {
      checkWeights('dir/w.safetensors', expected, found);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(WeightMismatchError);
    const mismatch = error as WeightMismatchError;
    expect(mismatch.missing).toEqual([{ name: 'a.bias', expected: [4] }]);
    expect(mismatch.unexpected).toEqual([{ name: 'c.bias', got: [5] }]);
    expect(mismatch.mismatched).toEqual([{ name: 'a.weight', expected: [4, 2], got: [2, 4] }]);
    expect(mismatch.message).toBe(
      'dir/w.safetensors: weights do not match the model (1 missing, 1 unexpected, 1 of the wrong shape):\n' +
        '  missing: a.bias [4]\n  unexpected: c.bias [5]\n  wrong shape: a.weight: expected [4, 2], got [2, 4]',
    );
  });

  it('treats a different rank as a shape mismatch', () => {
    expect(() => checkWeights('w', new Map([['x', [4]]]), new Map([['x', [4, 1]]]))).toThrow('wrong shape: x: expected [4], got [4, 1]');
  });
});

describe('stripPrefix', () => {
  it('strips the first matching prefix and keeps other names', () => {
    expect(stripPrefix(['bert.pooler.dense.bias', 'roberta.embeddings.x', 'cls.predictions.bias'], ['bert.', 'roberta.'])).toEqual(
      new Map([
        ['pooler.dense.bias', 'bert.pooler.dense.bias'],
        ['embeddings.x', 'roberta.embeddings.x'],
        ['cls.predictions.bias', 'cls.predictions.bias'],
      ]),
    );
  });

  it('refuses a weight named both with and without the prefix', () => {
    expect(() => stripPrefix(['pooler.dense.bias', 'bert.pooler.dense.bias'], ['bert.'])).toThrow(
      'weights "pooler.dense.bias" and "bert.pooler.dense.bias" both name "pooler.dense.bias"',
    );
  });
});
