import * as tf from '@tensorflow/tfjs-core';
import { appendFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeDirectory, writeFileAtomic, writeJsonAtomic } from '../io/atomic';
import { fileError, readJsonFile, readTextFile } from '../io/read-file';
import { writeSafetensors, type SafetensorsTensor } from '../io/safetensors';
import { SeededRandom } from '../util/random';
import { AdamW } from './adamw';
import { clipByGlobalNorm } from './clip-by-global-norm';
import { learningRateAt } from './learning-rate-at';
import { formatDuration, ProgressBar } from './progress-bar';
import { allFinite, assignSnapshot, readSnapshot, snapshotTensors } from './tensor-snapshot';
import type { TrainingConfig } from './training-config';

/** What the loss closure learns about the step it computes. */
export interface TrainContext {
  /** 1-based number of the optimizer step this loss contributes to. */
  step: number;
  /** 0-based epoch. */
  epoch: number;
  /** The training generator (seeded by `config.seed`, saved in checkpoints): draw dropout seeds from it. */
  random: SeededRandom;
}

/** Everything a `Trainer` needs; only the `trainable` variables change. */
export interface TrainerOptions<B> {
  config: TrainingConfig;
  /** The variables to optimize, by name (names decide weight decay and checkpoint keys). */
  trainable: ReadonlyMap<string, tf.Variable>;
  /** The model's other variables: never changed, counted in the start-up log line. */
  frozen: ReadonlyMap<string, tf.Variable>;
  /** The mean loss over one micro-batch, computed in training mode; tensors it creates are freed by the trainer. */
  loss: (batch: B, context: TrainContext) => tf.Scalar;
  /**
   * A loss whose gradient is taken at the updated weights after each step and added to the next step's gradients
   * before clipping (the last one is dropped), as AdapterHub's AdapterTrainer applies the fusion regularization.
   */
  deferredLoss?: () => tf.Scalar;
  /** Scores the current weights on held-out data (in inference mode). */
  evaluate?: () => Promise<Record<string, number>>;
  /** The metric that selects the best weights and drives early stopping: the first one returned unless named. Higher is better, except for `loss`. */
  primaryMetric?: string;
  /** Where resumable state and the best weights go (atomically). */
  checkpointDir?: string;
  /** A JSON-lines file that gets one line per logged step and per evaluation. */
  metricsLog?: string;
  /** Receives whole log lines; default: stderr. */
  log?: (line: string) => void;
  /** Draw a progress bar when stderr is a terminal (default true); otherwise log a line every `logEverySteps`. */
  progress?: boolean;
  /**
   * What the run trains on, by name (`training data`, `configuration`, ...), each as a hash: recorded in checkpoints,
   * and a resume over a different one is refused, naming the parts that differ.
   */
  fingerprint?: Readonly<Record<string, string>>;
}

/** How `fit` treats a checkpoint already in `checkpointDir`. */
export interface FitOptions {
  /** Continue from it. */
  resume?: boolean;
  /** Discard it and start from step 0. Without either option an existing checkpoint is an error, never lost silently. */
  restart?: boolean;
}

/** A checkpoint cannot be used as asked: one exists where a new run would start, or it does not fit this run. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';

  constructor(
    /** The checkpoint directory or file. */
    readonly path: string,
    problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/**
 * Training diverged: a non-finite loss or weight, or a loss that grew past `divergenceFactor` times the first step's.
 * Nothing of the diverged weights is saved.
 */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';

  constructor(
    readonly step: number,
    readonly learningRate: number,
    detail: string,
  ) {
    super(`training diverged at step ${step} (learning rate ${learningRate}): ${detail}; lower learningRate (or raise warmupSteps) and start again with --restart`);
  }
}

