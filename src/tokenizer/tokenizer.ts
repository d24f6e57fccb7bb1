/** The model inputs for one example (or one batch row), before tensors are made. */
export interface Encoding {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

/** Options for turning text into model inputs. */
export interface EncodeOptions {
  /** Truncate (longest-first for pairs) so the encoding has at most this many ids, special tokens included. */
  maxLength?: number;
  /**
   * `max_length` pads to maxLength; `longest` pads a batch to its longest encoding (a single encoding is left as is);
   * `false` does not pad. Single encodings default to `false`, batches to `longest`.
   */
  padding?: 'max_length' | 'longest' | false;
}

/** What the data pipeline needs from a tokenizer. */
export interface Tokenizer {
  /** `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` with token types, truncated and padded as asked. */
  encode(text: string, textPair?: string | null, options?: EncodeOptions): Encoding;
  /** Id used for padding. */
  readonly padTokenId: number;
  /** Number of entries in the vocabulary. */
  readonly vocabSize: number;
}
