import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdapterConfig,
  adapterConfigFromAdapterHub,
  bottleneckSize,
  validateAdapterConfig,
} from '../../src/adapters/adapter-config';
import { activation } from '../../src/ops/activation';
import { AdapterBackboneMismatchError, BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import { BertModel } from '../../src/backbone/bert-model';
import type { Sublayer, SublayerLocation } from '../../src/backbone/sublayer-hook';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors';
import { hasShared, sharedPath } from '../shared-fixtures';

const tiny = { config: { modelType: 'bert', hiddenSize: 8, numHiddenLayers: 2 } };
const EPS = 1e-12;

function layerNormRows(v: number[]): number[] {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return v.map((x) => (x - mean) / Math.sqrt(variance + EPS));
}

function sublayer(h: tf.Tensor3D, x: tf.Tensor3D, location: SublayerLocation = 'output_adapter', layer = 0): Sublayer {
  return {
    layer,
    location,
    h,
    x,
    layerNorm: (input, residual) =>
      tf.tidy(() => {
        const sum = residual ? tf.add(input, residual) : input;
        const { mean, variance } = tf.moments(sum, -1, true);
        return tf.div(tf.sub(sum, mean), tf.sqrt(tf.add(variance, EPS)));
      }),
    attentionMask: tf.ones([h.shape[0], h.shape[1]]),
    training: false,
    nextDropoutSeed: () => undefined,
  };
}

/** A LayerNorm with gain and bias over one row. */
function layerNormWith(v: number[], gain: number[], bias: number[], eps: number): number[] {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
  return v.map((x, i) => ((x - mean) / Math.sqrt(variance + eps)) * (gain[i] ?? NaN) + (bias[i] ?? NaN));
}

/**
 * One token's adapter output computed with plain loops from the adapter's weights, independently of tfjs ops (a
 * sequence of one token, so the gate's mean over positions is that token's gate).
 */
function reference(adapter: BottleneckAdapter, site: Sublayer, hRow: number[], xRow: number[], act: (v: number) => number): number[] {
  const weights = adapter.moduleWeights(site.layer, site.location);
  const { down, downBias, up, upBias } = weights;
  const [W1, b1, W2, b2] = [down, downBias, up, upBias].map((v) => v.arraySync()) as [number[][], number[], number[][], number[]];
  const values = (v: tf.Variable | undefined) => (v ? Array.from(v.dataSync()) : []);
  const c = adapter.config;
  const sum = hRow.map((v, i) => v + (xRow[i] ?? 0));
  let input = hRow;
  let residual = hRow;
  if (c.isParallel) {
    input = xRow;
  } else {
    if (c.originalLnBefore && c.residualBeforeLn === 'post_add') residual = sum;
    if (c.originalLnBefore) input = layerNormRows(sum);
    if (c.residualBeforeLn === false) residual = input;
  }
  const normalized = weights.normBefore ? layerNormWith(input, values(weights.normBefore.weight), values(weights.normBefore.bias), 1e-5) : input;
  const hidden = b1.map((b, j) => act(normalized.reduce((acc, v, i) => acc + v * (W1[i]?.[j] ?? 0), b)));
  const scaling = weights.scaling ? (values(weights.scaling)[0] ?? NaN) : (c.scaling as number);
  let z = b2.map((b, k) => scaling * hidden.reduce((acc, v, j) => acc + v * (W2[j]?.[k] ?? 0), b));
  if (weights.gate) {
    const w = values(weights.gate.weight);
    const gate = 1 / (1 + Math.exp(-input.reduce((acc, v, i) => acc + v * (w[i] ?? NaN), values(weights.gate.bias)[0] ?? NaN)));
    z = z.map((v) => v * gate);
  }
  if (weights.normAfter) z = layerNormWith(z, values(weights.normAfter.weight), values(weights.normAfter.bias), 1e-5);
  const out = z.map((v, k) => v + (residual[k] ?? 0));
  return c.originalLnAfter ? layerNormRows(out.map((v, k) => v + (xRow[k] ?? 0))) : out;
}

function expectClose(actual: number[], expected: number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - (expected[i] ?? NaN))));
  expect(worst).toBeLessThan(tolerance);
}

