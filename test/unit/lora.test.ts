// LoRA and (IA)³ modules on the tiny backbone: the update they compute, training with the backbone frozen, merging,
// configuration errors and the refusal to load one as a bottleneck adapter.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import { LoraConfig, LoraModule } from '../../src/adapters/lora';
import { BertModel } from '../../src/backbone/bert-model';
import { validateConfig } from '../../src/config/validate';
import { AdamW } from '../../src/training/adamw';
import { tinyBert } from '../tiny-bert';

const inputs = () => ({
  inputIds: tf.tensor2d([[2, 7, 9, 11, 3, 0], [2, 5, 6, 3, 0, 0]], undefined, 'int32'),
  attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], undefined, 'int32'),
});

describe('LoraModule', () => {
  it('adds (alpha / r)·x·Aᵀ·Bᵀ to exactly the configured projections, and starts as the identity', () => {
    const backbone = BertModel.random(tinyBert(), 1);
    const config = validateConfig(LoraConfig, { r: 2, alpha: 6, attnMatrices: ['k'], outputLora: true });
    const lora = LoraModule.create('t', config, backbone, 3);
    expect([...lora.variables.keys()]).toEqual([0, 1].flatMap((l) => ['attention.self.key', 'output.dense'].flatMap((p) => [`encoder.layer.${l}.${p}.loras.t.lora_A`, `encoder.layer.${l}.${p}.loras.t.lora_B`])));
    expect(lora.parameterCount()).toBe(2 * (2 * (32 + 32) + 2 * (64 + 32)));
    const x = tf.randomNormal<tf.Rank.R3>([1, 3, 32], 0, 1, 'float32', 5);
    const y = tf.randomNormal<tf.Rank.R3>([1, 3, 32], 0, 1, 'float32', 6);
    const projection = { layer: 1, name: 'key' as const, x, y, training: false, nextDropoutSeed: () => undefined };
    // lora init: B is zero, so the module changes nothing yet.
    expect(tf.max(tf.abs(tf.sub(lora.project(projection) as tf.Tensor, y))).dataSync()[0]).toBe(0);
    const a = lora.variables.variable('encoder.layer.1.attention.self.key.loras.t.lora_A');
    const b = lora.variables.variable('encoder.layer.1.attention.self.key.loras.t.lora_B');
    b.assign(tf.randomNormal([2, 32], 0, 1, 'float32', 7));
    const expected = tf.add(y, tf.mul(tf.matMul(tf.matMul(tf.reshape(x, [3, 32]), a), b), 3)); // alpha / r = 3
    expect(tf.max(tf.abs(tf.sub(tf.reshape(lora.project(projection) as tf.Tensor, [3, 32]), expected))).dataSync()[0]).toBeLessThan(1e-5);
    expect(lora.project({ ...projection, name: 'query' })).toBeUndefined();
    expect(lora.project({ ...projection, name: 'intermediate' })).toBeUndefined();
    lora.dispose();
    backbone.dispose();
  });

  it('trains only A and B with the backbone frozen (its weights unchanged bit for bit), and round-trips its files', async () => {
    const backbone = BertModel.random(tinyBert(), 1);
    const frozen = new Map([...backbone.weights].map(([name, v]) => [name, Array.from(v.dataSync())]));
    const lora = LoraModule.create('t', validateConfig(LoraConfig, { r: 4, alpha: 8, intermediateLora: true }), backbone, 2);
    const target = tf.randomNormal([2, 32], 0, 1, 'float32', 9);
    const optimizer = new AdamW(lora.variables, { weightDecay: 0 });
    const batch = inputs();
    const lossOf = () => tf.tidy(() => tf.mean<tf.Scalar>(tf.square(tf.sub(backbone.forward(batch, { training: true, hook: lora.hook() }).pooledOutput, target))));
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const { value, grads } = tf.variableGrads(lossOf, [...lora.variables.values()]);
      losses.push(value.dataSync()[0] ?? NaN);
      const named = new Map([...lora.variables].map(([name, v]) => [name, grads[v.name] as tf.Tensor]));
      expect(named.size).toBe(lora.variables.size);
      optimizer.apply(named, 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[19]).toBeLessThan(0.9 * (losses[0] ?? 0));
    for (const [name, v] of backbone.weights) expect(Array.from(v.dataSync()), name).toEqual(frozen.get(name));

    const dir = mkdtempSync(join(tmpdir(), 'lora-unit-'));
    await lora.save(dir);
    const again = LoraModule.load(dir, backbone, 'u');
    expect(again.config).toEqual(lora.config); // written here: alpha kept
    expect([...again.variables.keys()][0]).toBe('encoder.layer.0.attention.self.query.loras.u.lora_A');
    const before = backbone.forward(batch, { hook: lora.hook() }).lastHiddenState;
    const after = backbone.forward(batch, { hook: again.hook() }).lastHiddenState;
    expect(tf.max(tf.abs(tf.sub(before, after))).dataSync()[0]).toBe(0);

    // Merged, the plain backbone computes the same within 1e-5; unmerged, its weights are the original bits.
    again.merge(backbone);
    expect(() => again.merge(backbone)).toThrow('LoRA "u" is already merged; unmerge it first');
    const merged = backbone.forward(batch).lastHiddenState;
    expect(tf.max(tf.abs(tf.sub(before, merged))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(before, backbone.forward(batch).lastHiddenState))).dataSync()[0]).toBeLessThan(1e-5);
    again.unmerge();
    expect(() => again.unmerge()).toThrow('LoRA "u" is not merged');
    for (const [name, v] of backbone.weights) expect(Array.from(v.dataSync()), name).toEqual(frozen.get(name));

    await expect(BottleneckAdapter.load(dir, backbone)).rejects.toThrow(`${join(dir, 'adapter_config.json')}: "t" is a LoRA module (method "lora"), not a bottleneck adapter`);
    again.dispose();
    lora.dispose();
    backbone.dispose();
  });

  it('refuses composition mode scale with r > 1, naming the field', () => {
    expect(() => validateConfig(LoraConfig, { r: 2, compositionMode: 'scale' }, 'x.yaml')).toThrow('compositionMode: must be "add" when r > 1 ("scale" needs r = 1), got "scale"');
    expect(() => validateConfig(LoraConfig, { attnMatrices: ['q', 'o'] }, 'x.yaml')).toThrow('attnMatrices');
  });
});
