import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, SafetensorsError, type SafetensorsTensor } from '../io/safetensors';
import { checkWeights } from '../io/weights';

/**
 * Copies tensors' values out of the backend, by name: for checkpoints and for keeping the best weights in memory.
 * Asynchronous, as WebGPU reads are; all reads are started before the first is awaited.
 */
export async function snapshotTensors(tensors: ReadonlyMap<string, tf.Tensor>): Promise<Map<string, SafetensorsTensor>> {
  const entries = [...tensors];
  const values = await Promise.all(entries.map(([, tensor]) => tensor.data<'float32'>()));
  // A copy, since some backends hand out their own buffer.
  return new Map(entries.map(([name, tensor], i) => [name, { shape: [...tensor.shape], values: Float32Array.from(values[i] as Float32Array) }]));
}

/** Whether every value is finite (no NaN, no infinity); a plain loop, as it runs over every weight at each checkpoint. */
export function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** Assigns saved values to variables of the same names and shapes. */
export function assignSnapshot(variables: ReadonlyMap<string, tf.Variable>, snapshot: ReadonlyMap<string, SafetensorsTensor>): void {
  for (const [name, variable] of variables) {
    const saved = snapshot.get(name);
    if (!saved) throw new Error(`no saved value for variable "${name}"`);
    tf.tidy(() => variable.assign(tf.tensor(saved.values, saved.shape, variable.dtype)));
  }
}

/**
 * Reads a safetensors file written from `snapshotTensors` and checks that it holds exactly the expected tensors
 * (a `WeightMismatchError` names every missing, unexpected or misshapen one), all finite (a `SafetensorsError` names
 * the file and the first tensor that is not).
 */
export function readSnapshot(file: string, expected: ReadonlyMap<string, number[]>): { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  const content = readSafetensors(file);
  checkWeights(file, expected, new Map([...content.tensors].map(([name, entry]) => [name, entry.shape])));
  for (const [name, { values }] of content.tensors) {
    if (!allFinite(values)) throw new SafetensorsError(file, 'holds values that are not finite (NaN or infinity); the checkpoint is damaged: run with --restart to start over', name);
  }
  return { tensors: content.tensors, metadata: content.metadata ?? {} };
}

