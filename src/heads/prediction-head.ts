import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { activation } from '../ops/activation';
import { adapterHubFileFields, requireField } from '../adapters/adapterhub-files';
import { makeDirectory, writeJsonAtomic } from '../io/atomic';
import { readJsonFile } from '../io/read-file';
import { readSafetensors } from '../io/safetensors';
import { normalInit, WeightStore, zerosInit, type WeightDefinition, type WeightDefinitions } from '../io/weight-store';
import { linear } from '../ops/linear';
import type { HeadSpec } from '../task/task-plugin';
import { SeededRandom } from '../util/random';
import { binaryCrossEntropyWithLogitsLoss, crossEntropyLoss, meanSquaredErrorLoss } from './loss-functions';
import { dropout as seededDropout } from '../ops/dropout';

/** File names of a head directory, as AdapterHub names them. */
export const HEAD_CONFIG_FILE = 'head_config.json';
export const HEAD_WEIGHTS_FILE = 'model_head.safetensors';

/** Dropout of a head whose file leaves it to the model (`dropout_prob: null`): BERT's `hidden_dropout_prob`. */
const DEFAULT_DROPOUT = 0.1;

/** The architecture options AdapterHub stores for a head (its `config`, camelCase). */
export interface HeadOptions {
  /** Linear layers: `layers − 1` of hidden → hidden with the activation, then hidden → outputs. */
  layers: number;
  /** Activation between the linear layers; null for none. */
  activationFunction: string | null;
  /** Read the backbone's pooler output instead of the first token's hidden state (not for tagging). */
  usePooler: boolean;
  /** Whether the output layer has a bias. */
  bias: boolean;
  /** Dropout before each linear layer while training; null: the backbone's hidden dropout. */
  dropoutProb: number | null;
}

/** AdapterHub head types of each spec type; regression is a one-output classification head there. */
const HEAD_TYPES: Record<HeadSpec['type'], string> = {
  classification: 'classification',
  regression: 'classification',
  'multi-label': 'multilabel_classification',
  tagging: 'tagging',
  'multiple-choice': 'multiple_choice',
};

function outputSize(spec: HeadSpec): number {
  switch (spec.type) {
    case 'regression':
    case 'multiple-choice':
      return 1;
    default:
      return spec.labels.length;
  }
}

function labelNames(spec: HeadSpec): readonly string[] | undefined {
  return spec.type === 'classification' || spec.type === 'multi-label' || spec.type === 'tagging' ? spec.labels : undefined;
}

/**
 * Positions of the linear layers in AdapterHub's `nn.Sequential` (a dropout before each, an activation after each but
 * the last): `heads.{name}.1` and `heads.{name}.4` for the default two layers.
 */
function linearIndices(options: HeadOptions): number[] {
  const indices: number[] = [];
  let index = 0;
  for (let layer = 0; layer < options.layers; layer++) {
    index++; // dropout
    indices.push(index++);
    if (layer < options.layers - 1 && options.activationFunction) index++;
  }
  return indices;
}

/**
 * A head's weights under AdapterHub's names, initialised as BERT initialises linear layers: kernels N(0, 0.02), each
 * from the next seed `seed` draws, biases 0.
 */
function weightDefinitions(name: string, spec: HeadSpec, hiddenSize: number, options: HeadOptions, seed: number): WeightDefinitions {
  const random = new SeededRandom(seed);
  const definitions = new Map<string, WeightDefinition>();
  const indices = linearIndices(options);
  indices.forEach((index, i) => {
    const last = i === indices.length - 1;
    const out = last ? outputSize(spec) : hiddenSize;
    definitions.set(`heads.${name}.${index}.weight`, { shape: [hiddenSize, out], init: normalInit(0.02, random.int(2 ** 31)), kernel: true });
    if (!last || options.bias) definitions.set(`heads.${name}.${index}.bias`, { shape: [out], init: zerosInit });
  });
  return definitions;
}

