import { AddedTokenSplitter, type AddedToken } from './added-tokens';
import { encodeBatchWith, finishEncoding, truncateForSpecialTokens, type TextInput } from './encoding';
import type { Normalize } from './normalizers';
import type { PostProcessor } from './post-processor';
import type { PreTokenize } from './pre-tokenizers';
import type { EncodeOptions, Encoding, Tokenizer } from './tokenizer';

/** The steps of a Hugging Face fast tokenizer, as `readTokenizerFile` builds them from a `tokenizer.json`. */
export interface PipelineParts {
  normalize: Normalize;
  preTokenize: PreTokenize;
  /** The model (BPE or unigram): ids of one pre-tokenized piece. */
  model: { tokenize(piece: string): readonly number[] };
  postProcessor: PostProcessor;
  addedTokens: readonly AddedToken[];
  /** Token of each id (the model's vocabulary and the added tokens). */
  tokens: readonly string[];
  padTokenId: number;
}

/**
 * A tokenizer run the way Hugging Face's `tokenizers` runs a `tokenizer.json`: added tokens are cut out of the text
 * (those marked `normalized: false` before normalization, the others after), each remaining stretch is normalized and
 * pre-tokenized, the model splits each piece, and the post-processor adds the special tokens. Byte-level BPE
 * (RoBERTa, GPT-2) and SentencePiece unigram (XLM-R, ALBERT, T5) tokenizers load into it.
 *
 * @example
 * const tokenizer = await loadTokenizer('models/roberta-base'); // a PipelineTokenizer
 * tokenizer.encode('Adapters fuse.', 'They do.', { maxLength: 64 }).inputIds; // [0, ..., 2, 2, ..., 2]
 */
export class PipelineTokenizer implements Tokenizer {
  readonly padTokenId: number;
  private readonly rawSplitter: AddedTokenSplitter;
  private readonly normalizedSplitter: AddedTokenSplitter;

  constructor(private readonly parts: PipelineParts) {
    this.padTokenId = parts.padTokenId;
    this.rawSplitter = new AddedTokenSplitter(parts.addedTokens.filter((token) => !token.normalized));
    this.normalizedSplitter = new AddedTokenSplitter(parts.addedTokens.filter((token) => token.normalized));
  }

  /** Number of token ids (vocabulary and added tokens). */
  get vocabSize(): number {
    return this.parts.tokens.length;
  }

  /** The tokens of `text` without the post-processor's special tokens (added tokens written in it do appear). */
  tokenize(text: string): string[] {
    return this.convertIdsToTokens(this.textIds(text));
  }

  /**
   * The post-processor's special tokens around `text` (and `textPair`), truncated longest-first to `maxLength` and
   * padded as asked. An empty `textPair` still counts as a pair.
   */
  encode(text: string, textPair?: string | null, options: EncodeOptions = {}): Encoding {
    const pair = textPair === null || textPair === undefined ? null : this.textIds(textPair);
    const { postProcessor } = this.parts;
    const [a, b] = truncateForSpecialTokens(this.textIds(text), pair, postProcessor.addedCount(pair !== null), options.maxLength);
    return finishEncoding(postProcessor.apply(a, b), options, this.padTokenId);
  }

  /** Encodes texts or pairs, padded to the longest by default (as `WordPieceTokenizer.encodeBatch`). */
  encodeBatch(inputs: readonly TextInput[], options: EncodeOptions = {}): Encoding[] {
    return encodeBatchWith((text, pair, single) => this.encode(text, pair, single), inputs, options, this.padTokenId);
  }

  /** The tokens of `ids`; an id outside the vocabulary is an error. */
  convertIdsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const token = this.parts.tokens[id];
      if (token === undefined)
        throw new RangeError(`token id ${id} is outside the vocabulary (expected an integer from 0 to ${this.vocabSize - 1})`);
      return token;
    });
  }

  private textIds(text: string): number[] {
    const { normalize, preTokenize, model } = this.parts;
    const ids: number[] = [];
    for (const raw of this.rawSplitter.split(text)) {
      if ('id' in raw) {
        ids.push(raw.id);
        continue;
      }
      for (const part of this.normalizedSplitter.split(normalize(raw.text))) {
        if ('id' in part) ids.push(part.id);
        else for (const piece of preTokenize([{ text: part.text, first: raw.start === 0 && part.start === 0 }])) ids.push(...model.tokenize(piece.text));
      }
    }
    return ids;
  }
}
