import type { JsonFields } from './json-fields';
import { PrecompiledCharsmap } from './precompiled-charsmap';

/** A normalizer step: text in, normalized text out. */
export type Normalize = (text: string) => string;

/** Unicode's White_Space characters (Rust's `char::is_whitespace`, which the `tokenizers` steps use). */
export const WHITE_SPACE = '\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_SPACE = new RegExp(`^[${WHITE_SPACE}]+`, 'u');
const TRAILING_SPACE = new RegExp(`[${WHITE_SPACE}]+$`, 'u');
const MARKS = /\p{M}/gu;

/** The normalizer types `readNormalizer` reads. */
export const NORMALIZER_TYPES = ['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'Strip', 'StripAccents', 'Replace', 'Prepend', 'Precompiled', 'Sequence'];

/** Lowercases one code point at a time, as `tokenizers` does: capital sigma is always `σ` (no final `ς`). */
export function lowercase(text: string): string {
  return text.replaceAll('Σ', 'σ').toLowerCase();
}

/**
 * A `pattern` of `Replace` or `Split`: `{ "String": "..." }` matches the text literally, `{ "Regex": "..." }` is a
 * regular expression (written for Oniguruma; the common syntax is the same in JavaScript).
 */
export function readPattern(value: unknown, field: string, fields: JsonFields): RegExp {
  const pattern = fields.object(value, field);
  if (typeof pattern.String === 'string') return new RegExp(pattern.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
  if (typeof pattern.Regex !== 'string') return fields.fail(field, '{"String": text} or {"Regex": expression}', value);
  try {
    return new RegExp(pattern.Regex, 'gu');
  } catch (error) {
    return fields.fail(`${field}.Regex`, `a regular expression JavaScript reads (${(error as Error).message})`, pattern.Regex);
  }
}

/**
 * The `normalizer` of a `tokenizer.json` as a function; `null` normalizes nothing. A type not in `NORMALIZER_TYPES`
 * is refused, naming it.
 */
export function readNormalizer(value: unknown, field: string, fields: JsonFields): Normalize {
  if (value === null || value === undefined) return (text) => text;
  const json = fields.object(value, field);
  switch (json.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = json.type;
      return (text) => text.normalize(form);
    }
    case 'Lowercase':
      return lowercase;
    case 'StripAccents':
      return (text) => text.replace(MARKS, '');
    case 'Strip': {
      const left = fields.flag(json.strip_left, `${field}.strip_left`, true);
      const right = fields.flag(json.strip_right, `${field}.strip_right`, true);
      return (text) => {
        const stripped = left ? text.replace(LEADING_SPACE, '') : text;
        return right ? stripped.replace(TRAILING_SPACE, '') : stripped;
      };
    }
    case 'Replace': {
      const pattern = readPattern(json.pattern, `${field}.pattern`, fields);
      const content = fields.string(json.content, `${field}.content`);
      return (text) => text.replace(pattern, () => content);
    }
    case 'Prepend': {
      const prepend = fields.string(json.prepend, `${field}.prepend`);
      return (text) => (text.length > 0 ? prepend + text : text);
    }
    case 'Precompiled': {
      const charsmap = fields.optionalString(json.precompiled_charsmap, `${field}.precompiled_charsmap`);
      if (!charsmap) return (text) => text;
      const rules = new PrecompiledCharsmap(Buffer.from(charsmap, 'base64'), fields.source);
      return (text) => rules.normalize(text);
    }
    case 'Sequence': {
      const steps = fields
        .array(json.normalizers, `${field}.normalizers`)
        .map((step, index) => readNormalizer(step, `${field}.normalizers[${index}]`, fields));
      return (text) => steps.reduce((normalized, step) => step(normalized), text);
    }
    default:
      return fields.fail(`${field}.type`, `one of ${NORMALIZER_TYPES.join(', ')}`, json.type);
  }
}