/**
 * A task's prediction head in AdapterHub's flexible-head layout: classification, regression (one output, MSE),
 * multi-label (binary cross-entropy per label), tagging (per token) and multiple choice (one logit per choice, softmax
 * over the choices). Sequence heads read the first token's final hidden state (`use_pooler: false`, AdapterHub's
 * default). Files are AdapterHub's `head_config.json` + `model_head.safetensors`.
 *
 * @example
 * const head = createHead('rte', { type: 'classification', labels: ['entailment', 'not_entailment'] }, 768, 42);
 * const logits = head.forward(output.lastHiddenState, output.pooledOutput, false); // (B, 2)
 * head.predict(logits); // [0, 1, ...]
 */
export class PredictionHead {
  private readonly layers: { kernel: tf.Tensor2D; bias?: tf.Tensor1D }[];
  private readonly activate: ((x: tf.Tensor) => tf.Tensor) | undefined;

  constructor(
    readonly name: string,
    readonly spec: HeadSpec,
    readonly hiddenSize: number,
    readonly options: HeadOptions,
    /** Weights by AdapterHub name (`heads.{name}.{index}.weight`). */
    readonly variables: WeightStore,
    private readonly modelType: string,
    /** Dropout used when `options.dropoutProb` is null. */
    private readonly fallbackDropout: number,
  ) {
    this.activate = options.activationFunction ? activation(options.activationFunction) : undefined;
    this.layers = linearIndices(options).map((index) => {
      const kernel = variables.variable(`heads.${name}.${index}.weight`) as tf.Tensor2D;
      const bias = variables.get(`heads.${name}.${index}.bias`) as tf.Tensor1D | undefined;
      return bias ? { kernel, bias } : { kernel };
    });
  }

  /**
   * True when the logits depend on the first token only (every head type but tagging): the backbone can then run
   * with `firstTokenOnly`.
   */
  get readsFirstTokenOnly(): boolean {
    return this.spec.type !== 'tagging';
  }

  /**
   * Logits: `(B, labels)` for classification and multi-label, `(B, 1)` for regression, `(B, T, labels)` for tagging,
   * `(B, choices)` for multiple choice (whose inputs are B×choices rows). Dropout only when `training`, its masks drawn
   * from `dropoutSeed` when given (repeatable steps) and from Math.random otherwise.
   */
  forward(lastHiddenState: tf.Tensor3D, pooledOutput: tf.Tensor2D, training: boolean, dropoutSeed?: number): tf.Tensor {
    return tf.tidy(() => {
      const dropout = this.options.dropoutProb ?? this.fallbackDropout;
      let x: tf.Tensor =
        this.spec.type === 'tagging' ? lastHiddenState // (B, T, D)
        : this.options.usePooler ? pooledOutput // (B, D)
        : tf.reshape(tf.slice(lastHiddenState, [0, 0, 0], [-1, 1, -1]), [-1, this.hiddenSize]); // (B, D)
      this.layers.forEach(({ kernel, bias }, i) => {
        if (training && dropout > 0) x = seededDropout(x, dropout, dropoutSeed === undefined ? undefined : dropoutSeed + i);
        x = linear(x, kernel, bias); // (B, [T,] out)
        if (i < this.layers.length - 1 && this.activate) x = this.activate(x);
      });
      return this.spec.type === 'multiple-choice' ? tf.reshape(x, [-1, this.spec.numChoices]) : x; // (B, C)
    });
  }

