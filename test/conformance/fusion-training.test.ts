// Six AdapterFusion training steps against AdapterHub 1.0.1: ../shared/conformance/adapterhub-training-trajectory
// (README "The training loop"), runs `fusion` (regularization in the same step) and `fusion-adaptertrainer-order`.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { AdapterFusion } from '../../fusion/adapter-fusion';
import type { RegularizationTiming } from '../../fusion/fusion-config';
import { createFusionTrainer, fusionLogits, FusionTemperature, type FusionModel } from '../../fusion/fusion-model';
import { batchToTensors, BertModel, BottleneckAdapter, loadHead, readSafetensors, TrainingConfig, validateConfig, type Batch } from '../../src/index';
import { describeOnBackends } from '../backends';
import { hasShared, sharedPath } from '../shared-fixtures';

const START = ['conformance', 'adapterhub-seqbn-fusion'];
const TRAJECTORY = ['conformance', 'adapterhub-training-trajectory'];

interface Step {
  loss: number;
  ce_loss: number;
  grad_norm: number;
  fusion_reg_loss?: number;
  fusion_reg_loss_at_step_end?: number;
}
interface Run {
  logits_before: number[][];
  logits_after: number[][];
  steps: Step[];
}
interface Inputs {
  batches: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][]; labels: number[] }[];
}

async function maxDifference(actual: tf.Tensor, expected: unknown): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, tf.tensor(expected as number[])))));
  const value = (await difference.data())[0] as number;
  difference.dispose();
  return value;
}

/** A tensor's bytes, to compare weights bit for bit. */
async function bytes(tensor: tf.Tensor): Promise<string> {
  return Buffer.from((await tensor.data()).buffer).toString('base64');
}

/**
 * The starting backbone with every dropout at 0, as the fixture's model was loaded: its config.json beside a link to
 * its weights (nothing is copied).
 */