/** What one optimizer step did. */
export interface StepResult {
  /** 1-based number of the step. */
  step: number;
  /** Mean loss over the step's micro-batches (without the deferred loss). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  learningRate: number;
}

/** One evaluation: when, and what it measured. */
export interface EvaluationRecord {
  step: number;
  /** Epochs completed, with the fraction of the current one. */
  epoch: number;
  metrics: Record<string, number>;
}

/** How training went. */
export interface TrainResult {
  /** Optimizer steps done. */
  steps: number;
  /** Epochs done, with the fraction of the last one. */
  epochs: number;
  /** Metrics of the best evaluation (empty without `evaluate`). */
  bestMetrics: Record<string, number>;
  /** The step whose weights the variables hold now (the last step without `evaluate`). */
  bestStep: number;
  stoppedEarly: boolean;
  history: EvaluationRecord[];
}

/** What a run directory's manifest keeps of a finished training (`RunDirectory.recordStage`). */
export function trainingRecord(result: TrainResult): Pick<TrainResult, 'bestStep' | 'steps' | 'epochs' | 'stoppedEarly'> & { metrics: Record<string, number> } {
  return { metrics: result.bestMetrics, bestStep: result.bestStep, steps: result.steps, epochs: result.epochs, stoppedEarly: result.stoppedEarly };
}

/** The best evaluation so far and the weights it was made with. */
interface Best {
  value: number;
  metrics: Record<string, number>;
  step: number;
  weights: Map<string, SafetensorsTensor>;
}

/** `state.json` in a checkpoint directory; the weight files it names hold the weights of the same step. */
interface CheckpointState {
  formatVersion: 1;
  step: number;
  /** Optimizer steps the run planned (the schedule's length). */
  totalSteps: number;
  /** The epoch to continue in, and how many of its micro-batches are done. */
  epoch: number;
  position: number;
  /** Epochs completed, with the fraction of the current one. */
  epochs: number;
  randomState: number;
  badEvaluations: number;
  best?: { value: number; metrics: Record<string, number>; step: number };
  history: EvaluationRecord[];
  finished: boolean;
  stoppedEarly: boolean;
  files: { trainable: string; optimizer: string; best?: string };
  config: TrainingConfig;
  /** The loss of the first step, against which divergence is measured. */
  firstLoss?: number;
  /** `TrainerOptions.fingerprint` of the run that wrote it. */
  fingerprint?: Record<string, string>;
}

/** One line of the metrics log (evaluation metrics are added with an `eval_` prefix). */
interface MetricsLine {
  step: number;
  /** Epochs completed, with the fraction of the current one. */
  epoch: number;
  /** Mean training loss since the previous line. */
  loss: number;
  learningRate: number;
  gradNorm: number;
  examplesPerSecond: number;
}

/** Window totals between two logged lines. */
interface LogWindow {
  steps: number;
  lossSum: number;
  microBatches: number;
  started: number;
}

const STATE_FILE = 'state.json';

function countParameters(variables: ReadonlyMap<string, tf.Variable>): number {
  let count = 0;
  for (const variable of variables.values()) count += variable.size;
  return count;
}

/** The step of a metrics-log line; Infinity for a line that is not one (a torn last line is dropped). */
function stepOf(line: string): number {
  try {
    const step = (JSON.parse(line) as { step?: unknown }).step;
    return typeof step === 'number' ? step : Infinity;
  } catch {
    return Infinity;
  }
}

function round(value: number, digits = 6): number {
  return Number(value.toPrecision(digits));
}

/**
 * Trains `trainable` variables with AdamW: gradient accumulation, global-norm clipping, warm-up and decay, evaluation
 * every epoch or every N steps, early stopping, the best weights kept (and restored at the end), atomic checkpoints
 * that `fit(..., { resume: true })` continues from exactly, progress and a JSON-lines metrics log.
 *
 * @example
 * const trainer = new Trainer({
 *   config: validateConfig(TrainingConfig, { learningRate: 1e-4, epochs: 3 }),
 *   trainable: adapter.variables,
 *   frozen: backbone.weights,
 *   loss: (batch, { random }) => head.loss(forward(batch, { training: true, seed: random.int(2 ** 31) }), batch.labels),
 *   evaluate: async () => ({ accuracy: await accuracyOnDev() }),
 *   checkpointDir: run.checkpointDir('extract', 'rte'),
 * });
 * const result = await trainer.fit((epoch) => makeBatches(encoded, { batchSize: 32, shuffle: true, seed: 42 + epoch }));
 * trainer.dispose();
 */
export class Trainer<B> {
  readonly config: TrainingConfig;
  private readonly optimizer: AdamW;
  private readonly random: SeededRandom;
  private readonly trainable: ReadonlyMap<string, tf.Variable>;
  /** tfjs variable name → our name, to read `tf.variableGrads` results. */
  private readonly nameOf = new Map<string, string>();
  private readonly log: (line: string) => void;
  private stepsDone = 0;
  private epoch = 0;
  private position = 0;
  private badEvaluations = 0;
  private best?: Best;
  private history: EvaluationRecord[] = [];
  private deferredGrads?: Map<string, tf.Tensor>;
  private totalSteps?: number;
  private bar?: ProgressBar;
  /** Epochs completed, with the fraction of the current one. */
  private epochs = 0;
  private fitted = false;
  private firstLoss?: number;

