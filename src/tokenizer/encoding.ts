import type { EncodeOptions, Encoding } from './tokenizer';

/** One text, or a text and its pair (`null` for none), as `encodeBatch` takes them. */
export type TextInput = string | readonly [text: string, textPair: string | null];

/**
 * Hugging Face's `longest_first` truncation on the right, so that both texts together keep at most `budget` tokens:
 * first the longer text loses its excess over the shorter one, then the rest is shared, the odd token coming off the
 * second text unless the first one was longer.
 */
export function truncateLongestFirst(
  first: number[],
  second: number[] | null,
  budget: number,
): [number[], number[] | null] {
  const excess = first.length + (second?.length ?? 0) - budget;
  if (excess <= 0) return [first, second];
  if (second === null) return [first.slice(0, budget), null];
  const fromLonger = Math.min(Math.abs(first.length - second.length), excess);
  const shared = excess - fromLonger;
  const half = Math.floor(shared / 2);
  const [cutFirst, cutSecond] =
    first.length > second.length ? [fromLonger + half, shared - half] : [half, fromLonger + shared - half];
  return [first.slice(0, first.length - cutFirst), second.slice(0, second.length - cutSecond)];
}

/**
 * The texts' ids truncated longest-first so that, with `specialCount` special tokens, at most `maxLength` remain;
 * a `maxLength` leaving no room for the special tokens is an error.
 */
export function truncateForSpecialTokens(
  first: number[],
  second: number[] | null,
  specialCount: number,
  maxLength: number | undefined,
): [number[], number[] | null] {
  if (maxLength === undefined) return [first, second];
  if (!Number.isInteger(maxLength) || maxLength < specialCount) {
    const what = second === null ? 'a single text' : 'a pair';
    throw new RangeError(`maxLength: expected an integer of at least ${specialCount} for ${what}, got ${maxLength}`);
  }
  return truncateLongestFirst(first, second, maxLength - specialCount);
}

function requireMaxLength(options: EncodeOptions): number {
  if (options.maxLength === undefined) throw new RangeError('padding "max_length" needs maxLength, got none');
  return options.maxLength;
}

/** Pads `encoding` on the right to `length` with `padTokenId`, token type 0 and mask 0. */
function pad(encoding: Encoding, length: number, padTokenId: number): Encoding {
  for (let index = encoding.inputIds.length; index < length; index++) {
    encoding.inputIds.push(padTokenId);
    encoding.tokenTypeIds.push(0);
    encoding.attentionMask.push(0);
  }
  return encoding;
}

/** An encoding with every token attended, padded to `maxLength` when `padding` is `max_length`. */
export function finishEncoding(ids: { inputIds: number[]; tokenTypeIds: number[] }, options: EncodeOptions, padTokenId: number): Encoding {
  const encoding = { ...ids, attentionMask: new Array<number>(ids.inputIds.length).fill(1) };
  return options.padding === 'max_length' ? pad(encoding, requireMaxLength(options), padTokenId) : encoding;
}

/**
 * Encodes several texts or pairs with `encode` (unpadded), then pads: `longest` (the default) to the longest row,
 * `max_length` to `maxLength`, `false` not at all.
 */
export function encodeBatchWith(
  encode: (text: string, textPair: string | null, options: EncodeOptions) => Encoding,
  inputs: readonly TextInput[],
  options: EncodeOptions,
  padTokenId: number,
): Encoding[] {
  const maxLength = options.maxLength;
  const encodings = inputs.map((input) =>
    typeof input === 'string' ? encode(input, null, { maxLength }) : encode(input[0], input[1], { maxLength }),
  );
  const padding = options.padding ?? 'longest';
  if (padding === false) return encodings;
  const length =
    padding === 'max_length'
      ? requireMaxLength(options)
      : encodings.reduce((longest, encoding) => Math.max(longest, encoding.inputIds.length), 0);
  return encodings.map((encoding) => pad(encoding, length, padTokenId));
}
