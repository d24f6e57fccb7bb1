// AdapterFusion against AdapterHub 1.0.1 (PyTorch): ../shared/conformance/adapterhub-seqbn-fusion (see its README).
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import { AdapterFusion } from '../../fusion/adapter-fusion';
import { AttentionRecorder } from '../../fusion/attention-recorder';
import { BertModel, BottleneckAdapter } from '../../src/index';
import { describeOnBackends } from '../backends';
import { hasShared, sharedPath } from '../shared-fixtures';

const FIXTURE = ['conformance', 'adapterhub-seqbn-fusion'];

interface Expected {
  adapter_names: string[];
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  fusion_calls: {
    last_hidden_state: number[][][];
    pooler_output: number[][];
    hidden_states: number[][][][];
    fusion_attentions: { output_adapter: number[][][][] };
  }[];
  fusion_regularization_loss: number;
}

async function maxDifference(actual: tf.Tensor, expected: unknown): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, tf.tensor(expected as number[])))));
  const value = (await difference.data())[0] as number;
  difference.dispose();
  return value;
}

describeOnBackends('AdapterFusion conformance with AdapterHub (seq_bn adapters a, b, c + dynamic fusion)', !hasShared(...FIXTURE), () => {
  const dir = sharedPath(...FIXTURE);
  // Read before the tests, not while vitest collects them: it runs a skipped suite's body too.
  let expected: Expected;
  beforeAll(() => {
    expected = JSON.parse(readFileSync(sharedPath(...FIXTURE, 'expected.json'), 'utf8')) as Expected;
  });

  async function load() {
    const backbone = await BertModel.fromPretrained(dir);
    const adapters = await Promise.all(expected.adapter_names.map((name) => BottleneckAdapter.load(sharedPath(...FIXTURE, 'adapters', name), backbone)));
    const fusion = await AdapterFusion.load(sharedPath(...FIXTURE, 'fusion'), adapters, backbone);
    return { backbone, adapters, fusion };
  }

  it('reproduces the hidden states, pooler output and fusion attention of Fuse(a,b,c)', async () => {
    const { backbone, fusion } = await load();
    const call = expected.fusion_calls[0] as Expected['fusion_calls'][number];
    const recorder = new AttentionRecorder({ perToken: true });
    const inputs = {
      inputIds: tf.tensor2d(expected.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(expected.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(expected.token_type_ids, undefined, 'int32'),
    };
    const output = backbone.forward(inputs, { hook: fusion.hook({ recorder }), outputHiddenStates: true });
    expect(await maxDifference(output.lastHiddenState, call.last_hidden_state)).toBeLessThan(1e-4);
    expect(await maxDifference(output.pooledOutput, call.pooler_output)).toBeLessThan(1e-4);
    expect(await maxDifference(tf.stack(output.hiddenStates ?? []), call.hidden_states)).toBeLessThan(1e-4);
    const sites = await recorder.take();
    expect(sites.map((site) => [site.layer, site.location])).toEqual([[0, 'output_adapter'], [1, 'output_adapter']]);
    // AdapterHub returns the raw per-token weights, padding included.
    expect(await maxDifference(tf.tensor(sites.map((site) => site.perToken ?? [])), call.fusion_attentions.output_adapter)).toBeLessThan(1e-4);
    // The weights are not uniform: a wrong score (e.g. scaled by 1/sqrt(d)) would show.
    expect(Math.max(...call.fusion_attentions.output_adapter.flat(3))).toBeGreaterThan(0.6);
  });

  it('computes the regularization loss of the loaded fusion', async () => {
    const { fusion } = await load();
    expect(Math.abs(((await fusion.regularizationLoss().data())[0] as number) - expected.fusion_regularization_loss)).toBeLessThan(1e-5);
  });
});
