import { readTextFile } from '../io/read-file';
import { BasicTokenizer } from './basic-tokenizer';
import { BoundedCache } from './bounded-cache';
import { encodeBatchWith, finishEncoding, truncateForSpecialTokens, type TextInput } from './encoding';
import type { EncodeOptions, Encoding, Tokenizer } from './tokenizer';
import { TokenizerError } from './tokenizer-error';

/** How text is normalized and split; defaults as in Hugging Face's `BertTokenizer`, but cased vocabularies keep case. */
export interface WordPieceTokenizerOptions {
  /**
   * Lowercase the text. Default `true` for an uncased vocabulary, `false` for a cased one (one where some entry other
   * than the special tokens changes under lowercasing, e.g. `The`).
   */
  doLowerCase?: boolean;
  /** Decompose each word (NFD) and drop its accents (category Mn). Default: the value of `doLowerCase`. */
  stripAccents?: boolean;
  /** Make every CJK ideograph a word of its own. Default `true`. */
  tokenizeChineseChars?: boolean;
  /** Remove control and format characters and turn tabs, newlines and Unicode spaces into spaces. Default `true`. */
  cleanText?: boolean;
  /** A word longer than this many code points becomes `[UNK]`. Default `100`. */
  maxInputCharsPerWord?: number;
  /** Prefix of the vocabulary entries that continue a word. Default `##`. */
  continuingSubwordPrefix?: string;
}

