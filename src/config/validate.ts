import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FileError, readTextFile } from '../io/read-file';
import { expandPreset } from './presets';

/** One problem in a configuration: where, and what was expected. */
export interface ConfigProblem {
  /** Dotted path from the configuration root, e.g. `fusion.adapters` or `tasks.0.id`. */
  path: string;
  /** What was expected and what was found. */
  message: string;
}

/** A configuration failed validation; `message` lists every problem as `path: expected, got value`. */
export class ConfigValidationError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    readonly source?: string,
  ) {
    const where = source ? ` in ${source}` : '';
    super(`invalid configuration${where}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

type Class<T> = new () => T;

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Property names class-validator knows for a class (its decorated fields). */
function knownKeys(target: abstract new (...args: never[]) => unknown): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))].sort();
}

function collect(errors: ValidationError[], prefix: string, out: ConfigProblem[]): void {
  for (const error of errors) {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    for (const [rule, text] of Object.entries(error.constraints ?? {})) {
      if (rule === 'whitelistValidation') {
        const known = error.target ? knownKeys(error.target.constructor as abstract new () => unknown) : [];
        out.push({ path, message: `unknown key (expected one of: ${known.join(', ')})` });
      } else {
        // class-validator messages start with the property name; we put the path first instead.
        const expected = text.startsWith(`${error.property} `) ? text.slice(error.property.length + 1) : text;
        out.push({ path, message: `${expected}, got ${show(error.value)}` });
      }
    }
    if (error.children?.length) collect(error.children, path, out);
  }
}

/**
 * Turns raw data (parsed JSON or YAML) into a validated configuration object, applying the class's named preset (see
 * `Presets`) and then the defaults it declares. Unknown keys are errors. All problems are reported at once.
 *
 * @example
 * const adapter = validateConfig(AdapterConfig, { preset: 'double_seq_bn', reductionFactor: 16 });
 */
export function validateConfig<T extends object>(type: Class<T>, raw: unknown, source?: string): T {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigValidationError([{ path: '(root)', message: `expected an object, got ${show(raw)}` }], source);
  }
  const instance = plainToInstance(type, expandPreset(type, raw), { exposeDefaultValues: true });
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    const problems: ConfigProblem[] = [];
    collect(errors, '', problems);
    throw new ConfigValidationError(problems, source);
  }
  return instance;
}

/** Reads a JSON or YAML file (by extension: .json, .yaml, .yml); errors (`FileError`) name the file. */
export function readConfigFile(path: string): unknown {
  const ext = extname(path).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') throw new FileError(path, 'read a configuration', `expected a .json, .yaml or .yml file, got "${ext || 'no extension'}"`);
  const text = readTextFile(path);
  const format = ext === '.json' ? 'JSON' : 'YAML';
  try {
    return ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new FileError(path, `parse as ${format}`, (error as Error).message);
  }
}

/** Reads and validates a configuration file; problems name the file. */
export function loadConfigFile<T extends object>(type: Class<T>, path: string): T {
  return validateConfig(type, readConfigFile(path), path);
}
