import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdapterFusion, FUSION_CONFIG_FILE, FusionAdapterMismatchError } from '../../fusion/adapter-fusion';
import { AttentionRecorder } from '../../fusion/attention-recorder';
import { FUSION_PRESETS } from '../../fusion/fusion-options';
import { adapterInputs, adapterOutput, BottleneckAdapter, readSafetensors, validateAdapterConfig, type Sublayer, type SublayerLocation } from '../../src/index';

const backbone = { config: { modelType: 'bert', hiddenSize: 32, numHiddenLayers: 2, attentionProbsDropoutProb: 0.1 } };
const [B, T, D] = [2, 5, 32];

/** An adapter with weights large enough to make its output matter. */
function adapter(name: string, preset: 'seq_bn' | 'double_seq_bn', reductionFactor: number, seed: number): BottleneckAdapter {
  const created = BottleneckAdapter.create(name, validateAdapterConfig({ preset, reductionFactor }), backbone, seed);
  let i = 0;
  for (const variable of created.variables.values()) variable.assign(tf.randomNormal(variable.shape, 0, 0.3, 'float32', seed * 100 + i++));
  return created;
}

/** A sublayer as the backbone would pass it, with a simple LayerNorm and one padded position. */
function sublayer(layer: number, location: SublayerLocation, seed = 1): Sublayer {
  return {
    layer,
    location,
    h: tf.randomNormal<tf.Rank.R3>([B, T, D], 0, 1, 'float32', seed),
    x: tf.randomNormal<tf.Rank.R3>([B, T, D], 0, 1, 'float32', seed + 1),
    layerNorm: (input, residual) => tf.tidy(() => {
      const sum = residual ? tf.add(input, residual) : input;
      const { mean, variance } = tf.moments(sum, -1, true);
      return tf.div(tf.sub(sum, mean), tf.sqrt(tf.add(variance, 1e-12)));
    }),
    attentionMask: tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
    training: false,
    nextDropoutSeed: () => undefined,
  };
}

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

