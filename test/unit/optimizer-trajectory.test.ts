import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors';
import { AdamW, isDecayed } from '../../src/training/adamw';
import { clipByGlobalNorm } from '../../src/training/clip-by-global-norm';
import { hasShared, sharedPath } from '../shared-fixtures';

const TRAJECTORY = ['conformance', 'adapterhub-training-trajectory'];
const START = ['conformance', 'adapterhub-seqbn-fusion'];

interface StepRecord {
  grad_norm: number;
  clip_coef: number;
  grad_norms: Record<string, number>;
  param_norms_after: Record<string, number>;
}

interface Run {
  trainable: { name: string; shape: number[]; weight_decay: number }[];
  steps: StepRecord[];
}

/** Initial tensors under the model's parameter names (`bert.` for the encoder, as the gradients file names them). */
function initialTensors(files: string[][]): Map<string, { shape: number[]; values: Float32Array }> {
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const parts of files) {
    for (const [name, entry] of readSafetensors(sharedPath(...parts)).tensors) tensors.set(name.startsWith('heads.') ? name : `bert.${name}`, entry);
  }
  return tensors;
}

function norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] as number) ** 2;
  return Math.sqrt(sum);
}

// The first optimizer step of the reference's ST-A and fusion trainings, from its recorded step-1 gradients: the
// gradient norm, the clipping coefficient and every tensor's norm after the AdamW update must match. (Later steps
// need the forward pass; the adapters and fusion tests replay those through the Trainer.)
describe.skipIf(!hasShared(...TRAJECTORY))('the first AdapterHub training step, replayed with clipByGlobalNorm and AdamW', () => {
  // Read before the tests, not while vitest collects them: it runs a skipped suite's body too.
  let expected: { runs: Record<string, Run> };
  beforeAll(() => {
    expected = JSON.parse(readFileSync(sharedPath(...TRAJECTORY, 'expected.json'), 'utf8')) as { runs: Record<string, Run> };
  });
  const starts: Record<string, string[][]> = {
    'st-a': [[...START, 'adapters', 'a', 'adapter.safetensors'], [...TRAJECTORY, 'head', 'model_head.safetensors']],
    fusion: [[...START, 'fusion', 'model_adapter_fusion.safetensors'], [...TRAJECTORY, 'head', 'model_head.safetensors']],
  };

  it.each(Object.keys(starts))('%s', async (run) => {
    const record = expected.runs[run] as Run;
    const step = record.steps[0] as StepRecord;
    const initial = initialTensors(starts[run] as string[][]);
    const gradients = readSafetensors(sharedPath(...TRAJECTORY, 'grads', `${run}-step1.safetensors`)).tensors;
    const variables = new Map<string, tf.Variable>();
    const grads = new Map<string, tf.Tensor>();
    for (const { name, shape, weight_decay: weightDecay } of record.trainable) {
      expect(isDecayed(name), name).toBe(weightDecay > 0);
      const start = initial.get(name);
      const gradient = gradients.get(name);
      if (!start || !gradient) throw new Error(`fixture lacks "${name}"`);
      variables.set(name, tf.variable(tf.tensor(start.values, shape)));
      grads.set(name, tf.tensor(gradient.values, shape));
      expect(norm(gradient.values)).toBeCloseTo(step.grad_norms[name] as number, 6);
    }
    const { grads: clipped, norm: total } = await clipByGlobalNorm(grads, 1.0);
    expect(Math.abs(total - step.grad_norm) / step.grad_norm).toBeLessThan(1e-6);
    const first = record.trainable[0]?.name ?? '';
    expect(norm(clipped.get(first)?.dataSync() ?? []) / norm(grads.get(first)?.dataSync() ?? [])).toBeCloseTo(step.clip_coef, 6);
    const optimizer = new AdamW(variables, { weightDecay: 0.01, adamBeta1: 0.9, adamBeta2: 0.999, adamEpsilon: 1e-8 });
    optimizer.apply(clipped, 1e-3);
    for (const [name, variable] of variables) {
      const after = step.param_norms_after[name] as number;
      expect(Math.abs(norm(variable.dataSync()) - after), name).toBeLessThan(2e-6 * Math.max(1, after));
      // The update moved it: an optimizer that did nothing would not pass by accident.
      expect(Math.abs(norm(variable.dataSync()) - norm(initial.get(name)?.values ?? [])), name).toBeGreaterThan(1e-5);
    }
    optimizer.dispose();
    tf.dispose([...variables.values(), ...grads.values(), ...clipped.values()]);
  });
});