  /**
   * The head's default loss: cross-entropy (classification, multiple choice, tagging with -100 labels ignored), mean
   * squared error (regression), binary cross-entropy on multi-hot targets (multi-label).
   */
  loss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    switch (this.spec.type) {
      case 'regression':
        return meanSquaredErrorLoss(logits, labels);
      case 'multi-label':
        return binaryCrossEntropyWithLogitsLoss(logits, labels);
      default:
        return crossEntropyLoss(logits, labels);
    }
  }

  /**
   * One prediction per example: the class or choice index, the regression value, the indices of the labels with a
   * positive logit (multi-label), or the class of every token position (tagging; positions beyond an example's length
   * are padding). Read asynchronously, as every backend allows (WebGPU in Node has no synchronous read).
   */
  async predict(logits: tf.Tensor): Promise<(number | number[])[]> {
    switch (this.spec.type) {
      case 'regression':
        return Array.from(await logits.data());
      case 'multi-label':
        return ((await logits.array()) as number[][]).map((row) => row.flatMap((value, index) => (value > 0 ? [index] : [])));
      default: {
        const classes = tf.argMax(logits, -1);
        try {
          return (await classes.array()) as number[] | number[][];
        } finally {
          classes.dispose();
        }
      }
    }
  }

  /** Number of trainable values. */
  parameterCount(): number {
    return this.variables.parameterCount();
  }

  /** The AdapterHub `config` object of `head_config.json` for this head. */
  toAdapterHub(): Record<string, unknown> {
    const labels = labelNames(this.spec);
    const common = {
      head_type: HEAD_TYPES[this.spec.type],
      layers: this.options.layers,
      activation_function: this.options.activationFunction,
      label2id: labels ? Object.fromEntries(labels.map((label, id) => [label, id])) : null,
      dropout_prob: this.options.dropoutProb,
    };
    switch (this.spec.type) {
      case 'tagging':
        return { ...common, num_labels: outputSize(this.spec) };
      case 'multiple-choice':
        return { ...common, num_choices: this.spec.numChoices, use_pooler: this.options.usePooler };
      default:
        return { ...common, num_labels: outputSize(this.spec), use_pooler: this.options.usePooler, bias: this.options.bias };
    }
  }

  /** Writes `head_config.json` and `model_head.safetensors` (`[out, in]` kernels, F32), each atomically. */
  async save(dir: string): Promise<void> {
    makeDirectory(dir);
    await this.variables.save(join(dir, HEAD_WEIGHTS_FILE));
    writeJsonAtomic(join(dir, HEAD_CONFIG_FILE), { config: this.toAdapterHub(), ...adapterHubFileFields(this.modelType, this.hiddenSize, this.name) });
  }

  /** Releases the weights. */
  dispose(): void {
    this.variables.dispose();
  }
}

/** Options of a new head beyond its spec. */
export interface CreateHeadOptions {
  /** Dropout before each linear layer while training (default: 0.1, BERT's hidden dropout). */
  dropoutProb?: number;
  /** Backbone model type written to the head file (default `bert`). */
  modelType?: string;
}

/**
 * A new head with AdapterHub's defaults (two layers with tanh, tagging one layer; first-token input), initialised as
 * BERT initialises linear layers (weights N(0, 0.02), biases 0) from `seed`.
 *
 * @example
 * const head = createHead('stsb', { type: 'regression' }, 768, 42, { dropoutProb: 0.1 });
 */
export function createHead(name: string, spec: HeadSpec, hiddenSize: number, seed: number, options: CreateHeadOptions = {}): PredictionHead {
  if (outputSize(spec) < 1) throw new Error(`head "${name}": expected at least one label or choice, got none`);
  const headOptions: HeadOptions = {
    layers: spec.type === 'tagging' ? 1 : 2,
    activationFunction: 'tanh',
    usePooler: false,
    bias: true,
    dropoutProb: options.dropoutProb ?? DEFAULT_DROPOUT,
  };
  const variables = WeightStore.create(`head "${name}"`, weightDefinitions(name, spec, hiddenSize, headOptions, seed));
  return new PredictionHead(name, spec, hiddenSize, headOptions, variables, options.modelType ?? 'bert', DEFAULT_DROPOUT);
}

