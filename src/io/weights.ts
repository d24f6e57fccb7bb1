/** A weight whose shape in the file differs from the model's. */
export interface ShapeMismatch {
  name: string;
  expected: number[];
  got: number[];
}

const shown = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * A weight file does not fit the model: lists every missing and unexpected name and every shape mismatch, so one run
 * shows everything that is wrong. Nothing is loaded when this is thrown.
 */
export class WeightMismatchError extends Error {
  override name = 'WeightMismatchError';

  constructor(
    readonly file: string,
    readonly missing: { name: string; expected: number[] }[],
    readonly unexpected: { name: string; got: number[] }[],
    readonly mismatched: ShapeMismatch[],
  ) {
    const lines = [
      ...missing.map((w) => `  missing: ${w.name} ${shown(w.expected)}`),
      ...unexpected.map((w) => `  unexpected: ${w.name} ${shown(w.got)}`),
      ...mismatched.map((w) => `  wrong shape: ${w.name}: expected ${shown(w.expected)}, got ${shown(w.got)}`),
    ];
    super(`${file}: weights do not match the model (${missing.length} missing, ${unexpected.length} unexpected, ${mismatched.length} of the wrong shape):\n${lines.join('\n')}`);
  }
}

/**
 * Checks that a file's weights are exactly the ones a model expects, by name and shape; throws a
 * `WeightMismatchError` naming every difference. Shapes are compared as stored in the file.
 *
 * @example
 * checkWeights('adapter.safetensors', expectedShapes, new Map([...content.tensors].map(([n, t]) => [n, t.shape])));
 */
export function checkWeights(file: string, expected: ReadonlyMap<string, number[]>, found: ReadonlyMap<string, number[]>): void {
  const missing: WeightMismatchError['missing'] = [];
  const mismatched: ShapeMismatch[] = [];
  for (const [name, shape] of expected) {
    const got = found.get(name);
    if (!got) missing.push({ name, expected: shape });
    else if (got.length !== shape.length || got.some((size, i) => size !== shape[i])) mismatched.push({ name, expected: shape, got });
  }
  const unexpected = [...found].filter(([name]) => !expected.has(name)).map(([name, got]) => ({ name, got }));
  if (missing.length + unexpected.length + mismatched.length > 0) throw new WeightMismatchError(file, missing, unexpected, mismatched);
}

/**
 * Maps each name to itself without the first of `prefixes` it starts with (e.g. `bert.`, `roberta.`), so checkpoints
 * saved from a model with a head load into the bare model. Returns stripped name → original name; a name that would
 * appear twice (once with and once without a prefix) is an error.
 *
 * @example
 * stripPrefix(['bert.pooler.dense.bias', 'cls.predictions.bias'], ['bert.']);
 * // Map { 'pooler.dense.bias' => 'bert.pooler.dense.bias', 'cls.predictions.bias' => 'cls.predictions.bias' }
 */
export function stripPrefix(names: Iterable<string>, prefixes: readonly string[]): Map<string, string> {
  const stripped = new Map<string, string>();
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    const key = prefix ? name.slice(prefix.length) : name;
    const other = stripped.get(key);
    if (other !== undefined) throw new Error(`weights "${other}" and "${name}" both name "${key}"; expected each weight once, with or without a ${prefixes.join(' or ')} prefix`);
    stripped.set(key, name);
  }
  return stripped;
}
