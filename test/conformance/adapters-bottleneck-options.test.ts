// Loads AdapterHub bottleneck adapters with ln_before / ln_after, gating, learned scaling and parallel wiring, and
// checks the forward pass against AdapterHub's own outputs and the saved files against AdapterHub's layout.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateAdapterConfig } from '../../src/adapters/adapter-config';
import { adapterInputs } from '../../src/adapters/adapter-inputs';
import { BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import type { SublayerHook } from '../../src/backbone/sublayer-hook';
import { BertModel } from '../../src/backbone/bert-model';
import { readSafetensors } from '../../src/io/safetensors';
import { linear } from '../../src/ops/linear';
import { hasShared, sharedPath } from '../shared-fixtures';

const FIXTURE = ['conformance', 'adapterhub-delta-methods'] as const;

interface Outputs {
  last_hidden_state: number[][][];
  pooler_output: number[][];
  hidden_states: number[][][][];
  gate_values?: { output_adapter: number[][] };
}

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  base_only: Outputs;
  methods: Record<string, { adapter_dir: string; config: Record<string, unknown>; outputs: Outputs }>;
}

function maxDifference(actual: unknown, expected: unknown): number {
  const a = [actual].flat(4) as number[];
  const e = [expected].flat(4) as number[];
  expect(a.length).toBe(e.length);
  return Math.max(...a.map((v, i) => Math.abs(v - (e[i] ?? NaN))));
}

describe.skipIf(!hasShared(...FIXTURE))('AdapterHub bottleneck options (adapterhub-delta-methods fixture)', () => {
  const expected = (): Expected => JSON.parse(readFileSync(sharedPath(...FIXTURE, 'expected.json'), 'utf8')) as Expected;

  it.each(['seqbn_ln', 'seqbn_gate', 'seqbn_learned', 'parbn'])('%s: reproduces every hidden state, the pooler output and the gates within 1e-4', async (name) => {
    const fixture = expected();
    const method = fixture.methods[name];
    if (!method) throw new Error(`expected.json has no method ${name}`);
    const backbone = await BertModel.fromPretrained(sharedPath(...FIXTURE));
    const adapter = await BottleneckAdapter.load(sharedPath(...FIXTURE, method.adapter_dir), backbone);
    const inputs = {
      inputIds: tf.tensor2d(fixture.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(fixture.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(fixture.token_type_ids, undefined, 'int32'),
    };
    // The gate of each layer, from the adapter's input and its gate weights, as AdapterHub reports it.
    const gates: number[][] = [];
    const own = adapter.hook();
    const recording: SublayerHook = Object.assign((sublayer: Parameters<SublayerHook>[0]) => {
      const gate = adapter.hasModule(sublayer.layer, sublayer.location) ? adapter.moduleWeights(sublayer.layer, sublayer.location).gate : undefined;
      if (gate) {
        const { input } = adapterInputs(adapter.config, sublayer);
        gates.push(tf.tidy(() => tf.mean(tf.sigmoid(linear(input, gate.weight as tf.Tensor2D, gate.bias as tf.Tensor1D)), [1, 2]).arraySync() as number[]));
        input.dispose();
      }
      return own(sublayer);
    }, { needsEveryPosition: own.needsEveryPosition ?? false });

    // firstTokenOnly as training uses it: a gated adapter needs every position, so the backbone computes them all.
    const output = backbone.forward(inputs, { hook: recording, outputHiddenStates: true, firstTokenOnly: name === 'seqbn_gate' });
    const reference = method.outputs;
    expect(maxDifference(output.lastHiddenState.arraySync(), reference.last_hidden_state)).toBeLessThan(1e-4);
    expect(maxDifference(output.pooledOutput.arraySync(), reference.pooler_output)).toBeLessThan(1e-4);
    expect(maxDifference(output.hiddenStates?.map((h) => h.arraySync()), reference.hidden_states)).toBeLessThan(1e-4);
    if (reference.gate_values) expect(maxDifference(gates, reference.gate_values.output_adapter)).toBeLessThan(1e-4);
    else expect(gates).toEqual([]);
    // The adapter changes the output: the comparison would fail for the backbone alone.
    expect(maxDifference(reference.last_hidden_state, fixture.base_only.last_hidden_state)).toBeGreaterThan(1e-2);

    // Saved, it has AdapterHub's configuration, tensor names (LayerNorm aliases included) and shapes.
    const dir = mkdtempSync(join(tmpdir(), 'bottleneck-options-'));
    await adapter.save(dir);
    const saved = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(saved.config).toEqual(method.config);
    const shapes = (file: string, prefix = '') => new Map([...readSafetensors(file).tensors].map(([tensor, entry]) => [tensor.slice(prefix.length), entry.shape]));
    expect(shapes(join(dir, 'adapter.safetensors'), 'bert.')).toEqual(shapes(sharedPath(...FIXTURE, method.adapter_dir, 'adapter.safetensors')));
    const again = await BottleneckAdapter.load(dir, backbone);
    for (const [weight, variable] of adapter.variables) expect(maxDifference(again.variables.variable(weight).arraySync(), variable.arraySync()), weight).toBe(0);

    tf.dispose([output.lastHiddenState, output.pooledOutput, ...(output.hiddenStates ?? []), ...Object.values(inputs)]);
    again.dispose();
    adapter.dispose();
    backbone.dispose();
  });

  it('the par_bn preset is AdapterHub\'s ParBnConfig', () => {
    const parbn = expected().methods.parbn;
    expect(validateAdapterConfig({ preset: 'par_bn', reductionFactor: 4 }).toAdapterHub()).toEqual(parbn?.config);
  });
});
