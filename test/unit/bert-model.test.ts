import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BertConfig } from '../../src/backbone/bert-config';
import { BertModel, type BertInputs, type BertOutput } from '../../src/backbone/bert-model';
import type { Sublayer } from '../../src/backbone/sublayer-hook';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { tinyBert } from '../tiny-bert';

/** The shared tiny BERT, with dropout (some tests check where it applies) and 16 positions. */
const TINY = tinyBert({ hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1, maxPositionEmbeddings: 16 });

const models: BertModel[] = [];
function tiny(config: Partial<BertConfig> = {}, seed = 7): BertModel {
  const model = BertModel.random({ ...TINY, ...config }, seed);
  models.push(model);
  return model;
}
afterAll(() => models.forEach((model) => model.dispose()));

function batch(ids: number[][], mask = ids.map((row) => row.map(() => 1)), types?: number[][]): BertInputs {
  return {
    inputIds: tf.tensor2d(ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(mask, undefined, 'int32'),
    ...(types ? { tokenTypeIds: tf.tensor2d(types, undefined, 'int32') } : {}),
  };
}

function release(output: BertOutput, inputs?: BertInputs): void {
  tf.dispose([output.lastHiddenState, output.pooledOutput, ...(output.hiddenStates ?? [])]);
  if (inputs) tf.dispose([inputs.inputIds, inputs.attentionMask, ...(inputs.tokenTypeIds ? [inputs.tokenTypeIds] : [])]);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] ?? NaN);
}

const tmp = mkdtempSync(join(tmpdir(), 'af-bert-'));

