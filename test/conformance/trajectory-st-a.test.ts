// Replays AdapterHub's six ST-A training steps (adapterhub-training-trajectory, run `st-a`) with our adapter, head,
// AdamW and clipping, and compares every step and the final weights with the reference.
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BottleneckAdapter } from '../../src/adapters/bottleneck-adapter';
import { BertModel } from '../../src/backbone/bert-model';
import { validateConfig } from '../../src/config/validate';
import { loadHead, type PredictionHead } from '../../src/heads/prediction-head';
import { Trainer } from '../../src/training/trainer';
import { TrainingConfig } from '../../src/training/training-config';
import { describeOnBackends } from '../backends';
import { hasShared, sharedPath } from '../shared-fixtures';

const START = ['conformance', 'adapterhub-seqbn-fusion'] as const;
const FIXTURE = ['conformance', 'adapterhub-training-trajectory'] as const;

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  labels: number[];
}

interface Run {
  steps: { ce_loss: number; grad_norm: number; logits: number[][] }[];
  logits_after: number[][];
}

function maxDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  return Math.max(...Array.from(actual, (v, i) => Math.abs(v - (expected[i] ?? NaN))));
}

describeOnBackends('ST-A training parity with AdapterHub (6 AdamW steps)', !hasShared(...START) || !hasShared(...FIXTURE), () => {
  it('matches per-step loss, gradient norm and logits, the final adapter and head, and leaves the backbone untouched', async () => {
    const { batches } = JSON.parse(readFileSync(sharedPath(...FIXTURE, 'inputs.json'), 'utf8')) as { batches: Batch[] };
    const run = (JSON.parse(readFileSync(sharedPath(...FIXTURE, 'expected.json'), 'utf8')) as { runs: Record<string, Run> }).runs['st-a'] as Run;
    const backbone = await BertModel.fromPretrained(sharedPath(...START));
    const adapter = await BottleneckAdapter.load(sharedPath(...START, 'adapters', 'a'), backbone);
    // The reference sets every dropout to 0, so the head's training mode computes what its eval mode does.
    const head = await loadHead(sharedPath(...FIXTURE, 'head'), { hiddenSize: 32, dropoutProb: 0 });
    const backboneBefore = new Map(await Promise.all([...backbone.weights].map(async ([name, variable]) => [name, (await variable.data()).slice()] as const)));

    const tensors = (batch: Batch) => ({
      inputIds: tf.tensor2d(batch.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(batch.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(batch.token_type_ids, undefined, 'int32'),
    });
    const logitsOf = (inputs: ReturnType<typeof tensors>, model: PredictionHead, training: boolean): tf.Tensor => {
      // Dropout is 0 in the reference: the backbone runs in eval mode so no mask is drawn; the adapter has dropout 0.
      const output = backbone.forward(inputs, { hook: adapter.hook(), training: false });
      return model.forward(output.lastHiddenState, output.pooledOutput, training);
    };
    // Kept from inside the loss and read after each step, as WebGPU allows no synchronous read.
    const stepLogits: tf.Tensor[] = [];
    const trainer = new Trainer<Batch>({
      config: validateConfig(TrainingConfig, { learningRate: 1e-3, schedule: 'constant', weightDecay: 0.01, maxGradNorm: 1, maxSteps: 6 }),
      trainable: new Map([...adapter.variables, ...head.variables]),
      frozen: backbone.weights,
      loss: (batch) => {
        const inputs = tensors(batch);
        const logits = logitsOf(inputs, head, true);
        stepLogits.push(tf.keep(tf.clone(logits)));
        const labels = tf.tensor1d(batch.labels, 'int32');
        return head.loss(logits, labels);
      },
      log: () => undefined,
    });

    const tensorsAfterFirstStep: number[] = [];
    for (const [k, batch] of batches.entries()) {
      const result = await trainer.step([batch]);
      const reference = run.steps[k];
      expect(Math.abs(result.loss - (reference?.ce_loss ?? NaN))).toBeLessThan(1e-5);
      expect(Math.abs(result.gradNorm - (reference?.grad_norm ?? NaN)) / (reference?.grad_norm ?? NaN)).toBeLessThan(1e-5);
      const logits = stepLogits[k] as tf.Tensor;
      expect(maxDifference(await logits.data(), (reference?.logits ?? []).flat())).toBeLessThan(1e-4);
      logits.dispose();
      tensorsAfterFirstStep.push(tf.memory().numTensors);
    }
    expect(new Set(tensorsAfterFirstStep).size).toBe(1);

    const finalAdapter = await BottleneckAdapter.load(sharedPath(...FIXTURE, 'final', 'st-a', 'adapter'), backbone);
    for (const [name, variable] of adapter.variables) {
      expect(maxDifference(await variable.data(), (await finalAdapter.variables.get(name)?.data()) ?? []), name).toBeLessThan(1e-5);
    }
    const finalHead = await loadHead(sharedPath(...FIXTURE, 'final', 'st-a', 'head'));
    for (const [name, variable] of head.variables) {
      expect(maxDifference(await variable.data(), (await finalHead.variables.get(name)?.data()) ?? []), name).toBeLessThan(1e-5);
    }
    const inputs = tensors(batches[0] as Batch);
    const afterLogits = tf.tidy(() => logitsOf(inputs, head, false));
    expect(maxDifference(await afterLogits.data(), run.logits_after.flat())).toBeLessThan(1e-4);
    afterLogits.dispose();

    for (const [name, variable] of backbone.weights) {
      expect(Buffer.from((await variable.data()).buffer).equals(Buffer.from((backboneBefore.get(name) as Float32Array).buffer)), name).toBe(true);
    }
    trainer.dispose();
    tf.dispose(Object.values(inputs));
    for (const owner of [adapter, head, finalAdapter, finalHead, backbone]) owner.dispose();
  });
});
