import * as tf from '@tensorflow/tfjs-core';
import { writeSafetensors, type SafetensorsEntry, type SafetensorsTensor } from './safetensors';
import { checkWeights, stripPrefix } from './weights';

/** Makes a weight's first value, given its shape as the model holds it. Runs inside `tf.tidy`. */
export type Initializer = (shape: number[]) => tf.Tensor;

/** All zeros (biases, AdapterHub's zero up-projection). */
export const zerosInit: Initializer = (shape) => tf.zeros(shape);

/** All ones (LayerNorm gains). */
export const onesInit: Initializer = (shape) => tf.ones(shape);

/** N(0, std²) from `seed` (BERT's initialisation with std 0.02). */
export function normalInit(std: number, seed: number): Initializer {
  return (shape) => tf.randomNormal(shape, 0, std, 'float32', seed);
}

/**
 * N(0, std²) truncated at two standard deviations, from `seed`: PyTorch's `trunc_normal_(std, a=-2·std, b=2·std)`,
 * since tfjs truncates at two standard deviations too.
 */
export function truncatedNormalInit(std: number, seed: number): Initializer {
  return (shape) => tf.truncatedNormal(shape, 0, std, 'float32', seed);
}

/** Uniform on [-bound, bound] from `seed`. */
export function uniformInit(bound: number, seed: number): Initializer {
  return (shape) => tf.randomUniform(shape, -bound, bound, 'float32', seed);
}

/** One weight of a model part. */
export interface WeightDefinition {
  /** Shape as the model holds it: a Linear kernel is `[in, out]`. */
  shape: number[];
  /** Its value in a new model. */
  init: Initializer;
  /** A Linear layer's kernel: `[in, out]` in memory (x·W), `[out, in]` in files, as PyTorch's `nn.Linear` stores it. */
  kernel?: boolean;
  /** Whether gradients can reach it (tfjs `Variable.trainable`); default true. */
  trainable?: boolean;
  /**
   * Other names files hold this same tensor under (PyTorch saves a module registered twice under each of its names):
   * saving writes every name, loading expects every name and reads the weight's own.
   */
  aliases?: readonly string[];
}

/** A model part's weights by name, in the order its files list them. */
export type WeightDefinitions = ReadonlyMap<string, WeightDefinition>;

/** A tensor as a file holds it (a `SafetensorsEntry` is one). */
export type StoredTensor = Pick<SafetensorsEntry, 'shape' | 'values'>;

interface Entry {
  variable: tf.Variable;
  kernel: boolean;
  aliases: readonly string[];
}

function entryOf(variable: tf.Variable, definition: WeightDefinition): Entry {
  return { variable, kernel: definition.kernel ?? false, aliases: definition.aliases ?? [] };
}

/** The shape a weight has in files: a kernel's transposed. */
function fileShape(shape: readonly number[], kernel: boolean): number[] {
  return kernel ? [...shape].reverse() : [...shape];
}

/** A file tensor in the model's layout (a kernel transposed), as a new tensor the caller owns. */
function fromFile(stored: StoredTensor, kernel: boolean): tf.Tensor {
  return tf.tidy(() => {
    const tensor = tf.tensor(stored.values, stored.shape, 'float32');
    return kernel ? tf.transpose(tensor) : tensor;
  });
}

/**
 * The weights of one model part (backbone, adapter, head, fusion): named tfjs variables, each created from its
 * definition's initialiser or from a file, and written back to files. The one place that knows the file layout: a
 * Linear kernel is `[in, out]` here and `[out, in]` (PyTorch's layout) in safetensors files, so every part's names
 * and shapes on disk are the reference library's. Read it as a `ReadonlyMap` from name to variable, in definition
 * order.
 *
 * @example
 * const definitions = new Map<string, WeightDefinition>([
 *   ['dense.weight', { shape: [768, 2], init: normalInit(0.02, 42), kernel: true }],
 *   ['dense.bias', { shape: [2], init: zerosInit }],
 * ]);
 * const weights = WeightStore.create('my layer', definitions);
 * await weights.save('layer.safetensors'); // dense.weight is [2, 768] in the file
 * const again = WeightStore.load('my layer', definitions, 'layer.safetensors', readSafetensors('layer.safetensors').tensors);
 */
export class WeightStore implements ReadonlyMap<string, tf.Variable> {
  private readonly byName: ReadonlyMap<string, Entry>;
  private readonly variables: ReadonlyMap<string, tf.Variable>;

  private constructor(
    /** Names the part in errors, e.g. `adapter "rte"`. */
    readonly owner: string,
    entries: ReadonlyMap<string, Entry>,
  ) {
    this.byName = entries;
    this.variables = new Map([...entries].map(([name, entry]) => [name, entry.variable]));
  }

  /** Every defined weight at its initial value. */
  static create(owner: string, definitions: WeightDefinitions): WeightStore {
    const entries = new Map<string, Entry>();
    for (const [name, definition] of definitions) entries.set(name, entryOf(initialVariable(owner, name, definition), definition));
    return new WeightStore(owner, entries);
  }

