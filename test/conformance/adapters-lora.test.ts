// Loads AdapterHub LoRA and (IA)³ modules and checks the forward pass, the merged weights and the saved files against
// AdapterHub's own outputs and layout.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoraModule } from '../../src/adapters/lora';
import { BertModel } from '../../src/backbone/bert-model';
import { readSafetensors } from '../../src/io/safetensors';
import { hasShared, sharedPath } from '../shared-fixtures';

const FIXTURE = ['conformance', 'adapterhub-delta-methods'] as const;

interface Outputs {
  last_hidden_state: number[][][];
  pooler_output: number[][];
  hidden_states?: number[][][][];
}

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  base_only: Outputs;
  methods: Record<string, { adapter_dir: string; config: Record<string, unknown>; outputs: Outputs; merged: Outputs }>;
}

function maxDifference(actual: unknown, expected: unknown): number {
  const a = [actual].flat(4) as number[];
  const e = [expected].flat(4) as number[];
  expect(a.length).toBe(e.length);
  return Math.max(...a.map((v, i) => Math.abs(v - (e[i] ?? NaN))));
}

describe.skipIf(!hasShared(...FIXTURE))('AdapterHub LoRA and (IA)³ (adapterhub-delta-methods fixture)', () => {
  const expected = (): Expected => JSON.parse(readFileSync(sharedPath(...FIXTURE, 'expected.json'), 'utf8')) as Expected;
  const inputsOf = (fixture: Expected) => ({
    inputIds: tf.tensor2d(fixture.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(fixture.attention_mask, undefined, 'int32'),
    tokenTypeIds: tf.tensor2d(fixture.token_type_ids, undefined, 'int32'),
  });

  it.each(['lora_qv', 'lora_all', 'ia3'])('%s: reproduces every hidden state and the pooler output within 1e-4; merged equals unmerged; saves AdapterHub\'s layout', async (name) => {
    const fixture = expected();
    const method = fixture.methods[name];
    if (!method) throw new Error(`expected.json has no method ${name}`);
    const backbone = await BertModel.fromPretrained(sharedPath(...FIXTURE));
    const lora = LoraModule.load(sharedPath(...FIXTURE, method.adapter_dir), backbone);
    // Written by adapters 1.0.1, which ignored alpha / r: read as AdapterHub 1.1+ reads it, alpha := r.
    expect(lora.config.alpha).toBe(lora.config.r);
    const inputs = inputsOf(fixture);
    const output = backbone.forward(inputs, { hook: lora.hook(), outputHiddenStates: true });
    expect(maxDifference(output.lastHiddenState.arraySync(), method.outputs.last_hidden_state)).toBeLessThan(1e-4);
    expect(maxDifference(output.pooledOutput.arraySync(), method.outputs.pooler_output)).toBeLessThan(1e-4);
    expect(maxDifference(output.hiddenStates?.map((h) => h.arraySync()), method.outputs.hidden_states)).toBeLessThan(1e-4);
    expect(maxDifference(method.outputs.last_hidden_state, fixture.base_only.last_hidden_state)).toBeGreaterThan(1e-2);

    // Merged into the kernels, the plain backbone computes the same; unmerged, its weights are the original bits.
    const before = new Map([...backbone.weights].map(([weight, v]) => [weight, v.dataSync().slice()]));
    lora.merge(backbone);
    const merged = backbone.forward(inputs, { hook: lora.hook() });
    expect(maxDifference(merged.lastHiddenState.arraySync(), output.lastHiddenState.arraySync())).toBeLessThan(1e-5);
    lora.unmerge();
    for (const [weight, v] of backbone.weights) expect(Array.from(v.dataSync()), weight).toEqual(Array.from(before.get(weight) ?? []));

    // Saved: AdapterHub's configuration (alpha now r) and tensor names and shapes, read back bit for bit.
    const dir = mkdtempSync(join(tmpdir(), 'lora-'));
    await lora.save(dir);
    const saved = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as { config: Record<string, unknown> };
    expect(saved.config).toEqual({ ...method.config, alpha: method.config.r });
    const shapes = (file: string, prefix = '') => new Map([...readSafetensors(file).tensors].map(([tensor, entry]) => [tensor.slice(prefix.length), entry.shape]));
    expect(shapes(join(dir, 'adapter.safetensors'), 'bert.')).toEqual(shapes(sharedPath(...FIXTURE, method.adapter_dir, 'adapter.safetensors')));
    const again = LoraModule.load(dir, backbone);
    expect(again.config.alpha).toBe(lora.config.alpha);
    for (const [weight, variable] of lora.variables) expect(maxDifference(again.variables.variable(weight).arraySync(), variable.arraySync()), weight).toBe(0);

    tf.dispose([output.lastHiddenState, output.pooledOutput, ...(output.hiddenStates ?? []), merged.lastHiddenState, merged.pooledOutput, ...Object.values(inputs)]);
    again.dispose();
    lora.dispose();
    backbone.dispose();
  });

  it.each(['lora_qv', 'lora_all'])('%s: with its file\'s alpha applied (alpha / r = 2), forward and merge give adapters 1.0.1\'s merged outputs', async (name) => {
    const fixture = expected();
    const method = fixture.methods[name];
    if (!method) throw new Error(`expected.json has no method ${name}`);
    const backbone = await BertModel.fromPretrained(sharedPath(...FIXTURE));
    const lora = LoraModule.load(sharedPath(...FIXTURE, method.adapter_dir), backbone);
    lora.config.alpha = method.config.alpha as number;
    const inputs = inputsOf(fixture);
    const unmerged = backbone.forward(inputs, { hook: lora.hook() });
    expect(maxDifference(unmerged.lastHiddenState.arraySync(), method.merged.last_hidden_state)).toBeLessThan(1e-4);
    expect(maxDifference(unmerged.pooledOutput.arraySync(), method.merged.pooler_output)).toBeLessThan(1e-4);
    lora.merge(backbone);
    const merged = backbone.forward(inputs);
    expect(maxDifference(merged.lastHiddenState.arraySync(), method.merged.last_hidden_state)).toBeLessThan(1e-4);
    expect(maxDifference(method.merged.last_hidden_state, method.outputs.last_hidden_state)).toBeGreaterThan(1e-2);
    lora.unmerge();
    tf.dispose([unmerged.lastHiddenState, unmerged.pooledOutput, merged.lastHiddenState, merged.pooledOutput, ...Object.values(inputs)]);
    lora.dispose();
    backbone.dispose();
  });
});