function backboneWithoutDropout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'af-fusion-trajectory-'));
  const config = JSON.parse(readFileSync(sharedPath(...START, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }));
  symlinkSync(sharedPath(...START, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

describeOnBackends('AdapterFusion training against the AdapterHub trajectory', !hasShared(...TRAJECTORY) || !hasShared(...START), () => {
  // Read before the tests, not while vitest collects them: it runs a skipped suite's body too.
  let expected: { runs: Record<string, Run> };
  let batches: Batch[];
  beforeAll(() => {
    expected = JSON.parse(readFileSync(sharedPath(...TRAJECTORY, 'expected.json'), 'utf8')) as { runs: Record<string, Run> };
    const inputs = JSON.parse(readFileSync(sharedPath(...TRAJECTORY, 'inputs.json'), 'utf8')) as Inputs;
    batches = inputs.batches.map((b, k) => ({
      ids: b.labels.map((_, i) => `${k}-${i}`),
      inputIds: b.input_ids,
      tokenTypeIds: b.token_type_ids,
      attentionMask: b.attention_mask,
      labels: b.labels,
    }));
  });
  const lr = 1e-3;

  async function loadModel(): Promise<FusionModel> {
    const backbone = await BertModel.fromPretrained(backboneWithoutDropout());
    const adapters = await Promise.all(['a', 'b', 'c'].map((name) => BottleneckAdapter.load(sharedPath(...START, 'adapters', name), backbone)));
    const fusion = await AdapterFusion.load(sharedPath(...START, 'fusion'), adapters, backbone);
    const head = await loadHead(sharedPath(...TRAJECTORY, 'head'), { hiddenSize: 32, dropoutProb: 0 });
    return { backbone, adapters, fusion, head };
  }

  const logitsOn = (model: FusionModel, batch: Batch) => tf.tidy(() => fusionLogits(model, batchToTensors(batch, model.head.spec), { training: false, temperature: 1 }));

  const runs: [string, RegularizationTiming][] = [['fusion', 'same-step'], ['fusion-adaptertrainer-order', 'adaptertrainer']];
  for (const [runName, timing] of runs) {
    it(`replays run "${runName}": per-step loss, regularization, gradient norm, logits and final weights`, async () => {
      const run = expected.runs[runName] as Run;
      const model = await loadModel();
      const frozen = [...model.backbone.weights.values(), ...model.adapters.flatMap((adapter) => [...adapter.variables.values()])];
      const frozenBefore = await Promise.all(frozen.map(bytes));
      const keyBiasesBefore = await Promise.all([...model.fusion.variables].filter(([name]) => name.endsWith('key.bias')).map(async ([name, v]) => [name, (await v.data()).slice()] as const));
      expect(await maxDifference(logitsOn(model, batches[0] as Batch), run.logits_before)).toBeLessThan(1e-4);

      const config = validateConfig(TrainingConfig, { learningRate: lr, schedule: 'constant', weightDecay: 0.01, maxGradNorm: 1, epochs: 1, maxSteps: 6 });
      const trainer = createFusionTrainer(model, { config, regularizationTiming: timing, temperature: new FusionTemperature(model.fusion.settings, 'linear', 6), loss: (logits, labels) => model.head.loss(logits, labels), log: () => undefined });
      let tensorsAfterStep2 = 0;
      for (const [k, step] of run.steps.entries()) {
        const reg = model.fusion.regularizationLoss();
        if (step.fusion_reg_loss !== undefined) expect(Math.abs(((await reg.data())[0] as number) - step.fusion_reg_loss)).toBeLessThan(1e-5);
        reg.dispose();
        const result = await trainer.step([batches[k] as Batch]);
        expect(Math.abs(result.loss - step.loss), `step ${k + 1} loss`).toBeLessThan(1e-5);
        expect(Math.abs(result.gradNorm - step.grad_norm) / step.grad_norm, `step ${k + 1} grad norm`).toBeLessThan(1e-5);
        if (step.fusion_reg_loss_at_step_end !== undefined) {
          const end = model.fusion.regularizationLoss();
          expect(Math.abs(((await end.data())[0] as number) - step.fusion_reg_loss_at_step_end)).toBeLessThan(1e-5);
          end.dispose();
        }
        if (k === 1) tensorsAfterStep2 = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(tensorsAfterStep2);
      expect(await maxDifference(logitsOn(model, batches[0] as Batch), run.logits_after)).toBeLessThan(1e-4);

      // Final weights: fusion (without key.bias, whose exact gradient is 0: see the fixture's README) and head.
      const fusionFile = readSafetensors(sharedPath(...TRAJECTORY, 'final', runName, 'fusion', 'model_adapter_fusion.safetensors')).tensors;
      const headFile = readSafetensors(sharedPath(...TRAJECTORY, 'final', runName, 'head', 'model_head.safetensors')).tensors;
      let compared = 0;
      for (const [name, variable] of [...model.fusion.variables, ...model.head.variables]) {
        if (name.endsWith('key.bias')) continue;
        const entry = fusionFile.get(`bert.${name}`) ?? headFile.get(name);
        expect(entry, name).toBeDefined();
        const stored = tf.tensor(entry?.values ?? [], entry?.shape);
        const value = variable.rank === 2 ? tf.transpose(variable) : variable;
        expect(await maxDifference(value, await stored.array()), name).toBeLessThan(1e-5);
        compared++;
      }
      expect(compared).toBe(8 + 4);
      for (const [name, before] of keyBiasesBefore) {
        const after = await (model.fusion.variables.get(name) as tf.Variable).data();
        before.forEach((value, i) => expect(Math.abs((after[i] as number) - value)).toBeLessThanOrEqual(6 * lr + 1e-7));
      }
      // The backbone and every adapter are bit for bit what they were.
      expect(await Promise.all(frozen.map(bytes))).toEqual(frozenBefore);
      trainer.dispose();
    });
  }
});
