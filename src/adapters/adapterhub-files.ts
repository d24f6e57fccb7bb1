import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJsonFile } from '../io/read-file';

let cachedVersion: string | undefined;

/** This package's version, from the nearest package.json named `adapterfusion` above this file (source or dist). */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const json = readJsonFile(file, 'a package.json') as { name?: string; version?: string };
      if (json.name === 'adapterfusion') return (cachedVersion = json.version ?? 'unknown');
    }
    if (dirname(dir) === dir) return (cachedVersion = 'unknown');
  }
}

/** The fields AdapterHub writes beside `config` in adapter, head and fusion config files. */
export interface AdapterHubFileFields {
  hidden_size: number;
  /** The model class the weights were saved from; names with the base-model prefix come from `...AdapterModel`. */
  model_class: string;
  model_name: string;
  model_type: string;
  name: string;
  /** AdapterHub treats a file without a version as legacy; ours says which software wrote it. */
  version: string;
}

/**
 * The fields AdapterHub writes beside `config`, for a file written here: the model class is the flexible-head model
 * (`BertAdapterModel`, `RobertaAdapterModel`), whose weight names carry the base-model prefix we write.
 */
export function adapterHubFileFields(modelType: string, hiddenSize: number, name: string): AdapterHubFileFields {
  const modelClass = `${modelType === 'roberta' ? 'Roberta' : 'Bert'}AdapterModel`;
  return { hidden_size: hiddenSize, model_class: modelClass, model_name: '', model_type: modelType, name, version: `adapterfusion.${packageVersion()}` };
}

/**
 * The object at `key` of an AdapterHub config file's top level, or an error naming the file and the key.
 */
export function requireField<T>(file: string, json: unknown, key: string, check: (value: unknown) => value is T, expected: string): T {
  const value = json !== null && typeof json === 'object' ? (json as Record<string, unknown>)[key] : undefined;
  if (!check(value)) throw new Error(`${file}: expected "${key}" to be ${expected}, got ${JSON.stringify(value) ?? 'nothing'}`);
  return value;
}