describe('AdapterConfig', () => {
  it('defaults to seq_bn and expands presets, explicit options winning', () => {
    expect({ ...new AdapterConfig() }).toEqual({ ...validateAdapterConfig({ preset: 'seq_bn' }) });
    const houlsby = validateAdapterConfig({ preset: 'double_seq_bn', reductionFactor: 8 });
    expect(houlsby).toMatchObject({ mhAdapter: true, outputAdapter: true, originalLnBefore: false, originalLnAfter: true, residualBeforeLn: true, nonLinearity: 'swish', reductionFactor: 8 });
    expect(validateAdapterConfig({ preset: 'houlsby' })).toEqual(validateAdapterConfig({ preset: 'double_seq_bn' }));
    expect(validateAdapterConfig({ preset: 'pfeiffer', nonLinearity: 'gelu' })).toMatchObject({ mhAdapter: false, nonLinearity: 'gelu', reductionFactor: 16 });
  });

  it('refuses bad options with the path, the rule and the value', () => {
    expect(() => validateAdapterConfig({ preset: 'lora' })).toThrow('preset: must be one of the following values: seq_bn, double_seq_bn, par_bn, pfeiffer, houlsby, got "lora"');
    expect(() => validateAdapterConfig({ scaling: 'channel' })).toThrow('scaling: must be a number from -1000 to 1000, or "learned", got "channel"');
    expect(() => validateAdapterConfig({ reductionFactor: { '1': 8, last: 4 } })).toThrow(/reductionFactor: must be a number from 1\/64 to 1000000, or a record .* got \{"1":8,"last":4\}/);
    expect(() => validateAdapterConfig({ nonLinearity: 'relu7' })).toThrow(/nonLinearity: must be one of the following values: .*gelu.*got "relu7"/);
    expect(() => validateAdapterConfig({ outputAdapter: false })).toThrow(/outputAdapter: must be true when mhAdapter is false/);
    expect(() => validateAdapterConfig({ reductionFactr: 8 }, 'x.yaml')).toThrow(/in x.yaml:\n {2}reductionFactr: unknown key/);
  });

  it('computes bottleneck sizes per layer as AdapterHub does', () => {
    expect(bottleneckSize(validateAdapterConfig({ reductionFactor: 4 }), 32, 0)).toBe(8);
    expect(bottleneckSize(validateAdapterConfig({ reductionFactor: 3 }), 32, 0)).toBe(10);
    expect(bottleneckSize(validateAdapterConfig({ reductionFactor: 0.5 }), 32, 0)).toBe(64);
    expect(bottleneckSize(validateAdapterConfig({ reductionFactor: 64 }), 32, 0)).toBe(1);
    const perLayer = validateAdapterConfig({ reductionFactor: { '1': 2, default: 16 } });
    expect([0, 1].map((layer) => bottleneckSize(perLayer, 32, layer))).toEqual([2, 16]);
    expect(() => bottleneckSize(validateAdapterConfig({ reductionFactor: { '1': 2 } }), 32, 0)).toThrow('gives no value for layer 0: add "0" or "default"');
  });

  it.skipIf(!hasShared('conformance', 'adapterhub-seqbn-fusion'))('writes the AdapterHub config AdapterHub wrote, and reads it back', () => {
    const file = sharedPath('conformance', 'adapterhub-seqbn-fusion', 'adapters', 'a', 'adapter_config.json');
    const written = (JSON.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> }).config;
    const config = adapterConfigFromAdapterHub(written, file);
    expect(config).toMatchObject({ reductionFactor: 4, nonLinearity: 'relu', originalLnBefore: true, mhAdapter: false });
    expect(config.toAdapterHub()).toEqual(written);
    expect(Object.keys(config.toAdapterHub())).toEqual(Object.keys(written).sort());
  });

  it('refuses AdapterHub options it does not implement, naming the file and the option', () => {
    const base = new AdapterConfig().toAdapterHub();
    expect(() => adapterConfigFromAdapterHub({ ...base, adapter_residual_before_ln: true }, 'a/adapter_config.json')).toThrow(
      'a/adapter_config.json: unsupported AdapterHub adapter configuration: adapter_residual_before_ln is true, but only false is supported',
    );
    expect(() => adapterConfigFromAdapterHub({ ...base, phm_layer: true, cross_adapter: true }, 'f')).toThrow(/cross_adapter is true.*; phm_layer is true/);
    expect(() => adapterConfigFromAdapterHub({ ...base, scaling: 'channel' }, 'f')).toThrow('scaling "channel" is not supported; expected a number or "learned"');
    const options = { ...base, ln_before: true, ln_after: true, use_gating: true, is_parallel: true, scaling: 'learned' };
    const config = adapterConfigFromAdapterHub(options, 'f');
    expect(config).toMatchObject({ lnBefore: true, lnAfter: true, useGating: true, isParallel: true, scaling: 'learned' });
    expect(config.toAdapterHub()).toEqual(options);
    expect(() => adapterConfigFromAdapterHub({ ...base, colour: 'red' }, 'f')).toThrow('unknown option colour');
    expect(() => adapterConfigFromAdapterHub({ architecture: 'lora', r: 8 }, 'f')).toThrow('architecture "lora" is not a bottleneck adapter');
    expect(() => adapterConfigFromAdapterHub({ ...base, reduction_factor: -2 }, 'f')).toThrow(/invalid configuration in f:\n {2}reductionFactor/);
  });
});