describe('BertModel', () => {
  it('returns (B, T, D) states, a (B, D) pooled output and L + 1 hidden states', () => {
    const model = tiny();
    const inputs = batch([[2, 5, 9, 3, 0], [2, 7, 3, 0, 0]], [[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], [[0, 0, 1, 1, 0], [0, 0, 0, 0, 0]]);
    const output = model.forward(inputs, { outputHiddenStates: true });
    expect(output.lastHiddenState.shape).toEqual([2, 5, 32]);
    expect(output.pooledOutput.shape).toEqual([2, 32]);
    expect(output.hiddenStates?.map((state) => state.shape)).toEqual([[2, 5, 32], [2, 5, 32], [2, 5, 32]]);
    expect(maxAbsDiff(output.hiddenStates?.[2] as tf.Tensor, output.lastHiddenState)).toBe(0);
    expect(model.forward(inputs).hiddenStates).toBeUndefined();
    release(output, inputs);
  });

  it('initialises like Hugging Face, repeatably from the seed, and counts its parameters', () => {
    const model = tiny();
    const same = tiny();
    const other = tiny({}, 8);
    const weight = (m: BertModel, name: string): tf.Variable => m.weights.get(name) as tf.Variable;
    const query = weight(model, 'encoder.layer.0.attention.self.query.weight');
    expect(maxAbsDiff(query, weight(same, 'encoder.layer.0.attention.self.query.weight'))).toBe(0);
    expect(maxAbsDiff(query, weight(other, 'encoder.layer.0.attention.self.query.weight'))).toBeGreaterThan(0);
    const std = tf.tidy(() => tf.sqrt(tf.moments(weight(model, 'embeddings.word_embeddings.weight')).variance).dataSync()[0] ?? NaN);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(weight(model, 'embeddings.word_embeddings.weight').dataSync().slice(0, 32).every((v) => v === 0)).toBe(true); // padding row
    expect(new Set(weight(model, 'encoder.layer.1.output.LayerNorm.weight').dataSync())).toEqual(new Set([1]));
    expect(new Set(weight(model, 'encoder.layer.1.intermediate.dense.bias').dataSync())).toEqual(new Set([0]));
    expect(weight(model, 'encoder.layer.1.intermediate.dense.weight').shape).toEqual([32, 64]); // [in, out]
    // embeddings (50 + 16 + 2)·32 + 2·32; per layer 4·(32·32 + 32) + 2·2·32 + (32·64 + 64) + (64·32 + 32); pooler 32·32 + 32
    expect(model.parameterCount()).toBe(68 * 32 + 64 + 2 * (4 * 1056 + 128 + 2112 + 2080) + 1056);
    expect(model.checkpointHash).toBeUndefined();
    expect(model.config.initializerRange).toBe(0.02);
    const wide = tiny({ initializerRange: 0.2 });
    const wideStd = tf.tidy(() => tf.sqrt(tf.moments(weight(wide, 'encoder.layer.0.output.dense.weight')).variance).dataSync()[0] ?? NaN);
    expect(wideStd).toBeGreaterThan(0.18);
    expect(wideStd).toBeLessThan(0.22);
  });

  it('calls the hook at 2·L insertion points with h, x and the mask, and uses its result', () => {
    const model = tiny();
    const inputs = batch([[2, 5, 9, 3], [2, 7, 3, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]]);
    const plain = model.forward(inputs, { outputHiddenStates: true });
    const calls: { layer: number; location: string; h: number[]; x: number[]; mask: number[][]; training: boolean; xFirst: number }[] = [];
    const keepDefault = model.forward(inputs, {
      hook: (sublayer: Sublayer) => {
        calls.push({
          layer: sublayer.layer,
          location: sublayer.location,
          h: sublayer.h.shape,
          x: sublayer.x.shape,
          mask: sublayer.attentionMask.arraySync(),
          training: sublayer.training,
          xFirst: sublayer.x.dataSync()[0] ?? NaN,
        });
        return undefined;
      },
    });
    expect(calls.map((c) => `${c.layer}:${c.location}`)).toEqual(['0:mh_adapter', '0:output_adapter', '1:mh_adapter', '1:output_adapter']);
    for (const call of calls) {
      expect(call.h).toEqual([2, 4, 32]);
      expect(call.x).toEqual([2, 4, 32]);
      expect(call.mask).toEqual([[1, 1, 1, 1], [1, 1, 1, 0]]);
      expect(call.training).toBe(false);
    }
    // The attention sublayer's input is the previous layer's output (the embeddings for layer 0).
    expect(calls[0]?.xFirst).toBe(plain.hiddenStates?.[0]?.dataSync()[0]);
    expect(calls[2]?.xFirst).toBe(plain.hiddenStates?.[1]?.dataSync()[0]);
    expect(maxAbsDiff(keepDefault.lastHiddenState, plain.lastHiddenState)).toBe(0);

    // Returning the default explicitly changes nothing; skipping the feed-forward changes the output.
    const explicit = model.forward(inputs, { hook: (s) => s.layerNorm(tf.add(s.h, s.x)) });
    expect(maxAbsDiff(explicit.lastHiddenState, plain.lastHiddenState)).toBeLessThan(1e-6);
    const skipped = model.forward(inputs, { hook: (s) => (s.location === 'output_adapter' ? s.x : undefined) });
    expect(maxAbsDiff(skipped.lastHiddenState, plain.lastHiddenState)).toBeGreaterThan(0.01);
    [plain, keepDefault, explicit, skipped].forEach((output) => release(output));
    release(plain, inputs);
  });

  it('with firstTokenOnly computes the first token of the last layer past attention: same rows, pooled output and gradients', () => {
    const model = tiny();
    const inputs = batch([[2, 5, 9, 3], [2, 7, 3, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]]);
    const seen: string[] = [];
    const hook = (s: Sublayer) => {
      seen.push(`${s.layer}:${s.location} h${s.h.shape.join('x')} x${s.x.shape.join('x')} mask${JSON.stringify(s.attentionMask.arraySync())}`);
      return undefined;
    };
    const full = model.forward(inputs);
    const first = model.forward(inputs, { firstTokenOnly: true, hook, outputHiddenStates: true });
    expect(first.lastHiddenState.shape).toEqual([2, 1, 32]);
    expect(first.hiddenStates?.map((state) => state.shape)).toEqual([[2, 4, 32], [2, 4, 32], [2, 1, 32]]);
    expect(maxAbsDiff(first.lastHiddenState, tf.slice(full.lastHiddenState, 0, [-1, 1]))).toBeLessThan(1e-6);
    expect(maxAbsDiff(first.pooledOutput, full.pooledOutput)).toBeLessThan(1e-6);
    // Earlier layers and the last layer's attention see every token; past it the hook gets the first row and its mask.
    expect(seen).toEqual([
      '0:mh_adapter h2x4x32 x2x4x32 mask[[1,1,1,1],[1,1,1,0]]',
      '0:output_adapter h2x4x32 x2x4x32 mask[[1,1,1,1],[1,1,1,0]]',
      '1:mh_adapter h2x1x32 x2x1x32 mask[[1],[1]]',
      '1:output_adapter h2x1x32 x2x1x32 mask[[1],[1]]',
    ]);
    const weights = ['encoder.layer.0.attention.self.query.weight', 'encoder.layer.1.attention.self.key.weight', 'encoder.layer.1.intermediate.dense.weight'];
    const gradients = (firstTokenOnly: boolean) => {
      const variables = weights.map((name) => model.weights.get(name) as tf.Variable);
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(model.forward(inputs, { firstTokenOnly }).pooledOutput)), variables);
      value.dispose();
      return variables.map((variable) => grads[variable.name] as tf.Tensor);
    };
    const [expected, actual] = [gradients(false), gradients(true)];
    expected.forEach((gradient, i) => {
      const scale = maxAbsDiff(gradient, tf.zerosLike(gradient));
      expect(scale).toBeGreaterThan(1e-6);
      expect(maxAbsDiff(actual[i] as tf.Tensor, gradient)).toBeLessThan(1e-4 * scale);
    });
    tf.dispose([...expected, ...actual]);
    release(full);
    release(first, inputs);
  });

  it('keeps padding out of attention: real tokens match the unpadded sequence', () => {
    const model = tiny();
    const short = batch([[2, 11, 12, 3]]);
    const padded = batch([[2, 11, 12, 3, 0, 0]], [[1, 1, 1, 1, 0, 0]]);
    const a = model.forward(short);
    const b = model.forward(padded);
    const real = tf.slice(b.lastHiddenState, [0, 0, 0], [1, 4, 32]);
    expect(maxAbsDiff(a.lastHiddenState, real)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.pooledOutput, b.pooledOutput)).toBeLessThan(1e-5);
    real.dispose();
    release(a, short);
    release(b, padded);
  });

  /** LN(word + position + type) computed by hand, for the given position ids. */
  function embeddingsByHand(model: BertModel, ids: number[][], positions: number[][]): tf.Tensor {
    return tf.tidy(() => {
      const get = (name: string): tf.Tensor2D => model.weights.get(`embeddings.${name}.weight`) as tf.Tensor2D;
      const sum = tf.addN([
        tf.gather(get('word_embeddings'), tf.tensor2d(ids, undefined, 'int32')),
        tf.gather(get('position_embeddings'), tf.tensor2d(positions, undefined, 'int32')),
        tf.gather(get('token_type_embeddings'), tf.zeros([ids.length, ids[0]?.length ?? 0], 'int32')),
      ]);
      const { mean, variance } = tf.moments(sum, -1, true);
      return tf.div(tf.sub(sum, mean), tf.sqrt(tf.add(variance, 1e-12))); // LayerNorm weight 1, bias 0 at initialisation
    });
  }

  it('numbers RoBERTa positions from padding_idx + 1, skipping padding, and BERT positions from 0', () => {
    const ids = [[0, 5, 1, 6, 1], [0, 7, 8, 2, 1]]; // RoBERTa: <s>=0, </s>=2, <pad>=1
    const roberta = tiny({ modelType: 'roberta', padTokenId: 1, typeVocabSize: 1, maxPositionEmbeddings: 10 });
    const inputs = batch(ids, [[1, 1, 0, 1, 0], [1, 1, 1, 1, 0]]);
    const output = roberta.forward(inputs, { outputHiddenStates: true });
    const expected = embeddingsByHand(roberta, ids, [[2, 3, 1, 4, 1], [2, 3, 4, 5, 1]]);
    expect(maxAbsDiff(output.hiddenStates?.[0] as tf.Tensor, expected)).toBeLessThan(1e-5);
    // The padding position embedding starts at zero, as in Hugging Face.
    const padding = tf.tidy(() => tf.slice(roberta.weights.get('embeddings.position_embeddings.weight') as tf.Variable, [1, 0], [1, 32]).dataSync());
    expect(padding.every((v) => v === 0)).toBe(true);
    expect(() => roberta.forward(batch([[0, 5, 6, 7, 8, 9, 10, 11, 2]]))).toThrow('sequence length 9 exceeds the 8 positions this model has');

    const bert = tiny();
    const bertInputs = batch(ids);
    const bertOutput = bert.forward(bertInputs, { outputHiddenStates: true });
    const bertExpected = embeddingsByHand(bert, ids, [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]);
    expect(maxAbsDiff(bertOutput.hiddenStates?.[0] as tf.Tensor, bertExpected)).toBeLessThan(1e-5);
    tf.dispose([expected, bertExpected]);
    release(output, inputs);
    release(bertOutput, bertInputs);
  });

  it('applies dropout only in training, repeatably with a seed', () => {
    const model = tiny();
    const inputs = batch([[2, 5, 9, 3]]);
    const evaluation = model.forward(inputs);
    const first = model.forward(inputs, { training: true, dropoutSeed: 3 });
    const again = model.forward(inputs, { training: true, dropoutSeed: 3 });
    const other = model.forward(inputs, { training: true, dropoutSeed: 4 });
    expect(maxAbsDiff(first.lastHiddenState, again.lastHiddenState)).toBe(0);
    // Hooks draw their dropout seeds from the same generator: repeatable with a seed, their own without one.
    const hookSeeds = (dropoutSeed?: number) => {
      const seeds: (number | undefined)[] = [];
      release(model.forward(inputs, { training: true, ...(dropoutSeed === undefined ? {} : { dropoutSeed }), hook: (sublayer) => void seeds.push(sublayer.nextDropoutSeed()) }));
      return seeds;
    };
    const seeded = hookSeeds(3);
    expect(seeded).toHaveLength(4);
    expect(seeded.every((seed) => Number.isInteger(seed))).toBe(true);
    expect(new Set(seeded).size).toBe(4);
    expect(hookSeeds(3)).toEqual(seeded);
    expect(hookSeeds()).toEqual([undefined, undefined, undefined, undefined]);
    expect(maxAbsDiff(first.lastHiddenState, evaluation.lastHiddenState)).toBeGreaterThan(0.01);
    expect(maxAbsDiff(first.lastHiddenState, other.lastHiddenState)).toBeGreaterThan(0.01);
    [evaluation, first, again].forEach((output) => release(output));
    release(other, inputs);
  });

  it('differentiates the embeddings on every backend, summing repeated ids (checked by finite differences)', () => {
    const model = tiny({ hiddenDropoutProb: 0, attentionProbsDropoutProb: 0 });
    const inputs = batch([[2, 9, 9, 3]]);
    const words = model.weights.get('embeddings.word_embeddings.weight') as tf.Variable;
    const probe = tf.randomNormal([1, 4, 32], 0, 1, 'float32', 5);
    const loss = (): tf.Scalar => tf.tidy(() => {
      const output = model.forward(inputs);
      return tf.sum(tf.mul(output.lastHiddenState, probe));
    });
    const { grads, value } = tf.variableGrads(loss, [words]);
    const gradient = (grads[words.name] as tf.Tensor).arraySync() as number[][];
    expect(gradient[5]?.every((g) => g === 0)).toBe(true); // id 5 is not in the batch
    const epsilon = 1e-2;
    const original = words.arraySync() as number[][];
    const lossAt = (delta: number): number => {
      const nudged = original.map((row, i) => (i === 9 ? row.map((v, j) => (j === 4 ? v + delta : v)) : row));
      words.assign(tf.tensor2d(nudged));
      return tf.tidy(() => loss().dataSync()[0] ?? NaN);
    };
    const numeric = (lossAt(epsilon) - lossAt(-epsilon)) / (2 * epsilon);
    words.assign(tf.tensor2d(original));
    // Within 1% (float32 central differences); counting only one of the two occurrences of id 9 would be far off.
    expect(Math.abs((gradient[9]?.[4] ?? NaN) - numeric)).toBeLessThan(0.01 * Math.abs(numeric));
    expect(Math.abs(numeric)).toBeGreaterThan(1);
    tf.dispose([probe, value, ...Object.values(grads)]);
    tf.dispose([inputs.inputIds, inputs.attentionMask]);
  });

  it('leaks no tensors across forward passes and training steps', () => {
    const model = tiny();
    const inputs = batch([[2, 5, 9, 3], [2, 7, 3, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]]);
    const trainable = [...model.weights.values()];
    const step = (): void => {
      release(model.forward(inputs, { outputHiddenStates: true }));
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean<tf.Scalar>(model.forward(inputs, { training: true }).lastHiddenState)), trainable);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([inputs.inputIds, inputs.attentionMask]);
  });
});

