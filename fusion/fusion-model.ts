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
  type SplitPredictions,
  type TrainerOptions,
  type TrainingConfig,
} from '../src/index';
import type { AdapterFusion } from './adapter-fusion';
import type { AttentionRecorder } from './attention-recorder';
import type { RegularizationTiming } from './fusion-config';
import type { FusionOptions, TemperatureSchedule } from './fusion-options';

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
 * The `linear` schedule's temperature at a training step (1-based): 1, or with `temperature` on, annealed linearly from
 * 50 at the first step to 1 at the last planned step.
 */
export function temperatureAt(step: number, totalSteps: number, settings: FusionOptions): number {
  if (!settings.temperature || totalSteps <= 1) return 1;
  const progress = Math.min(1, Math.max(0, (step - 1) / (totalSteps - 1)));
  return INITIAL_TEMPERATURE + (1 - INITIAL_TEMPERATURE) * progress;
}

/**
 * AdapterHub's temperature at its forward call number `calls` (0-based) since the fusion was created or loaded:
 * `BertFusion.T` starts at 50 and after every call, training or evaluation, becomes max(T − 0.05, 1), step by step in
 * float64 as Python takes them (call 980 runs at 1.0000000000007, every call from 981 on at 1).
 */
export function adapterHubTemperature(calls: number): number {
  const reduction = INITIAL_TEMPERATURE / 1000;
  let temperature = INITIAL_TEMPERATURE;
  for (let call = 0; call < calls && temperature > 1; call++) temperature = Math.max(temperature - reduction, 1);
  return temperature;
}

/** The manifest's account of a run's temperatures: 1 without `temperature`, else the schedule and where it went. */
export type TemperatureRecord =
  | 1
  | { schedule: 'linear'; start: number; end: number; totalSteps: number; atBestStep: number }
  | { schedule: 'adapterhub'; start: number; forwardCalls: number; end: number; atBestStep: number };

/**
 * The softmax temperature of every forward call of one composition-stage run: 1 unless the fusion has `temperature`
 * on, else its schedule's. `linear` depends on the optimizer step only (`temperatureAt`); evaluation runs at the
 * temperature of the step it follows. `adapterhub` counts the forward calls since this object was made, training
 * micro-batches and evaluation batches alike (`adapterHubTemperature`), as AdapterHub's module counts them from its
 * creation or loading. The fusion layer stays pure: each call's temperature is its input.
 */
export class FusionTemperature {
  private calls = 0;
  /** `adapterhub`: the temperature of each step's last training call. */
  private readonly ofSteps = new Map<number, number>();

  constructor(
    private readonly settings: FusionOptions,
    private readonly schedule: TemperatureSchedule,
    private readonly totalSteps: number,
  ) {}

  /** The temperature of a training forward call (one micro-batch) of optimizer step `step` (1-based). */
  training(step: number): number {
    const temperature = this.next(step);
    if (this.schedule === 'adapterhub') this.ofSteps.set(step, temperature);
    return temperature;
  }

  /** The temperature of an evaluation forward call (one batch) after `step` optimizer steps. */
  evaluation(step: number): number {
    return this.next(step);
  }

  /**
   * The temperature the weights of `step` were trained at, for inference with them. `adapterhub` knows it for the
   * steps of this run; for an earlier one (a resumed run starts again at 50, as AdapterHub's does) it gives the current.
   */
  atStep(step: number): number {
    if (!this.settings.temperature) return 1;
    if (this.schedule === 'linear') return temperatureAt(step, this.totalSteps, this.settings);
    return this.ofSteps.get(step) ?? adapterHubTemperature(this.calls);
  }

  /** What the manifest records, with the temperature of the kept weights (`atStep(bestStep)`). */
  record(bestStep: number): TemperatureRecord {
    if (!this.settings.temperature) return 1;
    const atBestStep = this.atStep(bestStep);
    return this.schedule === 'linear'
      ? { schedule: 'linear', start: INITIAL_TEMPERATURE, end: 1, totalSteps: this.totalSteps, atBestStep }
      : { schedule: 'adapterhub', start: INITIAL_TEMPERATURE, forwardCalls: this.calls, end: adapterHubTemperature(this.calls), atBestStep };
  }

  private next(step: number): number {
    if (!this.settings.temperature) return 1;
    return this.schedule === 'linear' ? temperatureAt(step, this.totalSteps, this.settings) : adapterHubTemperature(this.calls++);
  }
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

/** An inference pass over batches: one temperature for all, or a function asked once per batch, in order. */
export interface EvaluationPass extends Omit<FusionPass, 'training' | 'dropoutSeed' | 'temperature'> {
  temperature: number | (() => number);
}

/** The task's metrics of the model on labelled batches, in inference mode. */
export async function evaluateBatches(model: FusionModel, batches: readonly Batch[], metrics: readonly string[], pass: EvaluationPass): Promise<Record<string, number>> {
  const predict = (temperature: number, part: readonly Batch[]): Promise<SplitPredictions> => {
    const hook = model.fusion.hook({ temperature, ...(pass.adapterMask ? { adapterMask: pass.adapterMask } : {}), ...(pass.recorder ? { recorder: pass.recorder } : {}) });
    return predictWithModel({ backbone: model.backbone, head: model.head, hook }, part, firstTokenOnly(model, pass));
  };
  const { temperature } = pass;
  if (typeof temperature === 'number') return scorePredictions(model.head.spec, metrics, await predict(temperature, batches));
  const split: SplitPredictions = { ids: [], predictions: [], golds: [] };
  for (const batch of batches) {
    const part = await predict(temperature(), [batch]);
    split.ids.push(...part.ids);
    split.predictions.push(...part.predictions);
    split.golds.push(...part.golds);
  }
  return scorePredictions(model.head.spec, metrics, split);
}

/** How the composition stage's trainer is set up beyond the model. */
export interface FusionTrainerOptions extends Omit<TrainerOptions<Batch>, 'trainable' | 'frozen' | 'loss' | 'deferredLoss' | 'config'> {
  config: TrainingConfig;
  regularizationTiming: RegularizationTiming;
  /** The temperature of each training forward call. */
  temperature: FusionTemperature;
  /** The task's loss (a plugin's own, or the head's default). */
  loss: (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar;
}

/**
 * A Trainer for the composition stage: trains the fusion and head only, at the scheduled temperature, with the
 * regularization 0.01·Σ‖I − W_V‖² (when the fusion has value matrices and `regularization` is on) added to each step's
 * loss or, with `adaptertrainer` timing, applied as AdapterHub's AdapterTrainer does (deferred to the next step).
 */
export function createFusionTrainer(model: FusionModel, options: FusionTrainerOptions): Trainer<Batch> {
  const { regularizationTiming, temperature, loss, ...trainerOptions } = options;
  const { settings } = model.fusion;
  const regularized = settings.value && settings.regularization;
  const spec = model.head.spec;
  return new Trainer<Batch>({
    ...trainerOptions,
    ...fusionVariables(model),
    loss: (batch, { step, random }) => {
      const tensors = batchToTensors(batch, spec);
      const logits = fusionLogits(model, tensors, { training: true, temperature: temperature.training(step), dropoutSeed: random.int(2 ** 31) });
      const taskLoss = loss(logits, tensors.labels as tf.Tensor);
      return regularized && regularizationTiming === 'same-step' ? tf.add(taskLoss, model.fusion.regularizationLoss()) : taskLoss;
    },
    ...(regularized && regularizationTiming === 'adaptertrainer' ? { deferredLoss: () => model.fusion.regularizationLoss() } : {}),
  });
}
