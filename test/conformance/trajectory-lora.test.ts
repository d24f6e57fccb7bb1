// Replays AdapterHub's five LoRA training steps (adapterhub-delta-methods/training) with our LoRA, head, AdamW and
// clipping, and compares every step and the final weights with the reference.
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LoraModule } from '../../src/adapters/lora';
import { BertModel } from '../../src/backbone/bert-model';
import { validateConfig } from '../../src/config/validate';
import { loadHead, type PredictionHead } from '../../src/heads/prediction-head';
import { Trainer } from '../../src/training/trainer';
import { TrainingConfig } from '../../src/training/training-config';
import { hasShared, sharedPath } from '../shared-fixtures';

const FIXTURE = ['conformance', 'adapterhub-delta-methods'] as const;
const TRAINING = [...FIXTURE, 'training'] as const;

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  labels: number[];
}

interface Expected {
  step_records: { loss: number; grad_norm: number; logits: number[][] }[];
  logits_after: number[][];
}

function maxDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  return Math.max(...Array.from(actual, (v, i) => Math.abs(v - (expected[i] ?? NaN))));
}

describe.skipIf(!hasShared(...TRAINING))('LoRA training parity with AdapterHub (5 AdamW steps)', () => {
  it('matches per-step loss, gradient norm and logits, the final LoRA and head, and leaves the backbone untouched', async () => {
    const { batches } = JSON.parse(readFileSync(sharedPath(...TRAINING, 'inputs.json'), 'utf8')) as { batches: Batch[] };
    const expected = JSON.parse(readFileSync(sharedPath(...TRAINING, 'expected.json'), 'utf8')) as Expected;
    const backbone = await BertModel.fromPretrained(sharedPath(...FIXTURE));
    const lora = LoraModule.load(sharedPath(...FIXTURE, 'adapters', 'lora_qv'), backbone);
    const head = await loadHead(sharedPath(...TRAINING, 'head'), { hiddenSize: 32, dropoutProb: 0 });
    const backboneBefore = new Map([...backbone.weights].map(([name, variable]) => [name, variable.dataSync().slice()] as const));

    const tensors = (batch: Batch) => ({
      inputIds: tf.tensor2d(batch.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(batch.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(batch.token_type_ids, undefined, 'int32'),
    });
    const logitsOf = (inputs: ReturnType<typeof tensors>, model: PredictionHead, training: boolean): tf.Tensor => {
      const output = backbone.forward(inputs, { hook: lora.hook(), training: false }); // every dropout is 0 in the reference
      return model.forward(output.lastHiddenState, output.pooledOutput, training);
    };
    const stepLogits: tf.Tensor[] = [];
    const trainer = new Trainer<Batch>({
      config: validateConfig(TrainingConfig, { learningRate: 1e-3, schedule: 'constant', weightDecay: 0.01, maxGradNorm: 1, maxSteps: 5 }),
      trainable: new Map([...lora.variables, ...head.variables]),
      frozen: backbone.weights,
      loss: (batch) => {
        const logits = logitsOf(tensors(batch), head, true);
        stepLogits.push(tf.keep(tf.clone(logits)));
        return head.loss(logits, tf.tensor1d(batch.labels, 'int32'));
      },
      log: () => undefined,
    });

    for (const [k, batch] of batches.entries()) {
      const result = await trainer.step([batch]);
      const reference = expected.step_records[k];
      expect(Math.abs(result.loss - (reference?.loss ?? NaN))).toBeLessThan(1e-5);
      expect(Math.abs(result.gradNorm - (reference?.grad_norm ?? NaN)) / (reference?.grad_norm ?? NaN)).toBeLessThan(1e-5);
      const logits = stepLogits[k] as tf.Tensor;
      expect(maxDifference(logits.dataSync(), (reference?.logits ?? []).flat())).toBeLessThan(1e-4);
      logits.dispose();
    }

    const finalLora = LoraModule.load(sharedPath(...TRAINING, 'final', 'adapter'), backbone);
    for (const [name, variable] of lora.variables) expect(maxDifference(variable.dataSync(), finalLora.variables.get(name)?.dataSync() ?? []), name).toBeLessThan(1e-5);
    const finalHead = await loadHead(sharedPath(...TRAINING, 'final', 'head'));
    for (const [name, variable] of head.variables) expect(maxDifference(variable.dataSync(), finalHead.variables.get(name)?.dataSync() ?? []), name).toBeLessThan(1e-5);
    const inputs = tensors(batches[0] as Batch);
    const afterLogits = tf.tidy(() => logitsOf(inputs, head, false));
    expect(maxDifference(afterLogits.dataSync(), expected.logits_after.flat())).toBeLessThan(1e-4);
    for (const [name, variable] of backbone.weights) expect(Buffer.from(variable.dataSync().buffer).equals(Buffer.from((backboneBefore.get(name) as Float32Array).buffer)), name).toBe(true);

    trainer.dispose();
    tf.dispose([afterLogits, ...Object.values(inputs)]);
    for (const owner of [lora, head, finalLora, finalHead, backbone]) owner.dispose();
  });
});