describe('activation', () => {
  it('computes the named functions', () => {
    const at = (name: string, v: number) => tf.tidy(() => activation(name)(tf.scalar(v)).dataSync()[0] ?? NaN);
    expect(at('relu', -1)).toBe(0);
    expect(at('swish', 1)).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(at('SiLU', 2)).toBeCloseTo(2 / (1 + Math.exp(-2)), 6);
    expect(at('gelu', 1)).toBeCloseTo(0.8413447, 5); // x·Φ(x)
    expect(at('gelu_new', 1)).toBeCloseTo(0.8411920, 5);
    expect(at('tanh', 0.5)).toBeCloseTo(Math.tanh(0.5), 6);
    expect(at('leakyrelu', -2)).toBeCloseTo(-0.02, 6);
    expect(() => activation('relu7')).toThrow(/unknown activation "relu7": expected one of .*swish/);
  });
});

describe('BottleneckAdapter', () => {
  let h: tf.Tensor3D;
  let x: tf.Tensor3D;
  beforeAll(() => {
    h = tf.tensor3d([[[0.3, -1.2, 0.5, 2.0, 0.1, -0.4, 0.9, -0.7]], [[1.1, 0.2, -0.3, -1.5, 0.8, 0.0, 0.4, 0.6]]]);
    x = tf.tensor3d([[[-0.5, 0.7, 1.3, -0.2, 0.0, 0.9, -1.1, 0.4]], [[0.2, -0.6, 0.1, 0.3, -0.9, 1.4, 0.5, -0.2]]]);
  });
  // Larger-than-default weights so that the adapter visibly changes the output.
  const bigWeights = (adapter: BottleneckAdapter) => {
    let i = 0;
    for (const variable of adapter.variables.values()) variable.assign(tf.tidy(() => tf.randomNormal(variable.shape, 0, 0.5, 'float32', 100 + i++)));
  };

  const cases: [string, Record<string, unknown>, (v: number) => number][] = [
    ['seq_bn', { preset: 'seq_bn', reductionFactor: 2 }, (v) => Math.max(0, v)],
    ['double_seq_bn', { preset: 'double_seq_bn', reductionFactor: 4 }, (v) => v / (1 + Math.exp(-v))],
    ['residual after LN, scaling 0.5', { residualBeforeLn: false, scaling: 0.5, nonLinearity: 'tanh' }, Math.tanh],
    ['post_add residual', { residualBeforeLn: 'post_add' }, (v) => Math.max(0, v)],
    ['no LN after', { originalLnAfter: false, originalLnBefore: false }, (v) => Math.max(0, v)],
    ['par_bn', { preset: 'par_bn' }, (v) => Math.max(0, v)],
    ['ln_before, ln_after, gating and learned scaling', { lnBefore: true, lnAfter: true, useGating: true, scaling: 'learned', reductionFactor: 2 }, (v) => Math.max(0, v)],
  ];
  for (const [title, raw, act] of cases) {
    it(`computes ${title} as AdapterHub's pre_forward / forward / post_forward`, () => {
      const adapter = BottleneckAdapter.create('t', validateAdapterConfig(raw), tiny, 1);
      bigWeights(adapter);
      for (const location of adapter.locations) {
        const site = sublayer(h, x, location, 1);
        const out = tf.tidy(() => adapter.hook()(site)?.arraySync()) as number[][][];
        const hRows = h.arraySync();
        const xRows = x.arraySync();
        for (const b of [0, 1]) expectClose(out[b]?.[0] ?? [], reference(adapter, site, hRows[b]?.[0] ?? [], xRows[b]?.[0] ?? [], act), 1e-5);
      }
      adapter.dispose();
    });
  }

  it('draws its dropout mask from the sublayer\'s seed: the same seed repeats the output, another changes it', () => {
    const adapter = BottleneckAdapter.create('t', validateAdapterConfig({ preset: 'seq_bn', reductionFactor: 2, dropout: 0.5 }), tiny, 1);
    bigWeights(adapter);
    const run = (seed: number, training = true) => {
      let draws = 0;
      const site: Sublayer = { ...sublayer(h, x, 'output_adapter', 1), training, nextDropoutSeed: () => (draws++, seed) };
      return { out: tf.tidy(() => adapter.apply(site).arraySync()), draws };
    };
    const first = run(5);
    expect(first.draws).toBe(1);
    expect(run(5).out).toEqual(first.out);
    expect(run(6).out).not.toEqual(first.out);
    expect(run(5, false).draws).toBe(0); // no dropout outside training, so the pass's generator is not advanced
    adapter.dispose();
  });

  it('leaves sublayers without a module to the backbone and creates no tensors across calls', () => {
    const adapter = BottleneckAdapter.create('t', validateAdapterConfig({ leaveOut: [0] }), tiny, 1);
    expect(adapter.locations).toEqual(['output_adapter']);
    expect(adapter.hook()(sublayer(h, x, 'output_adapter', 0))).toBeUndefined();
    expect(adapter.hook()(sublayer(h, x, 'mh_adapter', 1))).toBeUndefined();
    expect(() => adapter.moduleWeights(0, 'output_adapter')).toThrow('adapter "t" has no module at layer 0 output_adapter (locations: output_adapter; left out: [0])');
    const site = sublayer(h, x, 'output_adapter', 1);
    tf.dispose(adapter.hook()(site));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(adapter.hook()(site));
    expect(tf.memory().numTensors).toBe(before);
    adapter.dispose();
  });

  it('starts as AdapterHub bert init: N(0, 0.02) weights, zero biases, reproducible from the seed', () => {
    const config = validateAdapterConfig({ reductionFactor: 0.25 });
    const big = { config: { modelType: 'bert', hiddenSize: 64, numHiddenLayers: 1 } };
    const adapter = BottleneckAdapter.create('t', config, big, 7);
    const { down, downBias, up } = adapter.moduleWeights(0, 'output_adapter');
    expect(down.shape).toEqual([64, 256]);
    const values = Array.from(down.dataSync());
    const std = Math.sqrt(values.reduce((a, v) => a + v * v, 0) / values.length);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(Array.from(downBias.dataSync()).every((v) => v === 0)).toBe(true);
    const again = BottleneckAdapter.create('t', config, big, 7);
    expect(Array.from(again.moduleWeights(0, 'output_adapter').up.dataSync())).toEqual(Array.from(up.dataSync()));
    const mam = BottleneckAdapter.create('t', validateAdapterConfig({ initWeights: 'mam_adapter' }), big, 7).moduleWeights(0, 'output_adapter');
    expect(Array.from(mam.up.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Math.max(...Array.from(mam.down.dataSync()).map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    adapter.dispose();
    again.dispose();
  });

  it('counts 2md + d + m parameters per module: 894,528 for seq_bn on BERT-base, twice that for double_seq_bn', () => {
    const base = { config: { modelType: 'bert', hiddenSize: 768, numHiddenLayers: 12 } };
    const seq = BottleneckAdapter.create('t', new AdapterConfig(), base, 1);
    expect(seq.parameterCount()).toBe(12 * (2 * 48 * 768 + 768 + 48));
    expect(seq.parameterCount()).toBe(894_528);
    expect([...seq.variables.values()].reduce((a, v) => a + v.size, 0)).toBe(894_528);
    const houlsby = BottleneckAdapter.create('t', validateAdapterConfig({ preset: 'double_seq_bn' }), base, 1);
    expect(houlsby.parameterCount()).toBe(2 * 894_528);
    seq.dispose();
    houlsby.dispose();
  });

  it('passes gradients to every weight of its modules', () => {
    const adapter = BottleneckAdapter.create('t', validateAdapterConfig({ preset: 'double_seq_bn' }), tiny, 3);
    bigWeights(adapter);
    const { grads } = tf.variableGrads(() => {
      const outputs = adapter.locations.flatMap((location) => [0, 1].map((layer) => adapter.hook()(sublayer(h, x, location, layer)) as tf.Tensor3D));
      return tf.addN(outputs.map((o) => tf.sum(tf.square(tf.sub(o, 0.3))))) as tf.Scalar;
    }, [...adapter.variables.values()]);
    expect(Object.keys(grads)).toHaveLength(16);
    for (const grad of Object.values(grads)) expect(tf.max(tf.abs(grad)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose(grads);
    adapter.dispose();
  });

  it('creates the weights of ln_before, ln_after, gating and learned scaling under AdapterHub\'s names, and trains them all', () => {
    const adapter = BottleneckAdapter.create('t', validateAdapterConfig({ lnBefore: true, lnAfter: true, useGating: true, scaling: 'learned', reductionFactor: 2 }), tiny, 4);
    const prefix = 'encoder.layer.0.output.adapters.t.';
    const own = [...adapter.variables.keys()].filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length));
    expect(own).toEqual(['adapter_norm_before.weight', 'adapter_norm_before.bias', 'adapter_down.1.weight', 'adapter_down.1.bias', 'adapter_up.weight', 'adapter_up.bias', 'adapter_norm_after.weight', 'adapter_norm_after.bias', 'gate.weight', 'gate.bias', 'scaling']);
    // PyTorch saves the input LayerNorm under its second name too (the first module of adapter_down).
    const fileShapes = adapter.variables.fileShapes();
    expect(fileShapes.get(`${prefix}adapter_down.0.weight`)).toEqual([8]);
    expect(fileShapes.get(`${prefix}gate.weight`)).toEqual([1, 8]);
    expect(Array.from(adapter.variables.variable(`${prefix}scaling`).dataSync())).toEqual([1]);
    expect(Array.from(adapter.variables.variable(`${prefix}adapter_norm_after.weight`).dataSync())).toEqual(new Array(8).fill(1));
    // The bottleneck's own weights start where a plain adapter's do.
    const plain = BottleneckAdapter.create('t', validateAdapterConfig({ reductionFactor: 2 }), tiny, 4);
    expect(adapter.variables.variable(`${prefix}adapter_down.1.weight`).arraySync()).toEqual(plain.variables.variable(`${prefix}adapter_down.0.weight`).arraySync());
    plain.dispose();

    bigWeights(adapter);
    const { grads } = tf.variableGrads(() => {
      const outputs = [0, 1].map((layer) => adapter.hook()(sublayer(h, x, 'output_adapter', layer)) as tf.Tensor3D);
      return tf.addN(outputs.map((o) => tf.sum(tf.square(tf.sub(o, 0.3))))) as tf.Scalar;
    }, [...adapter.variables.values()]);
    expect(Object.keys(grads)).toHaveLength(22);
    for (const grad of Object.values(grads)) expect(tf.max(tf.abs(grad)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose(grads);
    adapter.dispose();
  });

  it('gates over every position of a sequence, so a backbone asked for firstTokenOnly computes them all', () => {
    const backbone = BertModel.random({ modelType: 'bert', vocabSize: 20, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 16, hiddenAct: 'gelu', hiddenDropoutProb: 0, attentionProbsDropoutProb: 0, maxPositionEmbeddings: 8, typeVocabSize: 2, layerNormEps: 1e-12, padTokenId: 0 }, 3);
    const gated = BottleneckAdapter.create('g', validateAdapterConfig({ useGating: true, reductionFactor: 2 }), backbone, 5);
    bigWeights(gated);
    expect(gated.hook().needsEveryPosition).toBe(true);
    const plain = BottleneckAdapter.create('p', validateAdapterConfig({}), backbone, 5);
    expect(plain.hook().needsEveryPosition).toBeUndefined();
    plain.dispose();
    const inputs = { inputIds: tf.tensor2d([[2, 5, 7, 3, 0]], undefined, 'int32'), attentionMask: tf.tensor2d([[1, 1, 1, 1, 0]], undefined, 'int32') };
    const all = backbone.forward(inputs, { hook: gated.hook() });
    const first = backbone.forward(inputs, { hook: gated.hook(), firstTokenOnly: true });
    expect(first.lastHiddenState.shape).toEqual([1, 5, 8]);
    expect(first.pooledOutput.arraySync()).toEqual(all.pooledOutput.arraySync());
    tf.dispose([all.lastHiddenState, all.pooledOutput, first.lastHiddenState, first.pooledOutput, ...Object.values(inputs)]);
    gated.dispose();
    backbone.dispose();
  });

  it('round-trips through AdapterHub files: bert. prefix, [out, in] kernels, another name on load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-adapter-'));
    const adapter = BottleneckAdapter.create('sst', validateAdapterConfig({ preset: 'double_seq_bn', reductionFactor: { '0': 2, default: 4 } }), tiny, 5);
    bigWeights(adapter);
    await adapter.save(dir);
    const json = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect(json).toMatchObject({ hidden_size: 8, model_type: 'bert', model_class: 'BertAdapterModel', name: 'sst', config: { mh_adapter: true, non_linearity: 'swish', reduction_factor: { '0': 2, default: 4 } } });
    const { tensors } = readSafetensors(join(dir, 'adapter.safetensors'));
    expect(tensors.get('bert.encoder.layer.0.attention.output.adapters.sst.adapter_down.0.weight')?.shape).toEqual([4, 8]);
    expect(tensors.get('bert.encoder.layer.1.output.adapters.sst.adapter_up.weight')?.shape).toEqual([8, 2]);
    expect(tensors.size).toBe(16);

    const loaded = await BottleneckAdapter.load(dir, tiny, 'other');
    expect(loaded.name).toBe('other');
    expect(loaded.config).toEqual(adapter.config);
    const site = sublayer(h, x, 'mh_adapter', 0);
    const [a, b] = tf.tidy(() => [adapter.hook()(site)?.arraySync(), loaded.hook()(site)?.arraySync()]);
    expect(b).toEqual(a);
    expect([...loaded.variables.keys()][0]).toBe('encoder.layer.0.attention.output.adapters.other.adapter_down.0.weight');
    adapter.dispose();
    loaded.dispose();
  });

  it('refuses an adapter made for another backbone, saying what differs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-adapter-'));
    const adapter = BottleneckAdapter.create('a', new AdapterConfig(), tiny, 5);
    await adapter.save(dir);
    const wider = { config: { modelType: 'roberta', hiddenSize: 16, numHiddenLayers: 2 } };
    await expect(BottleneckAdapter.load(dir, wider)).rejects.toThrow(AdapterBackboneMismatchError);
    await expect(BottleneckAdapter.load(dir, wider)).rejects.toThrow(
      `${join(dir, 'adapter_config.json')}: the adapter was made for another backbone: model type "bert" (this backbone: "roberta"); hidden size 8 (this backbone: 16)`,
    );
    await expect(BottleneckAdapter.load(dir, { config: { ...tiny.config, numHiddenLayers: 4 } })).rejects.toThrow('2 layers (this backbone: 4)');
    adapter.dispose();
  });

  it('refuses missing and unexpected weights, naming each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-adapter-'));
    const adapter = BottleneckAdapter.create('a', new AdapterConfig(), tiny, 5);
    await adapter.save(dir);
    const file = join(dir, 'adapter.safetensors');
    const { tensors } = readSafetensors(file);
    const kept = Object.fromEntries([...tensors].filter(([name]) => !name.endsWith('layer.1.output.adapters.a.adapter_up.bias')));
    writeSafetensors(file, { ...kept, 'bert.encoder.layer.0.output.adapters.a.gate.weight': { shape: [1, 8], values: new Float32Array(8) } });
    await expect(BottleneckAdapter.load(dir, tiny)).rejects.toThrow(
      /weights do not match the model \(1 missing, 1 unexpected, 0 of the wrong shape\):\n {2}missing: encoder\.layer\.1\.output\.adapters\.a\.adapter_up\.bias \[8\]\n {2}unexpected: encoder\.layer\.0\.output\.adapters\.a\.gate\.weight \[1, 8\]/,
    );
    adapter.dispose();
  });

  it.skipIf(!hasShared('conformance', 'adapterhub-seqbn-fusion'))('loads AdapterHub adapters saved without the bert. prefix, transposing kernels', async () => {
    const dir = sharedPath('conformance', 'adapterhub-seqbn-fusion', 'adapters', 'b');
    const adapter = await BottleneckAdapter.load(dir, { config: { modelType: 'bert', hiddenSize: 32, numHiddenLayers: 2 } });
    expect(adapter.name).toBe('b');
    const file = readSafetensors(join(dir, 'adapter.safetensors')).tensors.get('encoder.layer.1.output.adapters.b.adapter_down.0.weight');
    expect(file?.shape).toEqual([8, 32]);
    const down = adapter.moduleWeights(1, 'output_adapter').down;
    expect(down.shape).toEqual([32, 8]);
    const transposed = tf.tidy(() => tf.transpose(tf.tensor2d(file?.values ?? [], [8, 32])).dataSync());
    expect(Array.from(down.dataSync())).toEqual(Array.from(transposed));
    adapter.dispose();
  });
});