  /**
   * The defined weights with their values from a file's tensors (named as defined, shapes in file layout). Refuses
   * missing, unexpected and misshapen tensors with one `WeightMismatchError` naming `source` and every difference;
   * nothing is created then. Weights named in `initializeMissing` may be absent: they get their initial value.
   */
  static load(owner: string, definitions: WeightDefinitions, source: string, tensors: ReadonlyMap<string, StoredTensor>, options: { initializeMissing?: readonly string[] } = {}): WeightStore {
    const optional = new Set((options.initializeMissing ?? []).filter((name) => !tensors.has(name)));
    const expected = new Map<string, number[]>();
    for (const [name, { shape, kernel = false, aliases = [] }] of definitions) {
      if (!optional.has(name)) for (const fileName of [name, ...aliases]) expected.set(fileName, fileShape(shape, kernel));
    }
    checkWeights(source, expected, new Map([...tensors].map(([name, stored]) => [name, stored.shape])));
    const entries = new Map<string, Entry>();
    for (const [name, definition] of definitions) {
      const stored = tensors.get(name);
      if (!stored) {
        entries.set(name, entryOf(initialVariable(owner, name, definition), definition));
        continue;
      }
      const value = fromFile(stored, definition.kernel ?? false);
      entries.set(name, entryOf(tf.variable(value, definition.trainable ?? true), definition));
      value.dispose();
    }
    return new WeightStore(owner, entries);
  }

  /**
   * One store over several parts' weights, each part's names under its prefix (`${prefix}.${name}`). The variables are
   * shared, not copied: dispose either the parts or the combination, not both.
   */
  static combine(owner: string, parts: Iterable<readonly [prefix: string, store: WeightStore]>): WeightStore {
    const entries = new Map<string, Entry>();
    for (const [prefix, store] of parts) {
      for (const [name, entry] of store.byName) entries.set(`${prefix}.${name}`, { ...entry, aliases: entry.aliases.map((alias) => `${prefix}.${alias}`) });
    }
    return new WeightStore(owner, entries);
  }

  /**
   * Overwrites every weight with a file's tensors (named as in this store, shapes in file layout), after checking them
   * all as `load` does; nothing changes when the check fails.
   */
  assign(source: string, tensors: ReadonlyMap<string, StoredTensor>): void {
    checkWeights(source, this.fileShapes(), new Map([...tensors].map(([name, stored]) => [name, stored.shape])));
    for (const [name, { variable, kernel }] of this.byName) {
      const value = fromFile(tensors.get(name) as StoredTensor, kernel);
      variable.assign(value);
      value.dispose();
    }
  }

  /** Every name files hold, with its shape there (kernels `[out, in]`). */
  fileShapes(): Map<string, number[]> {
    const shapes = new Map<string, number[]>();
    for (const [name, { variable, kernel, aliases }] of this.byName) for (const fileName of [name, ...aliases]) shapes.set(fileName, fileShape(variable.shape, kernel));
    return shapes;
  }

  /** The named variable; an error naming the owner when there is none. */
  variable(name: string): tf.Variable {
    const variable = this.variables.get(name);
    if (!variable) throw new Error(`${this.owner} has no weight "${name}"`);
    return variable;
  }

  /** Number of scalar values. */
  parameterCount(): number {
    let count = 0;
    for (const variable of this.variables.values()) count += variable.size;
    return count;
  }

  /**
   * Writes the weights to a safetensors file atomically, as F32 in file layout, each name after `prefix` (e.g.
   * `bert.`, AdapterHub's base-model prefix), in definition order.
   */
  async save(file: string, options: { prefix?: string; metadata?: Record<string, string> } = {}): Promise<void> {
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const [name, { variable, kernel, aliases }] of this.byName) {
      const stored = kernel ? tf.transpose(variable) : variable;
      const tensor = { shape: stored.shape, values: (await stored.data()) as Float32Array };
      for (const fileName of [name, ...aliases]) tensors[`${options.prefix ?? ''}${fileName}`] = tensor;
      if (stored !== variable) stored.dispose();
    }
    writeSafetensors(file, tensors, options.metadata);
  }

  /** Releases every variable; the store is unusable afterwards. */
  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }

  get size(): number {
    return this.variables.size;
  }

  get(name: string): tf.Variable | undefined {
    return this.variables.get(name);
  }

  has(name: string): boolean {
    return this.variables.has(name);
  }

  keys(): MapIterator<string> {
    return this.variables.keys();
  }

  values(): MapIterator<tf.Variable> {
    return this.variables.values();
  }

  entries(): MapIterator<[string, tf.Variable]> {
    return this.variables.entries();
  }

  forEach(callback: (variable: tf.Variable, name: string, store: ReadonlyMap<string, tf.Variable>) => void): void {
    for (const [name, variable] of this.variables) callback(variable, name, this);
  }

  [Symbol.iterator](): MapIterator<[string, tf.Variable]> {
    return this.variables.entries();
  }
}

function initialVariable(owner: string, name: string, definition: WeightDefinition): tf.Variable {
  const value = tf.tidy(() => definition.init(definition.shape));
  if (value.shape.length !== definition.shape.length || value.shape.some((size, i) => size !== definition.shape[i])) {
    value.dispose();
    throw new Error(`${owner}: the initialiser of "${name}" made shape [${value.shape.join(', ')}], expected [${definition.shape.join(', ')}]`);
  }
  const variable = tf.variable(value, definition.trainable ?? true);
  value.dispose();
  return variable;
}

/**
 * A file's tensors by name without the first of `prefixes` each starts with (AdapterHub writes `bert.` / `roberta.`
 * before the names of a flexible-head model); a name given both with and without a prefix is an error.
 *
 * @example
 * withoutPrefix(readSafetensors('adapter.safetensors').tensors, ['bert.']);
 */
export function withoutPrefix<T>(tensors: ReadonlyMap<string, T>, prefixes: readonly string[]): Map<string, T> {
  return new Map([...stripPrefix(tensors.keys(), prefixes)].map(([name, original]) => [name, tensors.get(original) as T]));
}
