import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors';
import { normalInit, onesInit, WeightStore, withoutPrefix, zerosInit, type WeightDefinition } from '../../src/io/weight-store';
import { WeightMismatchError } from '../../src/io/weights';

/** A Linear layer 3 → 2 and a LayerNorm gain, as a model part would define them. */
function definitions(seed = 7): Map<string, WeightDefinition> {
  return new Map<string, WeightDefinition>([
    ['dense.weight', { shape: [3, 2], init: normalInit(0.02, seed), kernel: true }],
    ['dense.bias', { shape: [2], init: zerosInit }],
    ['norm.weight', { shape: [2], init: onesInit, trainable: false }],
  ]);
}

const tensor = (shape: number[], values: number[]) => ({ shape, values: Float32Array.from(values) });

describe('WeightStore', () => {
  it('creates every weight from its initialiser, in definition order, with its trainable flag', () => {
    const store = WeightStore.create('layer', definitions());
    expect([...store.keys()]).toEqual(['dense.weight', 'dense.bias', 'norm.weight']);
    expect(store.variable('dense.weight').shape).toEqual([3, 2]);
    expect(Array.from(store.variable('dense.weight').dataSync())).toEqual(Array.from(tf.tidy(() => tf.randomNormal([3, 2], 0, 0.02, 'float32', 7)).dataSync()));
    expect(Array.from(store.variable('dense.bias').dataSync())).toEqual([0, 0]);
    expect(Array.from(store.variable('norm.weight').dataSync())).toEqual([1, 1]);
    expect([...store.values()].map((variable) => variable.trainable)).toEqual([true, true, false]);
    expect(store.parameterCount()).toBe(10);
    expect(store.fileShapes()).toEqual(new Map([['dense.weight', [2, 3]], ['dense.bias', [2]], ['norm.weight', [2]]]));
    expect(() => store.variable('dense.kernel')).toThrow('layer has no weight "dense.kernel"');
    store.dispose();
  });

  it('refuses an initialiser whose shape is not the defined one', () => {
    const before = tf.memory().numTensors;
    expect(() => WeightStore.create('layer', new Map([['w', { shape: [2, 3], init: () => tf.zeros([3, 2]) }]]))).toThrow('layer: the initialiser of "w" made shape [3, 2], expected [2, 3]');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saves kernels [out, in] under a prefix and loads them back [in, out], value for value', async () => {
    const store = WeightStore.create('layer', definitions());
    store.variable('dense.weight').assign(tf.tensor2d([[1, 2], [3, 4], [5, 6]])); // (in 3, out 2)
    const file = join(mkdtempSync(join(tmpdir(), 'weight-store-')), 'w.safetensors');
    await store.save(file, { prefix: 'bert.', metadata: { format: 'pt' } });

    const content = readSafetensors(file);
    expect(content.metadata).toEqual({ format: 'pt' });
    expect([...content.tensors.keys()]).toEqual(['bert.dense.weight', 'bert.dense.bias', 'bert.norm.weight']);
    expect(content.tensors.get('bert.dense.weight')).toMatchObject({ shape: [2, 3], values: Float32Array.from([1, 3, 5, 2, 4, 6]) });

    const loaded = WeightStore.load('layer', definitions(99), file, withoutPrefix(content.tensors, ['bert.']));
    expect(loaded.variable('dense.weight').arraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(Array.from(loaded.variable('norm.weight').dataSync())).toEqual([1, 1]);
    expect(loaded.variable('norm.weight').trainable).toBe(false);
    store.dispose();
    loaded.dispose();
  });

  it('lists every missing, unexpected and misshapen tensor, in file layout, and creates nothing', () => {
    const before = tf.memory().numTensors;
    const file = new Map([
      ['dense.weight', tensor([3, 2], [1, 2, 3, 4, 5, 6])],
      ['dense.bias', tensor([2], [0, 0])],
      ['extra', tensor([1], [0])],
    ]);
    let error: unknown;
    try {
      WeightStore.load('layer', definitions(), 'w.safetensors', file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(WeightMismatchError);
    expect((error as Error).message).toBe(
      'w.safetensors: weights do not match the model (1 missing, 1 unexpected, 1 of the wrong shape):\n' +
        '  missing: norm.weight [2]\n  unexpected: extra [1]\n  wrong shape: dense.weight: expected [2, 3], got [3, 2]',
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('initialises the weights named in initializeMissing when the file lacks them, and only then', () => {
    const file = new Map([
      ['dense.weight', tensor([2, 3], [1, 2, 3, 4, 5, 6])],
      ['dense.bias', tensor([2], [7, 8])],
    ]);
    const loaded = WeightStore.load('layer', definitions(), 'w', file, { initializeMissing: ['norm.weight'] });
    expect(loaded.variable('dense.weight').arraySync()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(Array.from(loaded.variable('norm.weight').dataSync())).toEqual([1, 1]);
    loaded.dispose();
    const complete = new Map([...file, ['norm.weight', tensor([2], [3, 4])]]);
    const given = WeightStore.load('layer', definitions(), 'w', complete, { initializeMissing: ['norm.weight'] });
    expect(Array.from(given.variable('norm.weight').dataSync())).toEqual([3, 4]);
    given.dispose();
  });

  it('combines parts under prefixes, sharing their variables, and assigns a file to all of them', () => {
    const parts = [WeightStore.create('a', definitions(1)), WeightStore.create('b', definitions(2))];
    const combined = WeightStore.combine('both', [['site.0', parts[0] as WeightStore], ['site.1', parts[1] as WeightStore]]);
    expect([...combined.keys()]).toEqual(['site.0.dense.weight', 'site.0.dense.bias', 'site.0.norm.weight', 'site.1.dense.weight', 'site.1.dense.bias', 'site.1.norm.weight']);
    expect(combined.get('site.1.dense.bias')).toBe(parts[1]?.get('dense.bias'));
    expect(combined.parameterCount()).toBe(20);

    const file = new Map([...combined.fileShapes()].map(([name, shape]) => [name, tensor(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i))]));
    combined.assign('w', file);
    expect(parts[0]?.variable('dense.weight').arraySync()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(Array.from(parts[1]?.variable('norm.weight').dataSync() ?? [])).toEqual([0, 1]);

    const before = Array.from(parts[0]?.variable('dense.bias').dataSync() ?? []);
    file.delete('site.0.norm.weight');
    file.set('site.0.dense.bias', tensor([2], [9, 9]));
    expect(() => combined.assign('w', file)).toThrow('missing: site.0.norm.weight [2]');
    expect(Array.from(parts[0]?.variable('dense.bias').dataSync() ?? [])).toEqual(before);
    combined.dispose();
  });

  it('writes a weight under its aliases too, expects them all in a file and reads its own name', async () => {
    const aliased = new Map<string, WeightDefinition>([['norm.weight', { shape: [2], init: onesInit, aliases: ['seq.0.weight'] }]]);
    const store = WeightStore.create('layer', aliased);
    expect(store.fileShapes()).toEqual(new Map([['norm.weight', [2]], ['seq.0.weight', [2]]]));
    const file = join(mkdtempSync(join(tmpdir(), 'weight-store-')), 'w.safetensors');
    await store.save(file);
    expect([...readSafetensors(file).tensors].map(([name, entry]) => [name, Array.from(entry.values)])).toEqual([['norm.weight', [1, 1]], ['seq.0.weight', [1, 1]]]);
    expect(() => WeightStore.load('layer', aliased, 'w', new Map([['norm.weight', tensor([2], [3, 4])]]))).toThrow('missing: seq.0.weight [2]');
    const loaded = WeightStore.load('layer', aliased, 'w', new Map([['norm.weight', tensor([2], [3, 4])], ['seq.0.weight', tensor([2], [3, 4])]]));
    expect(loaded.size).toBe(1);
    expect(Array.from(loaded.variable('norm.weight').dataSync())).toEqual([3, 4]);
    const combined = WeightStore.combine('both', [['site', loaded]]);
    expect([...combined.fileShapes().keys()]).toEqual(['site.norm.weight', 'site.seq.0.weight']);
    store.dispose();
    loaded.dispose();
  });

  it('reads as a map of its variables and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    const store = WeightStore.create('layer', definitions());
    expect(new Map(store).size).toBe(3);
    const seen: string[] = [];
    store.forEach((variable, name) => seen.push(`${name} ${variable.shape.join('x')}`));
    expect(seen).toEqual(['dense.weight 3x2', 'dense.bias 2', 'norm.weight 2']);
    store.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('withoutPrefix', () => {
  it('strips the first matching prefix and refuses a name given twice', () => {
    expect([...withoutPrefix(new Map([['bert.a', 1], ['b', 2]]), ['bert.']).entries()]).toEqual([['a', 1], ['b', 2]]);
    expect(() => withoutPrefix(new Map([['bert.a', 1], ['a', 2]]), ['bert.'])).toThrow('weights "bert.a" and "a" both name "a"');
  });
});