describe('AdapterFusion', () => {
  it('fuses at every insertion point all adapters share, with AdapterHub weight names', () => {
    const houlsby = [adapter('a', 'double_seq_bn', 8, 1), adapter('b', 'double_seq_bn', 4, 2)];
    const both = AdapterFusion.create(houlsby, FUSION_PRESETS.create('dynamic'), backbone, 7);
    expect(both.name).toBe('a,b');
    expect(both.sites).toEqual([
      { layer: 0, location: 'mh_adapter' }, { layer: 0, location: 'output_adapter' },
      { layer: 1, location: 'mh_adapter' }, { layer: 1, location: 'output_adapter' },
    ]);
    expect([...both.variables.keys()].slice(0, 5)).toEqual([
      'encoder.layer.0.attention.output.adapter_fusion_layer.a,b.query.weight',
      'encoder.layer.0.attention.output.adapter_fusion_layer.a,b.query.bias',
      'encoder.layer.0.attention.output.adapter_fusion_layer.a,b.key.weight',
      'encoder.layer.0.attention.output.adapter_fusion_layer.a,b.key.bias',
      'encoder.layer.0.attention.output.adapter_fusion_layer.a,b.value.weight',
    ]);
    expect(both.parameterCount()).toBe(4 * (3 * D * D + 2 * D));
    const mixed = AdapterFusion.create([houlsby[0] as BottleneckAdapter, adapter('c', 'seq_bn', 16, 3)], FUSION_PRESETS.create('static'), backbone, 7);
    expect(mixed.sites).toEqual([{ layer: 0, location: 'output_adapter' }, { layer: 1, location: 'output_adapter' }]);
    expect(mixed.variables.size).toBe(2 * 4);
    expect(() => AdapterFusion.create([houlsby[0] as BottleneckAdapter], FUSION_PRESETS.create('dynamic'), backbone, 1)).toThrow('needs at least 2 adapters, got 1');
    expect(() => AdapterFusion.create([houlsby[0] as BottleneckAdapter, houlsby[0] as BottleneckAdapter], FUSION_PRESETS.create('dynamic'), backbone, 1)).toThrow('repeated: a');
    const gated = BottleneckAdapter.create('g', validateAdapterConfig({ useGating: true, lnAfter: true }), backbone, 4);
    expect(() => AdapterFusion.create([houlsby[0] as BottleneckAdapter, gated], FUSION_PRESETS.create('dynamic'), backbone, 1)).toThrow(
      'AdapterFusion: adapter "g" uses lnAfter, useGating; fusion runs over plain bottleneck adapters only so far',
    );
    gated.dispose();
  });

  it('runs the adapters batched exactly as one by one, and the hook equals the written-out fusion', async () => {
    const adapters = [adapter('a', 'seq_bn', 4, 1), adapter('b', 'seq_bn', 8, 2), adapter('c', 'seq_bn', 16, 3)];
    const fusion = AdapterFusion.create(adapters, { ...FUSION_PRESETS.create('dynamic'), valueInitialized: false }, backbone, 5);
    const site = sublayer(1, 'output_adapter');
    const recorder = new AttentionRecorder({ perToken: true });
    const fused = fusion.hook({ recorder })(site) as tf.Tensor3D;
    const [recorded] = await recorder.take();

    // The same computation with each adapter's own project() and plain tensors.
    const expected = tf.tidy(() => {
      const { input, residual, query } = adapterInputs(adapters[2]?.config as BottleneckAdapter['config'], site);
      const z = tf.stack(adapters.map((a) => a.project(1, 'output_adapter', input)), 2); // (B, T, N, D)
      const weight = (suffix: string) => fusion.variables.get(`encoder.layer.1.output.adapter_fusion_layer.a,b,c.${suffix}`) as tf.Variable;
      const q = tf.add(tf.matMul(tf.reshape(query, [B * T, D]), weight('query.weight')), weight('query.bias')); // (BT, D)
      const k = tf.add(tf.matMul(tf.reshape(z, [-1, D]), weight('key.weight')), weight('key.bias')); // (BTN, D)
      const v = tf.reshape(tf.matMul(tf.reshape(z, [-1, D]), weight('value.weight')), [B * T, 3, D]); // (BT, N, D)
      const p = tf.softmax(tf.sum(tf.mul(tf.expandDims(q, 1), tf.reshape(k, [B * T, 3, D])), -1)); // (BT, N)
      const context = tf.add(tf.reshape(tf.sum(tf.mul(tf.expandDims(p, 2), v), 1), [B, T, D]), residual); // (B, T, D)
      return { output: adapterOutput(adapters[2]?.config as BottleneckAdapter['config'], site, context as tf.Tensor3D), p: tf.reshape(p, [B, T, 3]) };
    });
    expect(maxDifference(fused, expected.output)).toBeLessThan(1e-4);
    expect(recorded?.layer).toBe(1);
    expect(maxDifference(tf.tensor(recorded?.perToken as number[][][]), expected.p)).toBeLessThan(1e-5);
    // Sums over non-padding tokens only: the second sequence has 3 real tokens.
    expect(recorded?.tokens).toEqual([5, 3]);
    const p = expected.p.arraySync() as number[][][];
    expect(recorded?.sums[1]?.[0]).toBeCloseTo((p[1]?.[0]?.[0] ?? 0) + (p[1]?.[1]?.[0] ?? 0) + (p[1]?.[2]?.[0] ?? 0), 5);
    // No site, no fusion: the hook leaves sublayers it does not own to the default.
    expect(fusion.hook()(sublayer(0, 'mh_adapter'))).toBeUndefined();
  });

  it('forces one adapter: the output equals that adapter alone through the value matrix', () => {
    const adapters = [adapter('a', 'seq_bn', 4, 1), adapter('b', 'seq_bn', 4, 2)];
    const fusion = AdapterFusion.create(adapters, FUSION_PRESETS.create('static'), backbone, 5);
    const site = sublayer(0, 'output_adapter');
    const forced = fusion.hook({ adapterMask: [0, 1] })(site) as tf.Tensor3D;
    const alone = adapters[1]?.apply(site) as tf.Tensor3D; // static fusion has no value matrix: exactly Stack(b)
    expect(maxDifference(forced, alone)).toBeLessThan(1e-5);
  });

  it('computes the regularization as 0.01 · Σ ‖I − W_V‖²', () => {
    const fusion = AdapterFusion.create([adapter('a', 'seq_bn', 4, 1), adapter('b', 'seq_bn', 4, 2)], FUSION_PRESETS.create('dynamic'), backbone, 5);
    const values = [...fusion.variables].filter(([name]) => name.endsWith('value.weight')).map(([, v]) => v);
    values.forEach((v, i) => v.assign(tf.add(tf.eye(D), tf.fill([D, D], 0.1 * (i + 1)))));
    // Σ over 2 layers of D² entries of (0.1·(i+1))²: 0.01·D²·(0.01 + 0.04)
    expect(fusion.regularizationLoss().dataSync()[0]).toBeCloseTo(0.01 * D * D * 0.05, 4);
  });

  it('saves in AdapterHub layout and loads back; refuses other adapters, another order and wrong weights', async () => {
    const adapters = [adapter('a', 'seq_bn', 4, 1), adapter('b', 'seq_bn', 4, 2), adapter('c', 'seq_bn', 4, 3)];
    const fusion = AdapterFusion.create(adapters, { ...FUSION_PRESETS.create('dynamic'), temperature: true }, backbone, 5);
    for (const variable of fusion.variables.values()) variable.assign(tf.randomNormal(variable.shape, 0, 0.5, 'float32', 3));
    const dir = mkdtempSync(join(tmpdir(), 'af-fusion-'));
    await fusion.save(dir);

    const json = JSON.parse(readFileSync(join(dir, FUSION_CONFIG_FILE), 'utf8'));
    expect(json).toMatchObject({
      config: { key: true, query: true, value: true, query_before_ln: false, regularization: true, residual_before: false, temperature: true, value_before_softmax: true, value_initialized: true, dropout_prob: null },
      adapter_names: ['a', 'b', 'c'],
      name: 'a,b,c',
      hidden_size: 32,
      model_type: 'bert',
    });
    const { tensors } = readSafetensors(join(dir, 'model_adapter_fusion.safetensors'));
    expect([...tensors.keys()]).toContain('bert.encoder.layer.0.output.adapter_fusion_layer.a,b,c.value.weight');
    const queryName = 'encoder.layer.1.output.adapter_fusion_layer.a,b,c.query.weight';
    // [out, in] on disk: the file's [i][j] is the kernel's [j][i].
    const kernel = (fusion.variables.get(queryName) as tf.Variable).arraySync() as number[][];
    expect(tensors.get(`bert.${queryName}`)?.values[1 * D + 2]).toBeCloseTo(kernel[2]?.[1] ?? NaN, 6);

    const loaded = await AdapterFusion.load(dir, adapters, backbone);
    expect(loaded.settings.temperature).toBe(true);
    for (const [name, variable] of fusion.variables) expect(maxDifference(variable, loaded.variables.get(name) as tf.Variable)).toBe(0);

    await expect(AdapterFusion.load(dir, [adapters[1], adapters[0], adapters[2]] as BottleneckAdapter[], backbone)).rejects.toThrow(FusionAdapterMismatchError);
    await expect(AdapterFusion.load(dir, adapters.slice(0, 2), backbone)).rejects.toThrow(
      `${join(dir, FUSION_CONFIG_FILE)}: the fusion was trained over adapters [a, b, c] in this order, got [a, b]; load the same adapters in the same order`,
    );
    // A config saying `value: false` beside a file holding value weights: the load names the weights it cannot place.
    writeFileSync(join(dir, FUSION_CONFIG_FILE), JSON.stringify({ ...json, config: { ...json.config, value: false } }));
    await expect(AdapterFusion.load(dir, adapters, backbone)).rejects.toThrow(/unexpected: encoder\.layer\.0\.output\.adapter_fusion_layer\.a,b,c\.value\.weight \[32, 32\]/);
  });

  it('keeps the tensor count stable across forward passes, the recorder\'s included once taken', async () => {
    const fusion = AdapterFusion.create([adapter('a', 'seq_bn', 4, 1), adapter('b', 'seq_bn', 4, 2)], FUSION_PRESETS.create('dynamic'), backbone, 5);
    const site = sublayer(0, 'output_adapter');
    const recorder = new AttentionRecorder();
    tf.dispose(fusion.hook({ recorder })(site));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(fusion.hook({ recorder, temperature: 3 })(site));
    expect(await recorder.take()).toHaveLength(4);
    expect(tf.memory().numTensors).toBe(before - 2); // the first pass's two kept tensors are gone too
  });
});