/** The special tokens every BERT WordPiece vocabulary holds; they are cut out of text wherever they occur. */
export const BERT_SPECIAL_TOKENS = { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' } as const;


function isCased(tokens: readonly string[]): boolean {
  const special = new Set<string>(Object.values(BERT_SPECIAL_TOKENS));
  return tokens.some((token) => !special.has(token) && token.toLowerCase() !== token);
}

/**
 * Reads a `vocab.txt` the way Python's text mode does: lines end at `\n`, `\r\n` or `\r`; a final line break does not
 * start another entry; line i is token id i.
 */
function readVocabLines(path: string): string[] {
  const lines = readTextFile(path).split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * BERT's WordPiece tokenizer, matching Hugging Face's pure-Python `BertTokenizer` token for token (including its
 * per-code-point lowercasing, text cleaning, CJK splitting, accent stripping, punctuation rules, whole-word `[UNK]`
 * and `longest_first` truncation).
 *
 * @example
 * const vocabulary = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'un', '##believ', '##able', '!'];
 * const tokenizer = WordPieceTokenizer.fromVocab(vocabulary);
 * tokenizer.tokenize('Unbelievable!'); // ['un', '##believ', '##able', '!']
 * tokenizer.encode('Unbelievable!', null, { maxLength: 8, padding: 'max_length' }).inputIds;
 * // [2, 5, 6, 7, 8, 3, 0, 0]
 */
export class WordPieceTokenizer implements Tokenizer {
  /** Id of `[PAD]`. */
  readonly padTokenId: number;
  /** Id of `[UNK]`, given to every word WordPiece cannot split. */
  readonly unkTokenId: number;
  /** Id of `[CLS]`, the first token of every encoding. */
  readonly clsTokenId: number;
  /** Id of `[SEP]`, which ends each text of an encoding. */
  readonly sepTokenId: number;
  /** Id of `[MASK]`. */
  readonly maskTokenId: number;
  /** The options in force, defaults filled in. */
  readonly options: Readonly<Required<WordPieceTokenizerOptions>>;

  private readonly tokenIds = new Map<string, number>();
  private readonly basic: BasicTokenizer;
  /** No vocabulary entry is longer than this (UTF-16 units), which bounds the longest-match search. */
  private readonly longestToken: number;
  private readonly words = new BoundedCache((word) => this.wordPiece(word));

  private constructor(
    private readonly tokens: readonly string[],
    options: WordPieceTokenizerOptions,
    source: string,
  ) {
    const doLowerCase = options.doLowerCase ?? !isCased(tokens);
    this.options = {
      doLowerCase,
      stripAccents: options.stripAccents ?? doLowerCase,
      tokenizeChineseChars: options.tokenizeChineseChars ?? true,
      cleanText: options.cleanText ?? true,
      maxInputCharsPerWord: options.maxInputCharsPerWord ?? 100,
      continuingSubwordPrefix: options.continuingSubwordPrefix ?? '##',
    };
    const { maxInputCharsPerWord, continuingSubwordPrefix } = this.options;
    if (!Number.isInteger(maxInputCharsPerWord) || maxInputCharsPerWord < 1) {
      throw new TokenizerError(
        source,
        `maxInputCharsPerWord: expected a positive integer, got ${maxInputCharsPerWord}`,
      );
    }
    if (continuingSubwordPrefix === '') {
      throw new TokenizerError(source, 'continuingSubwordPrefix: expected a non-empty string, got ""');
    }
    // As in the reference, a token listed twice keeps its last id.
    tokens.forEach((token, id) => this.tokenIds.set(token, id));
    this.longestToken = tokens.reduce((longest, token) => Math.max(longest, token.length), 0);
    const specialId = (token: string): number => {
      const id = this.tokenIds.get(token);
      if (id === undefined) {
        const all = Object.values(BERT_SPECIAL_TOKENS).join(', ');
        throw new TokenizerError(source, `the vocabulary has no "${token}" token (a BERT vocabulary holds ${all})`);
      }
      return id;
    };
    this.padTokenId = specialId(BERT_SPECIAL_TOKENS.pad);
    this.unkTokenId = specialId(BERT_SPECIAL_TOKENS.unk);
    this.clsTokenId = specialId(BERT_SPECIAL_TOKENS.cls);
    this.sepTokenId = specialId(BERT_SPECIAL_TOKENS.sep);
    this.maskTokenId = specialId(BERT_SPECIAL_TOKENS.mask);
    this.basic = new BasicTokenizer({
      lowercase: this.options.doLowerCase,
      stripAccents: this.options.stripAccents,
      tokenizeChineseChars: this.options.tokenizeChineseChars,
      cleanText: this.options.cleanText,
      specialTokens: Object.values(BERT_SPECIAL_TOKENS),
    });
  }

  /**
   * A tokenizer over the given tokens, token i having id i; handy for tiny vocabularies built in code.
   *
   * @example
   * const tokenizer = WordPieceTokenizer.fromVocab(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello']);
   * tokenizer.tokenize('Hello'); // ['hello']
   */
  static fromVocab(tokens: readonly string[], options: WordPieceTokenizerOptions = {}): WordPieceTokenizer {
    return new WordPieceTokenizer([...tokens], options, 'vocabulary given in code');
  }

  /**
   * A tokenizer reading a BERT `vocab.txt` (one token per line, line i is id i). `loadTokenizer(dir)` also reads the
   * options from `tokenizer_config.json`; here they are given.
   *
   * @example
   * const tokenizer = WordPieceTokenizer.fromVocabFile('models/bert-base-uncased/vocab.txt', { doLowerCase: true });
   */
  static fromVocabFile(path: string, options: WordPieceTokenizerOptions = {}): WordPieceTokenizer {
    return new WordPieceTokenizer(readVocabLines(path), options, path);
  }

  /** Number of vocabulary entries (ids run from 0 to vocabSize - 1). */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The vocabulary in id order. */
  get vocabulary(): readonly string[] {
    return this.tokens;
  }

  /** WordPiece tokens of `text`, without `[CLS]`/`[SEP]` (special-token strings written in the text do appear). */
  tokenize(text: string): string[] {
    return this.convertIdsToTokens(this.textIds(text));
  }

  /**
   * `[CLS] text [SEP]`, or `[CLS] text [SEP] textPair [SEP]` with token type 1 for the pair's part, truncated
   * longest-first to `maxLength` and padded as asked. An empty `textPair` still counts as a pair.
   */
  encode(text: string, textPair?: string | null, options: EncodeOptions = {}): Encoding {
    const pair = textPair === null || textPair === undefined ? null : this.textIds(textPair);
    const [a, b] = truncateForSpecialTokens(this.textIds(text), pair, pair === null ? 2 : 3, options.maxLength);
    const inputIds = [this.clsTokenId, ...a, this.sepTokenId];
    const tokenTypeIds = new Array<number>(inputIds.length).fill(0);
    if (b !== null) {
      inputIds.push(...b, this.sepTokenId);
      for (let index = 0; index <= b.length; index++) tokenTypeIds.push(1);
    }
    return finishEncoding({ inputIds, tokenTypeIds }, options, this.padTokenId);
  }

  /**
   * Encodes several texts or pairs. Padding defaults to `longest` (every row as long as the longest); `max_length`
   * pads every row to `maxLength`; `false` leaves rows ragged.
   *
   * @example
   * const batch = tokenizer.encodeBatch(['a short one', ['a premise', 'and its hypothesis']], { maxLength: 128 });
   */
  encodeBatch(inputs: readonly TextInput[], options: EncodeOptions = {}): Encoding[] {
    return encodeBatchWith((text, pair, single) => this.encode(text, pair, single), inputs, options, this.padTokenId);
  }

  /** The vocabulary entries of `ids`; an id outside the vocabulary is an error. */
  convertIdsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const token = this.tokens[id];
      if (token === undefined) {
        throw new RangeError(
          `token id ${id} is outside the vocabulary (expected an integer from 0 to ${this.vocabSize - 1})`,
        );
      }
      return token;
    });
  }

  private textIds(text: string): number[] {
    const ids: number[] = [];
    for (const word of this.basic.split(text)) for (const id of this.words.get(word)) ids.push(id);
    return ids;
  }

  /**
   * Greedy longest-match-first split of one word; a word with no split, or longer than maxInputCharsPerWord code
   * points, is one `[UNK]`. Special-token words come out whole because they are vocabulary entries. Scanning UTF-16
   * units is exact: a candidate cut inside a surrogate pair is never a (valid UTF-8) vocabulary entry.
   */
  private wordPiece(word: string): number[] {
    const { maxInputCharsPerWord, continuingSubwordPrefix } = this.options;
    if (word.length > maxInputCharsPerWord && [...word].length > maxInputCharsPerWord) return [this.unkTokenId];
    const ids: number[] = [];
    for (let start = 0; start < word.length; ) {
      let end = Math.min(word.length, start + this.longestToken);
      let id: number | undefined;
      for (; end > start; end--) {
        const candidate = start === 0 ? word.slice(0, end) : continuingSubwordPrefix + word.slice(start, end);
        id = this.tokenIds.get(candidate);
        if (id !== undefined) break;
      }
      if (id === undefined) return [this.unkTokenId];
      ids.push(id);
      start = end;
    }
    return ids;
  }
}