/** The label names of an AdapterHub `label2id` (ordered by id), or `LABEL_i` when it is null. */
function labelsFrom(file: string, label2id: unknown, count: number): string[] {
  if (label2id === null || label2id === undefined) return Array.from({ length: count }, (_, i) => `LABEL_${i}`);
  const entries = Object.entries(label2id as Record<string, unknown>).sort(([, a], [, b]) => Number(a) - Number(b));
  if (entries.length !== count || entries.some(([, id], i) => id !== i)) {
    throw new Error(`${file}: expected "label2id" to map ${count} labels to the ids 0..${count - 1}, got ${JSON.stringify(label2id)}`);
  }
  return entries.map(([label]) => label);
}

function specFrom(file: string, config: Record<string, unknown>): HeadSpec {
  const count = (key: string): number => {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${file}: expected "config.${key}" to be a positive integer, got ${JSON.stringify(value)}`);
    return value;
  };
  switch (config.head_type) {
    case 'classification':
      return count('num_labels') === 1 ? { type: 'regression' } : { type: 'classification', labels: labelsFrom(file, config.label2id, count('num_labels')) };
    case 'multilabel_classification':
      return { type: 'multi-label', labels: labelsFrom(file, config.label2id, count('num_labels')) };
    case 'tagging':
      return { type: 'tagging', labels: labelsFrom(file, config.label2id, count('num_labels')) };
    case 'multiple_choice':
      return { type: 'multiple-choice', numChoices: count('num_choices') };
    default:
      throw new Error(`${file}: unsupported head type ${JSON.stringify(config.head_type)}; expected classification, multilabel_classification, tagging or multiple_choice`);
  }
}

/**
 * Loads a head directory written here or by AdapterHub (`save_head`). Refuses unknown head types, a hidden size other
 * than `options.hiddenSize` (when given), and missing, unexpected or misshapen weights.
 *
 * @example
 * const head = await loadHead('runs/demo/heads/rte', { hiddenSize: backbone.config.hiddenSize });
 */
export async function loadHead(dir: string, options: { hiddenSize?: number; dropoutProb?: number } = {}): Promise<PredictionHead> {
  const configFile = join(dir, HEAD_CONFIG_FILE);
  const weightsFile = join(dir, HEAD_WEIGHTS_FILE);
  const json = readJsonFile(configFile);
  const name = requireField(configFile, json, 'name', (v): v is string => typeof v === 'string', 'the head name');
  const hiddenSize = requireField(configFile, json, 'hidden_size', (v): v is number => typeof v === 'number', 'a number');
  const modelType = requireField(configFile, json, 'model_type', (v): v is string => typeof v === 'string', 'a string');
  const config = requireField(configFile, json, 'config', (v): v is Record<string, unknown> => v !== null && typeof v === 'object', 'an object');
  if (options.hiddenSize !== undefined && hiddenSize !== options.hiddenSize) {
    throw new Error(`${configFile}: the head was made for hidden size ${hiddenSize}, but this backbone has ${options.hiddenSize}`);
  }
  const spec = specFrom(configFile, config);
  const layers = config.layers;
  if (typeof layers !== 'number' || !Number.isInteger(layers) || layers < 1) throw new Error(`${configFile}: expected "config.layers" to be a positive integer, got ${JSON.stringify(layers)}`);
  const headOptions: HeadOptions = {
    layers,
    activationFunction: typeof config.activation_function === 'string' ? config.activation_function : null,
    usePooler: config.use_pooler === true,
    bias: config.bias !== false,
    dropoutProb: typeof config.dropout_prob === 'number' ? config.dropout_prob : null,
  };
  const variables = WeightStore.load(`head "${name}"`, weightDefinitions(name, spec, hiddenSize, headOptions, 0), weightsFile, readSafetensors(weightsFile).tensors);
  return new PredictionHead(name, spec, hiddenSize, headOptions, variables, modelType, options.dropoutProb ?? DEFAULT_DROPOUT);
}
