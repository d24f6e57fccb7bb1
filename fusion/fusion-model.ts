import * as tf from '@tensorflow/tfjs-core';
import {
  batchToTensors,
  predictWithModel,
  scorePredictions,
  Trainer,
  type Batch,
  type BertModel,
  type BottleneckAdapter,
  type PredictionHead,
  type TrainerOptions,
  type TrainingConfig,
} from '../src/index';
import type { AdapterFusion } from './adapter-fusion';
import type { AttentionRecorder } from './attention-recorder';
import type { RegularizationTiming } from './fusion-config';
import type { FusionSettings } from './fusion-options';

/** Everything a fusion computes with: the frozen backbone and adapters, the trained fusion and target head. */
export interface FusionModel {
  backbone: BertModel;
  adapters: readonly BottleneckAdapter[];
  fusion: AdapterFusion;
  head: PredictionHead;
}

/** One pass of a fusion model. */
export interface FusionPass {
  training: boolean;
  temperature: number;
  /** Per adapter (fusion order): 1 keeps it, 0 removes it (see `AdapterFusion.hook`). */
  adapterMask?: readonly number[];
  recorder?: AttentionRecorder;
  /** Seeds every dropout mask of a training pass. */
  dropoutSeed?: number;
}

/** Temperature at the start of the annealing schedule (Pfeiffer et al. 2021; AdapterHub `BertFusion.T`). */
export const INITIAL_TEMPERATURE = 50;

/**
 * The softmax temperature of a training step (1-based): 1, or with `temperature` on, annealed linearly from 50 at the
 * first step to 1 at the last planned step. (AdapterHub lowers it by 0.05 on every forward call, evaluation included,
 * and does not save it; a schedule on the step count is the same every run and resumes exactly.)
 */
export function temperatureAt(step: number, totalSteps: number, settings: FusionSettings): number {
  if (!settings.temperature || totalSteps <= 1) return 1;
  const progress = Math.min(1, Math.max(0, (step - 1) / (totalSteps - 1)));
  return INITIAL_TEMPERATURE + (1 - INITIAL_TEMPERATURE) * progress;
}

/** Whether a pass may skip the last layer's other tokens: a recorder averages the fusion attention over every token. */
function firstTokenOnly(model: FusionModel, pass: Pick<FusionPass, 'recorder'>): boolean {
  return model.head.readsFirstTokenOnly && !pass.recorder;
}

/** The target head's logits for one batch, through the backbone with the adapters and fusion hooked in. */
export function fusionLogits(model: FusionModel, batch: ReturnType<typeof batchToTensors>, pass: FusionPass): tf.Tensor {
  return tf.tidy(() => {
    const { inputIds, attentionMask, tokenTypeIds } = batch;
    const seed = pass.dropoutSeed;
    const hook = model.fusion.hook({
      temperature: pass.temperature,
      ...(pass.adapterMask ? { adapterMask: pass.adapterMask } : {}),
      ...(pass.recorder ? { recorder: pass.recorder } : {}),
      ...(seed === undefined ? {} : { dropoutSeed: seed + 1 }),
    });
    const output = model.backbone.forward({ inputIds, attentionMask, tokenTypeIds }, { training: pass.training, hook, firstTokenOnly: firstTokenOnly(model, pass), ...(seed === undefined ? {} : { dropoutSeed: seed }) });
    return model.head.forward(output.lastHiddenState, output.pooledOutput, pass.training, seed === undefined ? undefined : seed + 2);
  });
}

/**
 * The one place that decides what the composition stage trains: the fusion weights (by AdapterHub name) and the
 * target head. The backbone and every adapter are frozen.
 */
export function fusionVariables(model: FusionModel): { trainable: Map<string, tf.Variable>; frozen: Map<string, tf.Variable> } {
  return {
    trainable: new Map([...model.fusion.variables, ...model.head.variables]),
    frozen: new Map([...model.backbone.weights, ...model.adapters.flatMap((adapter) => [...adapter.variables])]),
  };
}

/** The task's metrics of the model on labelled batches, in inference mode. */
export async function evaluateBatches(model: FusionModel, batches: readonly Batch[], metrics: readonly string[], pass: Omit<FusionPass, 'training' | 'dropoutSeed'>): Promise<Record<string, number>> {
  const hook = model.fusion.hook({ temperature: pass.temperature, ...(pass.adapterMask ? { adapterMask: pass.adapterMask } : {}), ...(pass.recorder ? { recorder: pass.recorder } : {}) });
  return scorePredictions(model.head.spec, metrics, await predictWithModel({ backbone: model.backbone, head: model.head, hook }, batches, firstTokenOnly(model, pass)));
}

/** How the composition stage's trainer is set up beyond the model. */
export interface FusionTrainerOptions extends Omit<TrainerOptions<Batch>, 'trainable' | 'frozen' | 'loss' | 'deferredLoss' | 'config'> {
  config: TrainingConfig;
  regularizationTiming: RegularizationTiming;
  /** Optimizer steps planned, for the temperature schedule. */
  totalSteps: number;
  /** The task's loss (a plugin's own, or the head's default). */
  loss: (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar;
}

/**
 * A Trainer for the composition stage: trains the fusion and head only, at the scheduled temperature, with the
 * regularization 0.01·Σ‖I − W_V‖² (when the fusion has value matrices and `regularization` is on) added to each step's
 * loss or, with `adaptertrainer` timing, applied as AdapterHub's AdapterTrainer does (deferred to the next step).
 */
export function createFusionTrainer(model: FusionModel, options: FusionTrainerOptions): Trainer<Batch> {
  const { regularizationTiming, totalSteps, loss, ...trainerOptions } = options;
  const { settings } = model.fusion;
  const regularized = settings.value && settings.regularization;
  const spec = model.head.spec;
  return new Trainer<Batch>({
    ...trainerOptions,
    ...fusionVariables(model),
    loss: (batch, { step, random }) => {
      const tensors = batchToTensors(batch, spec);
      const logits = fusionLogits(model, tensors, { training: true, temperature: temperatureAt(step, totalSteps, settings), dropoutSeed: random.int(2 ** 31) });
      const taskLoss = loss(logits, tensors.labels as tf.Tensor);
      return regularized && regularizationTiming === 'same-step' ? tf.add(taskLoss, model.fusion.regularizationLoss()) : taskLoss;
    },
    ...(regularized && regularizationTiming === 'adaptertrainer' ? { deferredLoss: () => model.fusion.regularizationLoss() } : {}),
  });
}