  constructor(private readonly options: TrainerOptions<B>) {
    this.config = options.config;
    this.trainable = options.trainable;
    const frozen = new Map([...options.frozen].map(([name, variable]) => [variable, name]));
    for (const [name, variable] of options.trainable) {
      if (!variable.trainable) throw new Error(`trainable variable "${name}" was created with trainable=false, so no gradient can reach it`);
      if (frozen.has(variable)) throw new Error(`variable "${name}" is both trainable and frozen (as "${frozen.get(variable)}")`);
      const twin = this.nameOf.get(variable.name);
      if (twin !== undefined) throw new Error(`one variable is trainable under two names, "${twin}" and "${name}"`);
      this.nameOf.set(variable.name, name);
    }
    this.optimizer = new AdamW(options.trainable, options.config);
    this.random = new SeededRandom(options.config.seed);
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Optimizer steps done so far. */
  get steps(): number {
    return this.stepsDone;
  }

  /**
   * One optimizer step over the given micro-batches: their gradients averaged (plus the deferred gradient left by the
   * previous step), clipped to `maxGradNorm`, applied by AdamW at the scheduled learning rate. Outside `fit`, the
   * linear schedule needs `config.maxSteps` to know where it ends.
   */
  async step(microBatches: readonly B[], epoch = this.epoch): Promise<StepResult> {
    if (microBatches.length === 0) throw new Error('Trainer.step: expected at least one micro-batch, got none');
    const learningRate = learningRateAt(this.stepsDone, this.config, this.scheduleLength());
    const context: TrainContext = { step: this.stepsDone + 1, epoch, random: this.random };
    const variables = [...this.trainable.values()];
    // The deferred gradient goes in first, as it sits in PyTorch's .grad before the next backward pass adds to it.
    const sum = this.deferredGrads ?? new Map<string, tf.Tensor>();
    this.deferredGrads = undefined;
    let loss = 0;
    try {
      for (const batch of microBatches) {
        // Each micro-batch's loss is divided by their number, so the summed gradient is the mean (PyTorch order).
        const { value, grads } = tf.variableGrads(() => tf.div(this.options.loss(batch, context), microBatches.length), variables);
        loss += (await value.data())[0] ?? NaN;
        value.dispose();
        this.accumulate(sum, grads);
      }
      if (!Number.isFinite(loss)) throw new TrainingDivergedError(context.step, learningRate, `the loss is ${loss} (check the labels if it happens at the first step)`);
      const { grads: clipped, norm } = await clipByGlobalNorm(sum, this.config.maxGradNorm);
      this.optimizer.apply(clipped, learningRate);
      tf.dispose([...clipped.values()]);
      this.stepsDone += 1;
      this.deferredGrads = this.computeDeferredGrads();
      return { step: this.stepsDone, loss, gradNorm: norm, learningRate };
    } finally {
      tf.dispose([...sum.values()]);
    }
  }

  /**
   * Trains until `epochs` (or `maxSteps`) are done or early stopping ends it; the variables then hold the best
   * evaluated weights. `batchesForEpoch(epoch)` must give the same micro-batches in the same order whenever it is
   * called for the same epoch (shuffle with a seed made from `config.seed` and the epoch), so that `resume` can skip
   * the ones already done and continue exactly where the checkpoint left off.
   */
  async fit(batchesForEpoch: (epoch: number) => readonly B[], options: FitOptions = {}): Promise<TrainResult> {
    if (this.fitted) throw new Error('Trainer.fit: this trainer has already trained; create a new Trainer for another run');
    this.fitted = true;
    if (options.resume && options.restart) throw new Error('Trainer.fit: expected resume or restart, got both');
    if (options.restart) this.removeCheckpoint();
    const saved = this.readCheckpoint();
    if (saved && !options.resume) {
      throw new CheckpointError(
        this.options.checkpointDir ?? '',
        `holds the checkpoint of an earlier run of this stage (step ${saved.step}${saved.finished ? ', finished' : ''}); ` +
          'run again with --resume to continue from it, or with --restart to discard it and start over',
      );
    }
    this.log(
      `training ${this.trainable.size} tensors / ${countParameters(this.trainable)} parameters, ` +
        `frozen ${this.options.frozen.size} tensors / ${countParameters(this.options.frozen)} parameters`,
    );
    if (options.resume && !saved) this.log(`no checkpoint in ${this.options.checkpointDir ?? ''}; starting from the beginning`);
    let { finished, stoppedEarly } = options.resume && saved ? this.resume(saved) : { finished: false, stoppedEarly: false };
    this.truncateMetricsLog(this.stepsDone);
    let batches = finished ? [] : batchesForEpoch(this.epoch);
    if (!finished && batches.length === 0) throw new Error(`batchesForEpoch(${this.epoch}) returned no batches; the training split is empty`);
    if (!finished && this.position >= batches.length) {
      throw new CheckpointError(this.options.checkpointDir ?? '', `continues epoch ${this.epoch + 1} at micro-batch ${this.position + 1}, but the epoch has ${batches.length}: the training data differ from the checkpoint's; run with --restart to start over`);
    }
    const accumulation = this.config.gradientAccumulationSteps;
    // A resumed run keeps the length it planned, so its schedule stays that of the uninterrupted run.
    this.totalSteps ??= this.config.maxSteps ?? Math.ceil(batches.length / accumulation) * this.config.epochs;
    if (!finished && this.options.progress !== false && process.stderr.isTTY) this.bar = new ProgressBar(process.stderr, this.totalSteps);
    const started = { time: performance.now(), step: this.stepsDone };
    let window: LogWindow = { steps: 0, lossSum: 0, microBatches: 0, started: performance.now() };
    while (!finished) {
      const group = batches.slice(this.position, this.position + accumulation);
      const result = await this.step(group);
      this.firstLoss ??= result.loss;
      const limit = this.config.divergenceFactor * Math.max(Math.abs(this.firstLoss), 1);
      if (this.config.divergenceFactor > 0 && result.loss > limit) {
        throw new TrainingDivergedError(result.step, result.learningRate, `the loss grew to ${result.loss}, over ${this.config.divergenceFactor} times the first step's ${round(this.firstLoss, 4)} (divergenceFactor)`);
      }
      this.position += group.length;
      const epochDone = this.position >= batches.length;
      this.epochs = Math.round((this.epoch + this.position / batches.length) * 1e4) / 1e4;
      if (epochDone) {
        this.epoch += 1;
        this.position = 0;
      }
      window = { ...window, steps: window.steps + 1, lossSum: window.lossSum + result.loss, microBatches: window.microBatches + group.length };
      const now = performance.now();
      const line: MetricsLine = {
        step: this.stepsDone,
        epoch: this.epochs,
        loss: window.lossSum / window.steps,
        learningRate: result.learningRate,
        gradNorm: result.gradNorm,
        examplesPerSecond: round((window.microBatches * this.config.batchSize) / Math.max(1e-9, (now - window.started) / 1000), 4),
      };
      const secondsLeft = ((now - started.time) / 1000 / (this.stepsDone - started.step)) * (this.totalSteps - this.stepsDone);
      this.report(line, secondsLeft);

      const lastStep = this.epoch >= this.config.epochs || (this.config.maxSteps !== undefined && this.stepsDone >= this.config.maxSteps);
      const scheduled = this.config.evaluateEverySteps > 0 ? this.stepsDone % this.config.evaluateEverySteps === 0 : epochDone;
      const evaluation = this.options.evaluate && (scheduled || lastStep) ? await this.evaluate() : undefined;
      stoppedEarly = this.config.earlyStoppingPatience > 0 && this.badEvaluations >= this.config.earlyStoppingPatience;
      if (evaluation || this.stepsDone % this.config.logEverySteps === 0) {
        this.writeMetricsLine(line, evaluation);
        window = { steps: 0, lossSum: 0, microBatches: 0, started: performance.now() };
      }
      finished = lastStep || stoppedEarly;
      const checkpointDue = this.config.checkpointEverySteps > 0 && this.stepsDone % this.config.checkpointEverySteps === 0;
      if (finished || evaluation || checkpointDue) await this.saveCheckpoint(finished, stoppedEarly);
      if (epochDone && !finished) batches = batchesForEpoch(this.epoch);
    }
    this.bar?.finish();
    this.bar = undefined;
    if (stoppedEarly) this.log(`stopped early: ${this.primaryName()} did not improve in ${this.config.earlyStoppingPatience} evaluations`);
    if (this.best) {
      assignSnapshot(this.trainable, this.best.weights);
      this.log(`restored the best weights (step ${this.best.step}, ${this.primaryName()} ${round(this.best.value, 4)})`);
    }
    tf.dispose([...(this.deferredGrads?.values() ?? [])]);
    this.deferredGrads = undefined;
    return {
      steps: this.stepsDone,
      epochs: this.epochs,
      bestMetrics: this.best?.metrics ?? {},
      bestStep: this.best?.step ?? this.stepsDone,
      stoppedEarly,
      history: this.history,
    };
  }

  /** Frees the optimizer state and any pending deferred gradient (the trained variables stay). */
  dispose(): void {
    this.optimizer.dispose();
    tf.dispose([...(this.deferredGrads?.values() ?? [])]);
    this.deferredGrads = undefined;
  }

  /** Adds `tf.variableGrads` results into `sum` (by our names), freeing what it replaces. */
  private accumulate(sum: Map<string, tf.Tensor>, grads: tf.NamedTensorMap): void {
    for (const [variableName, g] of Object.entries(grads)) {
      const name = this.nameOf.get(variableName) as string;
      const previous = sum.get(name);
      if (previous) {
        sum.set(name, tf.add(previous, g));
        tf.dispose([previous, g]);
      } else {
        sum.set(name, g);
      }
    }
  }

  private computeDeferredGrads(): Map<string, tf.Tensor> | undefined {
    if (!this.options.deferredLoss) return undefined;
    const { value, grads } = tf.variableGrads(this.options.deferredLoss, [...this.trainable.values()]);
    value.dispose();
    const named = new Map<string, tf.Tensor>();
    this.accumulate(named, grads);
    return named;
  }

  private scheduleLength(): number {
    const total = this.totalSteps ?? this.config.maxSteps;
    const needsLength = this.config.schedule === 'linear' || (this.config.warmupSteps === 0 && this.config.warmupRatio > 0);
    if (total === undefined && needsLength) {
      throw new Error('Trainer.step: the learning-rate schedule needs the number of steps; set config.maxSteps or train with fit()');
    }
    return total ?? 0;
  }

  private primaryName(): string {
    return this.options.primaryMetric ?? Object.keys(this.best?.metrics ?? this.history.at(-1)?.metrics ?? {})[0] ?? 'metric';
  }

  /** Runs the evaluation, keeps the best weights and counts evaluations without improvement. */
  private async evaluate(): Promise<Record<string, number>> {
    const evaluate = this.options.evaluate as () => Promise<Record<string, number>>;
    const metrics = await evaluate();
    const name = this.options.primaryMetric ?? Object.keys(metrics)[0];
    const value = name === undefined ? undefined : metrics[name];
    if (name === undefined || value === undefined) {
      throw new Error(`evaluate() returned no "${name ?? 'primary'}" metric (got ${JSON.stringify(metrics)}); set primaryMetric to one it returns`);
    }
    this.history.push({ step: this.stepsDone, epoch: this.epochs, metrics });
    const lowerIsBetter = name === 'loss';
    const improved = Number.isFinite(value) && (this.best === undefined || (lowerIsBetter ? value < this.best.value : value > this.best.value));
    if (improved) {
      this.best = { value, metrics, step: this.stepsDone, weights: await this.finiteSnapshot() };
      this.badEvaluations = 0;
    } else {
      this.badEvaluations += 1;
    }
    const shown = Object.entries(metrics).map(([key, score]) => `${key} ${round(score, 4)}`).join(', ');
    const bestText = this.best ? `best ${name} ${round(this.best.value, 4)} at step ${this.best.step}` : 'no best yet';
    this.say(`evaluation at step ${this.stepsDone} (epoch ${this.epochs}): ${shown}; ${improved ? 'new best' : bestText}`);
    return metrics;
  }

  /** Draws the bar, or logs a plain line every `logEverySteps` steps. */
  private report(line: MetricsLine, secondsLeft: number): void {
    const eta = formatDuration(secondsLeft);
    if (this.bar) {
      this.bar.update(line.step, `epoch ${line.epoch.toFixed(2)} loss ${line.loss.toFixed(4)} ${line.examplesPerSecond.toFixed(1)} examples/s ETA ${eta}`);
    } else if (line.step % this.config.logEverySteps === 0) {
      this.log(
        `step ${line.step}/${this.totalSteps ?? line.step} epoch ${line.epoch.toFixed(2)}: loss ${line.loss.toFixed(4)}, ` +
          `learning rate ${line.learningRate.toExponential(2)}, grad norm ${line.gradNorm.toFixed(3)}, ` +
          `${line.examplesPerSecond.toFixed(1)} examples/s, ETA ${eta}`,
      );
    }
  }

  /** Appends a line to the metrics log; evaluation metrics get an `eval_` prefix so `loss` stays the training loss. */
  private writeMetricsLine(line: MetricsLine, evaluation?: Record<string, number>): void {
    if (!this.options.metricsLog) return;
    const evaluated = Object.entries(evaluation ?? {}).map(([key, value]) => [`eval_${key}`, value]);
    makeDirectory(dirname(this.options.metricsLog));
    try {
      appendFileSync(this.options.metricsLog, `${JSON.stringify({ ...line, ...Object.fromEntries(evaluated) })}\n`);
    } catch (error) {
      throw fileError(error, this.options.metricsLog, 'append to the metrics log');
    }
  }

  /** A log line that does not tear the progress bar. */
  private say(line: string): void {
    if (this.bar) this.bar.interrupt(() => this.log(line));
    else this.log(line);
  }

  /**
   * Writes the weight files under step-numbered names first and `state.json` last, so a crash at any point leaves the
   * previous checkpoint intact; files no longer named by `state.json` are removed afterwards.
   */
  private async saveCheckpoint(finished: boolean, stoppedEarly: boolean): Promise<void> {
    const dir = this.options.checkpointDir;
    if (!dir) return;
    makeDirectory(dir);
    const files: CheckpointState['files'] = {
      trainable: `trainable-${this.stepsDone}.safetensors`,
      optimizer: `optimizer-${this.stepsDone}.safetensors`,
    };
    const metadata = { step: String(this.stepsDone) };
    writeSafetensors(join(dir, files.trainable), Object.fromEntries(await this.finiteSnapshot()), metadata);
    await this.optimizer.saveState(join(dir, files.optimizer));
    if (this.best) {
      files.best = `best-${this.best.step}.safetensors`;
      if (!existsSync(join(dir, files.best))) writeSafetensors(join(dir, files.best), Object.fromEntries(this.best.weights), { step: String(this.best.step) });
    }
    const state: CheckpointState = {
      formatVersion: 1,
      step: this.stepsDone,
      totalSteps: this.totalSteps ?? this.stepsDone,
      epoch: this.epoch,
      position: this.position,
      epochs: this.epochs,
      randomState: this.random.getState(),
      badEvaluations: this.badEvaluations,
      ...(this.best ? { best: { value: this.best.value, metrics: this.best.metrics, step: this.best.step } } : {}),
      history: this.history,
      finished,
      stoppedEarly,
      files,
      config: this.config,
      ...(this.firstLoss === undefined ? {} : { firstLoss: this.firstLoss }),
      ...(this.options.fingerprint ? { fingerprint: { ...this.options.fingerprint } } : {}),
    };
    writeJsonAtomic(join(dir, STATE_FILE), state);
    const keep = new Set<string>([STATE_FILE, ...Object.values(files)]);
    for (const entry of readdirSync(dir)) {
      if (entry.endsWith('.safetensors') && !keep.has(entry)) rmSync(join(dir, entry), { force: true });
    }
  }

  /** Drops metrics-log lines after `step`: those of an earlier run, or of steps a resumed run does again. */
  private truncateMetricsLog(step: number): void {
    const file = this.options.metricsLog;
    if (!file || !existsSync(file)) return;
    const kept = readTextFile(file)
      .split('\n')
      .filter((line) => stepOf(line) <= step);
    writeFileAtomic(file, kept.map((line) => `${line}\n`).join(''));
  }

  /** The trainable weights, refused when one is not finite: diverged weights are never kept or saved. */
  private async finiteSnapshot(): Promise<Map<string, SafetensorsTensor>> {
    const snapshot = await snapshotTensors(this.trainable);
    for (const [name, { values }] of snapshot) {
      if (!allFinite(values)) {
        throw new TrainingDivergedError(this.stepsDone, learningRateAt(Math.max(0, this.stepsDone - 1), this.config, this.scheduleLength()), `weight "${name}" is not finite after the step`);
      }
    }
    return snapshot;
  }

  /** The checkpoint in `checkpointDir`, if there is one; a state file that is unreadable or not a checkpoint's is an error naming it. */
  private readCheckpoint(): CheckpointState | undefined {
    const dir = this.options.checkpointDir;
    if (!dir) return undefined;
    const statePath = join(dir, STATE_FILE);
    if (!existsSync(statePath)) return undefined;
    const state = readJsonFile(statePath, 'the state of a training checkpoint (run with --restart to start over)');
    const problem = checkpointStateProblem(state);
    if (problem !== undefined) throw new CheckpointError(statePath, `${problem}; the checkpoint is damaged: run with --restart to start over`);
    return state as CheckpointState;
  }

  /** Removes the checkpoint in `checkpointDir` (its state first, so a crash half way leaves no checkpoint behind). */
  private removeCheckpoint(): void {
    const dir = this.options.checkpointDir;
    if (!dir || !existsSync(dir)) return;
    this.log(`discarding the checkpoint in ${dir} and starting over`);
    try {
      rmSync(join(dir, STATE_FILE), { force: true });
      rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      throw fileError(error, dir, 'remove the checkpoint');
    }
  }

  /** Loads a checkpoint of this run; one made with other data or another configuration is refused, naming what differs. */
  private resume(state: CheckpointState): { finished: boolean; stoppedEarly: boolean } {
    const dir = this.options.checkpointDir as string;
    const statePath = join(dir, STATE_FILE);
    const fingerprint = this.options.fingerprint ?? {};
    const saved = state.fingerprint ?? {};
    const differing = [...new Set([...Object.keys(fingerprint), ...Object.keys(saved)])].filter((key) => fingerprint[key] !== saved[key]);
    // Logging and checkpoint intervals change no result; every other training field does.
    const harmless = new Set<string>(['logEverySteps', 'checkpointEverySteps']);
    const changed = (Object.keys(this.config) as (keyof TrainingConfig)[]).filter((key) => !harmless.has(key) && state.config[key] !== this.config[key]);
    differing.push(...changed.map((key) => `training.${key} (${JSON.stringify(state.config[key]) ?? 'unset'} in the checkpoint, ${JSON.stringify(this.config[key]) ?? 'unset'} now)`));
    if (differing.length > 0) {
      throw new CheckpointError(dir, `was made with other inputs than this run: ${differing.join(', ')} differ; resume with the same data and configuration, or run with --restart to start over`);
    }
    const shapes = new Map([...this.trainable].map(([name, variable]) => [name, variable.shape]));
    assignSnapshot(this.trainable, readSnapshot(join(dir, state.files.trainable), shapes).tensors);
    this.optimizer.loadState(join(dir, state.files.optimizer));
    if (state.best) {
      if (!state.files.best) throw new CheckpointError(statePath, `names a best step (${state.best.step}) but no best weight file; run with --restart to start over`);
      this.best = { ...state.best, weights: readSnapshot(join(dir, state.files.best), shapes).tensors };
    }
    this.stepsDone = state.step;
    this.epoch = state.epoch;
    this.position = state.position;
    this.epochs = state.epochs;
    this.random.setState(state.randomState);
    this.badEvaluations = state.badEvaluations;
    this.history = state.history;
    this.totalSteps = state.totalSteps;
    if (state.firstLoss !== undefined) this.firstLoss = state.firstLoss;
    // The deferred gradient is a function of the weights, so recomputing it gives what the interrupted run held.
    if (this.stepsDone > 0) this.deferredGrads = this.computeDeferredGrads();
    this.log(`resumed from ${dir} at step ${state.step} (epoch ${state.epoch + 1}, micro-batch ${state.position})${state.finished ? '; training had finished' : ''}`);
    return { finished: state.finished, stoppedEarly: state.stoppedEarly };
  }
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
/** A weight file of a checkpoint: a plain name in its directory, never a path out of it. */
const isCheckpointFile = (value: unknown): boolean => typeof value === 'string' && /^[\w.-]+\.safetensors$/.test(value) && !value.startsWith('.');

/** What is wrong with a parsed `state.json`, or undefined when it has the fields a resume reads. */
function checkpointStateProblem(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return `expected a JSON object, got ${JSON.stringify(json)?.slice(0, 60)}`;
  const state = json as Record<string, unknown>;
  if (state.formatVersion !== 1) return `expected formatVersion 1, got ${JSON.stringify(state.formatVersion)}`;
  for (const key of ['step', 'totalSteps', 'epoch', 'position', 'badEvaluations']) if (!isCount(state[key])) return `expected "${key}" to be a non-negative integer, got ${JSON.stringify(state[key])}`;
  if (typeof state.epochs !== 'number' || !Number.isFinite(state.epochs)) return `expected "epochs" to be a number, got ${JSON.stringify(state.epochs)}`;
  if (!Number.isSafeInteger(state.randomState)) return `expected "randomState" to be an integer, got ${JSON.stringify(state.randomState)}`;
  if (typeof state.finished !== 'boolean' || typeof state.stoppedEarly !== 'boolean') return 'expected "finished" and "stoppedEarly" to be true or false';
  if (!Array.isArray(state.history)) return `expected "history" to be a list, got ${JSON.stringify(state.history)?.slice(0, 60)}`;
  if (state.config === null || typeof state.config !== 'object') return `expected "config" to be an object, got ${JSON.stringify(state.config)}`;
  const files = state.files as Record<string, unknown> | undefined;
  if (!files || !isCheckpointFile(files.trainable) || !isCheckpointFile(files.optimizer) || (files.best !== undefined && !isCheckpointFile(files.best))) {
    return `expected "files" to name the checkpoint's .safetensors files in its directory, got ${JSON.stringify(files)?.slice(0, 80)}`;
  }
  return undefined;
}
