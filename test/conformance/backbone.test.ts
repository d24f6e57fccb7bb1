// The encoder against reference outputs of Hugging Face BERT (PyTorch) on the same checkpoint, and the loader against
// converted and damaged copies of it.
import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BertModel, type BertOutput } from '../../src/backbone/bert-model';
import { readSafetensors, SafetensorsError, writeSafetensors, type SafetensorsWriteDtype } from '../../src/io/safetensors';
import { WeightMismatchError } from '../../src/io/weights';
import { describeOnBackends } from '../backends';
import { hasShared, sharedPath } from '../shared-fixtures';

const FIXTURE = ['conformance', 'adapterhub-seqbn-fusion'];

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  base_only: { last_hidden_state: number[][][]; pooler_output: number[][]; hidden_states: number[][][][] };
}

/** Largest absolute difference between a tensor and nested reference values of the same shape. */
async function maxAbsDiff(actual: tf.Tensor, expected: unknown): Promise<number> {
  const reference = tf.tensor(expected as number[]);
  expect(actual.shape).toEqual(reference.shape);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, reference))));
  const value = (await diff.data())[0] ?? NaN;
  tf.dispose([reference, diff]);
  return value;
}

describeOnBackends('BERT encoder conformance (adapterhub-seqbn-fusion, base_only)', !hasShared(...FIXTURE), () => {
  const fixtureDir = sharedPath(...FIXTURE);
  const work = mkdtempSync(join(tmpdir(), 'af-backbone-'));
  let expected: Expected;
  let inputs: { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; tokenTypeIds: tf.Tensor2D };

  beforeAll(() => {
    expected = JSON.parse(readFileSync(join(fixtureDir, 'expected.json'), 'utf8')) as Expected;
    inputs = {
      inputIds: tf.tensor2d(expected.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(expected.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(expected.token_type_ids, undefined, 'int32'),
    };
  });
  afterAll(() => tf.dispose(inputs));

  /** Max abs differences of the three outputs from the reference. */
  async function compare(output: BertOutput): Promise<{ last: number; pooled: number; hidden: number }> {
    const hiddenStates = output.hiddenStates ?? [];
    expect(hiddenStates).toHaveLength(3);
    const hidden = Math.max(...(await Promise.all(hiddenStates.map((state, i) => maxAbsDiff(state, expected.base_only.hidden_states[i])))));
    return {
      last: await maxAbsDiff(output.lastHiddenState, expected.base_only.last_hidden_state),
      pooled: await maxAbsDiff(output.pooledOutput, expected.base_only.pooler_output),
      hidden,
    };
  }

  /** The fixture checkpoint rewritten with another dtype (and optionally a tensor dropped) in a fresh directory. */
  function convertedCopy(name: string, dtype: SafetensorsWriteDtype, drop?: string): string {
    const dir = join(work, name);
    mkdirSync(dir);
    copyFileSync(join(fixtureDir, 'config.json'), join(dir, 'config.json'));
    const { tensors } = readSafetensors(join(fixtureDir, 'model.safetensors'));
    const kept = Object.fromEntries([...tensors].filter(([tensor]) => tensor !== drop).map(([tensor, { shape, values }]) => [tensor, { shape, values }]));
    writeSafetensors(join(dir, 'model.safetensors'), kept, { format: 'pt' }, { dtype });
    return dir;
  }

  async function outputsOf(dir: string): Promise<{ last: number; pooled: number; hidden: number }> {
    const model = await BertModel.fromPretrained(dir);
    const output = model.forward(inputs, { outputHiddenStates: true });
    const diffs = await compare(output);
    tf.dispose([output.lastHiddenState, output.pooledOutput, ...(output.hiddenStates ?? [])]);
    model.dispose();
    return diffs;
  }

  it('reproduces last_hidden_state, pooler_output and hidden_states within 1e-4', async () => {
    const diffs = await outputsOf(fixtureDir);
    console.info(`backbone conformance max abs diff: ${JSON.stringify(diffs)}`);
    expect(diffs.last).toBeLessThan(1e-4);
    expect(diffs.pooled).toBeLessThan(1e-4);
    expect(diffs.hidden).toBeLessThan(1e-4);
  });

  it('loads the checkpoint converted to F16 and to BF16 and agrees within 1e-2 / 5e-2', async () => {
    const half = await outputsOf(convertedCopy('f16', 'F16'));
    console.info(`F16 max abs diff: ${JSON.stringify(half)}`);
    expect(Math.max(half.last, half.pooled, half.hidden)).toBeLessThan(1e-2);
    // bfloat16 keeps 8 significant bits (relative error 2^-9 per weight), which two layers amplify to a few 1e-2.
    const bfloat = await outputsOf(convertedCopy('bf16', 'BF16'));
    console.info(`BF16 max abs diff: ${JSON.stringify(bfloat)}`);
    expect(Math.max(bfloat.last, bfloat.pooled, bfloat.hidden)).toBeLessThan(5e-2);
    expect(Math.max(bfloat.last, bfloat.pooled, bfloat.hidden)).toBeGreaterThan(half.last);
  });

  it('refuses a truncated weight file, naming the file and the tensor cut off', async () => {
    const dir = convertedCopy('truncated', 'F32');
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const error = await BertModel.fromPretrained(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SafetensorsError);
    // Tensors are stored in name order, so the last 100 bytes belong to the pooler weight.
    expect((error as SafetensorsError).message).toBe(`${file}: tensor "pooler.dense.weight": data_offsets [92544, 96640] run past the end of the data area (96540 bytes); the file is truncated`);
  });

  it('refuses a header whose offsets point past the end of the file, naming the tensor', async () => {
    const dir = convertedCopy('offset', 'F32');
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as Record<string, { data_offsets: [number, number] }>;
    const target = header['encoder.layer.0.output.dense.bias'];
    if (!target) throw new Error('fixture layout changed');
    target.data_offsets = [target.data_offsets[0] + 1_000_000, target.data_offsets[1] + 1_000_000];
    const json = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(file, Buffer.concat([length, json, bytes.subarray(8 + headerLength)]));
    await expect(BertModel.fromPretrained(dir)).rejects.toThrow(`${file}: tensor "encoder.layer.0.output.dense.bias": data_offsets`);
  });

  it('refuses a checkpoint missing one weight, naming the file and the weight', async () => {
    const dir = convertedCopy('missing', 'F32', 'encoder.layer.1.attention.self.key.weight');
    const error = await BertModel.fromPretrained(dir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WeightMismatchError);
    expect((error as Error).message).toBe(
      `${join(dir, 'model.safetensors')}: weights do not match the model (1 missing, 0 unexpected, 0 of the wrong shape):\n` +
        '  missing: encoder.layer.1.attention.self.key.weight [32, 32]',
    );
  });
});
