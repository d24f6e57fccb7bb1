import { IGNORE_INDEX, type Example, type HeadSpec } from '../task/task-plugin';
import type { Encoding, Tokenizer } from '../tokenizer/tokenizer';

/** An example turned into model inputs. */
export interface EncodedExample {
  id: string;
  /** One row per input sequence: one for most heads, `numChoices` for multiple choice. */
  rows: Encoding[];
  /** As `Example.label`, except tagging: one label per token of `rows[0]`, `IGNORE_INDEX` where no word starts. */
  label?: number | number[];
}

/** A tokenizer that can also split a single word into sub-tokens (WordPiece does). */
interface WordTokenizer extends Tokenizer {
  tokenize(text: string): string[];
}

function hasTokenize(tokenizer: Tokenizer): tokenizer is WordTokenizer {
  return typeof (tokenizer as Partial<WordTokenizer>).tokenize === 'function';
}

/** Number of sub-tokens of one word: from `tokenize` where the tokenizer has it, else its encoding minus [CLS] and [SEP]. */
function subTokenCount(tokenizer: Tokenizer, word: string): number {
  return hasTokenize(tokenizer) ? tokenizer.tokenize(word).length : tokenizer.encode(word).inputIds.length - 2;
}

/**
 * Aligns word-level tags to tokens: each word's tag goes to its first sub-token, every other position (special tokens,
 * continuation pieces, words cut off by truncation) gets `IGNORE_INDEX`. `length` is the unpadded encoding's length.
 */
function alignTags(example: Example, words: readonly string[], tags: readonly number[], tokenizer: Tokenizer, length: number, maxLength: number): number[] {
  const aligned = new Array<number>(length).fill(IGNORE_INDEX);
  const content = length - 2; // between [CLS] and [SEP]
  let position = 1;
  words.forEach((word, i) => {
    const count = subTokenCount(tokenizer, word);
    if (count > 0 && position <= content) aligned[position] = tags[i] as number;
    position += count;
  });
  const total = position - 1;
  // Word-by-word and in-context tokenization must agree, or tags would land on the wrong tokens.
  if (content !== Math.min(total, maxLength - 2)) {
    throw new Error(`example ${example.id}: its words split into ${total} sub-tokens one by one but ${content} in context; tagging needs a tokenizer that splits words independently`);
  }
  return aligned;
}

function encodeOne(example: Example, tokenizer: Tokenizer, head: HeadSpec, maxLength: number): EncodedExample {
  const options = { maxLength };
  const { id, label } = example;
  if (head.type === 'multiple-choice') {
    const choices = example.choices ?? [];
    if (choices.length !== head.numChoices) throw new Error(`example ${id}: expected ${head.numChoices} choices, got ${choices.length}`);
    return { id, rows: choices.map((choice) => tokenizer.encode(example.text, choice, options)), label };
  }
  if (head.type !== 'tagging') return { id, rows: [tokenizer.encode(example.text, example.textPair ?? null, options)], label };
  const words = example.words ?? example.text.split(/\s+/).filter((word) => word !== '');
  const encoding = tokenizer.encode(words.join(' '), null, options);
  if (label === undefined) return { id, rows: [encoding] };
  const tags = Array.isArray(label) ? label : [label];
  if (tags.length !== words.length) throw new Error(`example ${id}: expected one tag per word (${words.length}), got ${tags.length}`);
  return { id, rows: [encoding], label: alignTags(example, words, tags, tokenizer, encoding.inputIds.length, maxLength) };
}

/**
 * Tokenizes examples for a head: a text or a pair per example (truncated longest-first to `maxLength`); multiple
 * choice: one row per choice, each paired with the shared text; tagging: word tags aligned to each word's first
 * sub-token. No padding here: `makeBatches` pads each batch to its own longest row.
 *
 * @example
 * const encoded = encodeExamples(examples, tokenizer, plugin.head, 128);
 */
export function encodeExamples(examples: readonly Example[], tokenizer: Tokenizer, head: HeadSpec, maxLength: number): EncodedExample[] {
  return examples.map((example) => {
    const encoded = encodeOne(example, tokenizer, head, maxLength);
    const longest = Math.max(...encoded.rows.map((row) => row.inputIds.length));
    if (longest > maxLength) throw new Error(`example ${example.id}: the tokenizer returned ${longest} tokens for maxLength ${maxLength}`);
    return encoded;
  });
}
