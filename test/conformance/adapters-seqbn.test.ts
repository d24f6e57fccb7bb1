// Loads AdapterHub SeqBn adapters and checks the forward pass against AdapterHub's own outputs (float32, PyTorch).
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import { BertModel } from '../../src/backbone/bert-model';
import { describeOnBackends } from '../backends';
import { hasShared, sharedPath } from '../shared-fixtures';

const FIXTURE = ['conformance', 'adapterhub-seqbn-fusion'] as const;

interface Outputs {
  last_hidden_state: number[][][];
  pooler_output: number[][];
  hidden_states: number[][][][];
}

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  base_only: Outputs;
  adapters_only: Record<string, Outputs>;
}

function maxDifference(actual: unknown, expected: unknown): number {
  const a = [actual].flat(4) as number[];
  const e = [expected].flat(4) as number[];
  expect(a.length).toBe(e.length);
  return Math.max(...a.map((v, i) => Math.abs(v - (e[i] ?? NaN))));
}

describeOnBackends('AdapterHub SeqBn adapters (adapterhub-seqbn-fusion fixture)', !hasShared(...FIXTURE), () => {
  const expected = (): Expected => JSON.parse(readFileSync(sharedPath(...FIXTURE, 'expected.json'), 'utf8')) as Expected;

  it('reproduces adapters_only.{a,b,c}: last_hidden_state, pooler_output and every hidden state within 1e-4', async () => {
    const fixture = expected();
    const backbone = await BertModel.fromPretrained(sharedPath(...FIXTURE));
    const inputs = {
      inputIds: tf.tensor2d(fixture.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(fixture.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(fixture.token_type_ids, undefined, 'int32'),
    };
    for (const name of ['a', 'b', 'c']) {
      const adapter = await BottleneckAdapter.load(sharedPath(...FIXTURE, 'adapters', name), backbone);
      const output = backbone.forward(inputs, { hook: adapter.hook(), outputHiddenStates: true });
      const reference = fixture.adapters_only[name] as Outputs;
      expect(maxDifference(await output.lastHiddenState.array(), reference.last_hidden_state)).toBeLessThan(1e-4);
      expect(maxDifference(await output.pooledOutput.array(), reference.pooler_output)).toBeLessThan(1e-4);
      expect(maxDifference(await Promise.all((output.hiddenStates ?? []).map((h) => h.array())), reference.hidden_states)).toBeLessThan(1e-4);
      // The adapter changes the output: the comparison would fail for the backbone alone.
      expect(maxDifference(reference.last_hidden_state, fixture.base_only.last_hidden_state)).toBeGreaterThan(1e-2);
      tf.dispose([output.lastHiddenState, output.pooledOutput, ...(output.hiddenStates ?? [])]);
      adapter.dispose();
    }
    tf.dispose(Object.values(inputs));
    backbone.dispose();
  });
});