describe('BertModel checkpoints', () => {
  it('round-trips through save and fromPretrained, with the file hash', async () => {
    const model = tiny({ modelType: 'roberta', padTokenId: 1, typeVocabSize: 1, hiddenAct: 'gelu_new' });
    const dir = join(tmp, 'saved');
    await model.save(dir);
    const file = join(dir, 'model.safetensors');
    expect(model.checkpointHash).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'roberta', architectures: ['RobertaModel'], hidden_size: 32, hidden_act: 'gelu_new', pad_token_id: 1, type_vocab_size: 1 });
    const stored = readSafetensors(file).tensors;
    expect(stored.get('encoder.layer.0.intermediate.dense.weight')?.shape).toEqual([64, 32]); // [out, in] on disk
    const loaded = await BertModel.fromPretrained(dir);
    models.push(loaded);
    expect(loaded.config).toEqual(model.config);
    expect(loaded.checkpointHash).toBe(model.checkpointHash);
    expect([...loaded.weights.keys()]).toEqual([...model.weights.keys()]);
    const inputs = batch([[0, 5, 9, 2, 1]], [[1, 1, 1, 1, 0]]);
    const a = model.forward(inputs);
    const b = loaded.forward(inputs);
    expect(maxAbsDiff(a.lastHiddenState, b.lastHiddenState)).toBe(0);
    release(a);
    release(b, inputs);
  });

  it('accepts a prefixed, sharded checkpoint, ignoring pretraining-head weights in a debug line', async () => {
    const model = tiny();
    const source = join(tmp, 'plain');
    await model.save(source);
    const tensors = [...readSafetensors(join(source, 'model.safetensors')).tensors].map(([name, { shape, values }]) => [`bert.${name}`, { shape, values }] as const);
    const dir = join(tmp, 'sharded');
    const half = Math.floor(tensors.length / 2);
    const shards = { 'model-00001-of-00002.safetensors': tensors.slice(0, half), 'model-00002-of-00002.safetensors': [...tensors.slice(half), ['cls.predictions.bias', { shape: [50], values: new Float32Array(50) }] as const] };
    const weightMap: Record<string, string> = {};
    for (const [shard, entries] of Object.entries(shards)) {
      writeSafetensors(join(dir, shard), Object.fromEntries(entries));
      for (const [name] of entries) weightMap[name] = shard;
    }
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    writeFileSync(join(dir, 'config.json'), readFileSync(join(source, 'config.json')));
    const debug: string[] = [];
    const loaded = await BertModel.fromPretrained(dir, { debug: (line) => debug.push(line) });
    models.push(loaded);
    expect(debug).toEqual([`${join(dir, 'model.safetensors.index.json')}: ignored 1 weights the encoder does not use: cls.predictions.bias`]);
    const hash = createHash('sha256');
    for (const shard of Object.keys(shards)) hash.update(readFileSync(join(dir, shard)));
    expect(loaded.checkpointHash).toBe(hash.digest('hex'));
    for (const [name, variable] of model.weights) expect(maxAbsDiff(variable, loaded.weights.get(name) as tf.Variable)).toBe(0);
  });

  it('initialises a missing pooler with a warning, as Hugging Face does', async () => {
    const model = tiny();
    const source = join(tmp, 'for-pooler');
    await model.save(source);
    const dir = join(tmp, 'no-pooler');
    const tensors = [...readSafetensors(join(source, 'model.safetensors')).tensors].filter(([name]) => !name.startsWith('pooler.'));
    writeSafetensors(join(dir, 'model.safetensors'), Object.fromEntries(tensors.map(([name, { shape, values }]) => [name, { shape, values }])));
    writeFileSync(join(dir, 'config.json'), readFileSync(join(source, 'config.json')));
    const warnings: string[] = [];
    const loaded = await BertModel.fromPretrained(dir, { warn: (line) => warnings.push(line) });
    models.push(loaded);
    expect(warnings).toEqual([`${dir}: the checkpoint has no pooler weights; initialised them randomly (pooledOutput is untrained until fine-tuned)`]);
    expect(loaded.weights.get('pooler.dense.weight')?.shape).toEqual([32, 32]);
    expect([...loaded.weights.keys()]).toEqual([...model.weights.keys()]);
  });

  it('says which file to provide when a directory has no safetensors weights', async () => {
    const dir = join(tmp, 'empty');
    writeFileSync(join(tmp, 'placeholder'), '');
    await expect(BertModel.fromPretrained(tmp)).rejects.toThrow(`${join(tmp, 'config.json')}: cannot read the model configuration`);
    await tiny().save(dir);
    writeFileSync(join(dir, 'model.safetensors'), '');
    await expect(BertModel.fromPretrained(dir)).rejects.toThrow(`${join(dir, 'model.safetensors')}: expected at least 8 bytes`);
  });
});
