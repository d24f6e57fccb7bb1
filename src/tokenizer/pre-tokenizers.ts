import type { JsonFields } from './json-fields';
import { WHITE_SPACE, readPattern } from './normalizers';

/** A piece of text on its way to the model; `first` is set on the piece that starts the whole input text. */
export interface Piece {
  text: string;
  first: boolean;
}

/** A pre-tokenizer step: each piece in, its sub-pieces out. */
export type PreTokenize = (pieces: Piece[]) => Piece[];

/** The pre-tokenizer types `readPreTokenizer` reads. */
export const PRE_TOKENIZER_TYPES = ['ByteLevel', 'Metaspace', 'Whitespace', 'WhitespaceSplit', 'Split', 'Punctuation', 'Digits', 'Sequence'];

type Behavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
const BEHAVIORS: readonly Behavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

// GPT-2's pre-tokenization: contractions, letters, digits and other symbols each with one optional leading space,
// and runs of white space, the last of which is left to lead the next word.
const BYTE_LEVEL_SPLIT = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WHITE_SPACE}\\p{L}\\p{N}]+|[${WHITE_SPACE}]+(?![^${WHITE_SPACE}])|[${WHITE_SPACE}]+`,
  'gu',
);
// Rust's regex `\w`: letters, marks, decimal digits, connector punctuation and joiners.
const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
const WHITESPACE_SPLIT = new RegExp(`[${WORD}]+|[^${WORD}${WHITE_SPACE}]+`, 'gu');
const NOT_WHITE_SPACE = new RegExp(`[^${WHITE_SPACE}]+`, 'gu');
const PUNCTUATION = /[\p{P}!-/:-@[-`{-~]/gu;

/**
 * GPT-2's table from bytes to printable characters, so that byte-level BPE never sees a space or control character:
 * the printable Latin-1 bytes (`!`-`~`, `¡`-`¬`, `®`-`ÿ`) stand for themselves, the other 68 bytes for U+0100 on, in
 * byte order (the space is `Ġ`, the newline `Ċ`).
 */
export const BYTE_TO_CHARACTER: readonly string[] = (() => {
  const table: string[] = [];
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255);
    table.push(String.fromCodePoint(printable ? byte : next++));
  }
  return table;
})();

const encoder = new TextEncoder();

/** The UTF-8 bytes of `text`, each written as its `BYTE_TO_CHARACTER`. */
export function byteLevel(text: string): string {
  let mapped = '';
  for (const byte of encoder.encode(text)) mapped += BYTE_TO_CHARACTER[byte] as string;
  return mapped;
}

/** The matches of `pattern` in each piece, nothing else kept. */
function matches(pieces: Piece[], pattern: RegExp): Piece[] {
  return pieces.flatMap(({ text, first }) =>
    [...text.matchAll(pattern)].map((match) => ({ text: match[0], first: first && match.index === 0 })),
  );
}

/** Splits each piece at the matches of `pattern`, keeping the matches as `behavior` says. */
function split(pieces: Piece[], pattern: RegExp, behavior: Behavior, invert = false): Piece[] {
  return pieces.flatMap(({ text, first }) => {
    const parts: Array<{ text: string; start: number; isMatch: boolean }> = [];
    let start = 0;
    for (const match of text.matchAll(pattern)) {
      if (match[0].length === 0) continue;
      if (match.index > start) parts.push({ text: text.slice(start, match.index), start, isMatch: invert });
      parts.push({ text: match[0], start: match.index, isMatch: !invert });
      start = match.index + match[0].length;
    }
    if (start < text.length) parts.push({ text: text.slice(start), start, isMatch: invert });
    // As the reference folds them: a match joins the part before it unless that was a match too (previous); after a
    // match, the next part joins it whatever it is (next); parts of one kind run together (contiguous).
    const kept: typeof parts = [];
    let previousMatch: boolean | undefined;
    for (const part of parts) {
      const last = kept[kept.length - 1];
      const joins =
        last !== undefined &&
        ((behavior === 'MergedWithPrevious' && part.isMatch && previousMatch === false) ||
          (behavior === 'MergedWithNext' && previousMatch === true) ||
          (behavior === 'Contiguous' && previousMatch === part.isMatch));
      if (joins) last.text += part.text;
      else if (!(behavior === 'Removed' && part.isMatch)) kept.push({ ...part });
      previousMatch = part.isMatch;
    }
    return kept.map((part) => ({ text: part.text, first: first && part.start === 0 }));
  });
}

function readBehavior(value: unknown, field: string, fields: JsonFields, fallback: Behavior): Behavior {
  if (value === undefined || value === null) return fallback;
  return (BEHAVIORS as readonly unknown[]).includes(value) ? (value as Behavior) : fields.fail(field, `one of ${BEHAVIORS.join(', ')}`, value);
}

/**
 * The `pre_tokenizer` of a `tokenizer.json` as a function; `null` keeps each text whole. A type not in
 * `PRE_TOKENIZER_TYPES` is refused, naming it.
 */
export function readPreTokenizer(value: unknown, field: string, fields: JsonFields): PreTokenize {
  if (value === null || value === undefined) return (pieces) => pieces;
  const json = fields.object(value, field);
  switch (json.type) {
    case 'ByteLevel': {
      const addPrefixSpace = fields.flag(json.add_prefix_space, `${field}.add_prefix_space`, true);
      const useRegex = fields.flag(json.use_regex, `${field}.use_regex`, true);
      return (pieces) => {
        const spaced = pieces.map(({ text, first }) => ({ text: addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text, first }));
        return (useRegex ? matches(spaced, BYTE_LEVEL_SPLIT) : spaced).map(({ text, first }) => ({ text: byteLevel(text), first }));
      };
    }
    case 'Metaspace': {
      const replacement = fields.string(json.replacement, `${field}.replacement`);
      const legacyPrefix = fields.flag(json.add_prefix_space, `${field}.add_prefix_space`, true);
      const scheme = json.prepend_scheme ?? (legacyPrefix ? 'always' : 'never');
      if (scheme !== 'always' && scheme !== 'never' && scheme !== 'first')
        fields.fail(`${field}.prepend_scheme`, '"always", "never" or "first"', scheme);
      const splits = fields.flag(json.split, `${field}.split`, true);
      const boundary = new RegExp(replacement.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
      return (pieces) => {
        const replaced = pieces.map(({ text, first }) => {
          const spaced = text.replaceAll(' ', replacement);
          const prepend = (scheme === 'always' || (scheme === 'first' && first)) && !spaced.startsWith(replacement);
          return { text: prepend ? replacement + spaced : spaced, first };
        });
        return splits ? split(replaced, boundary, 'MergedWithNext') : replaced;
      };
    }
    case 'Whitespace':
      return (pieces) => matches(pieces, WHITESPACE_SPLIT);
    case 'WhitespaceSplit':
      return (pieces) => matches(pieces, NOT_WHITE_SPACE);
    case 'Split': {
      const pattern = readPattern(json.pattern, `${field}.pattern`, fields);
      const behavior = readBehavior(json.behavior, `${field}.behavior`, fields, 'Isolated');
      const invert = fields.flag(json.invert, `${field}.invert`, false);
      return (pieces) => split(pieces, pattern, behavior, invert);
    }
    case 'Punctuation': {
      const behavior = readBehavior(json.behavior, `${field}.behavior`, fields, 'Isolated');
      return (pieces) => split(pieces, PUNCTUATION, behavior);
    }
    case 'Digits': {
      const individual = fields.flag(json.individual_digits, `${field}.individual_digits`, false);
      return (pieces) => split(pieces, individual ? /\p{N}/gu : /\p{N}+/gu, 'Isolated');
    }
    case 'Sequence': {
      const steps = fields
        .array(json.pretokenizers, `${field}.pretokenizers`)
        .map((step, index) => readPreTokenizer(step, `${field}.pretokenizers[${index}]`, fields));
      return (pieces) => steps.reduce((current, step) => step(current), pieces);
    }
    default:
      return fields.fail(`${field}.type`, `one of ${PRE_TOKENIZER_TYPES.join(', ')}`, json.type);
  }
}
