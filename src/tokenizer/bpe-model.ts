import { BoundedCache } from './bounded-cache';
import { TokenizerError } from './tokenizer-error';

/** How a BPE model splits a word, as the `model` of a `tokenizer.json` (type `BPE`) sets it. */
export interface BpeModelOptions {
  /** Token for characters the vocabulary lacks; `null` drops them, as Hugging Face's BPE does. */
  unkToken?: string | null;
  /** Merge consecutive unknown characters into one unknown token. */
  fuseUnk?: boolean;
  /** Spell unknown characters as their UTF-8 bytes, `<0x41>`, where the vocabulary has them all. */
  byteFallback?: boolean;
  /** Prefix of every symbol but a word's first (`##` in some vocabularies). */
  continuingSubwordPrefix?: string | null;
  /** Suffix of a word's last symbol (`</w>` in some vocabularies). */
  endOfWordSuffix?: string | null;
  /** Take a word that is a vocabulary entry whole, without merging. */
  ignoreMerges?: boolean;
}

/** The vocabulary entry `<0xAB>` byte fallback uses for a byte. */
export function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

const encoder = new TextEncoder();

/**
 * Byte-pair encoding (Sennrich et al. 2016, as GPT-2 and Hugging Face's `tokenizers` apply it): a word starts as its
 * characters, and the adjacent pair whose merge comes first in the merge list is merged, leftmost first, until no
 * listed merge applies.
 *
 * @example
 * const vocabulary = new Map([['l', 0], ['o', 1], ['w', 2], ['lo', 3], ['low', 4]]);
 * const model = new BpeModel(vocabulary, [['l', 'o'], ['lo', 'w']], 'code');
 * model.tokenize('low'); // [4]
 */
export class BpeModel {
  /** Merged id and rank of each mergeable pair, keyed by `leftId * vocabularyBound + rightId`. */
  private readonly merges = new Map<number, { rank: number; merged: number }>();
  private readonly bound: number;
  private readonly unkId: number | null;
  private readonly options: Required<BpeModelOptions>;
  private readonly words = new BoundedCache((word) => this.split(word));

  constructor(
    private readonly vocabulary: ReadonlyMap<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    source: string,
    options: BpeModelOptions = {},
  ) {
    this.options = {
      unkToken: options.unkToken ?? null,
      fuseUnk: options.fuseUnk ?? false,
      byteFallback: options.byteFallback ?? false,
      continuingSubwordPrefix: options.continuingSubwordPrefix ?? null,
      endOfWordSuffix: options.endOfWordSuffix ?? null,
      ignoreMerges: options.ignoreMerges ?? false,
    };
    // A loop, not Math.max(...ids): a spread of a 250,000-entry vocabulary overflows the call stack.
    let largest = 0;
    for (const id of vocabulary.values()) largest = Math.max(largest, id);
    this.bound = largest + 1;
    const { unkToken, continuingSubwordPrefix } = this.options;
    this.unkId = unkToken === null ? null : (vocabulary.get(unkToken) ?? null);
    if (unkToken !== null && this.unkId === null)
      throw new TokenizerError(source, `model.unk_token: expected a vocabulary entry, got ${JSON.stringify(unkToken)}`);
    const prefixLength = continuingSubwordPrefix?.length ?? 0;
    merges.forEach(([left, right], rank) => {
      const id = (token: string): number => {
        const found = vocabulary.get(token);
        if (found === undefined)
          throw new TokenizerError(source, `model.merges[${rank}]: expected vocabulary entries, got "${left} ${right}" ("${token}" is none)`);
        return found;
      };
      // With a prefix, the right symbol's prefix disappears in the merged token (`a` + `##b` = `ab`).
      const merged = id(left + (prefixLength > 0 && right.startsWith(continuingSubwordPrefix ?? '') ? right.slice(prefixLength) : right));
      const key = id(left) * this.bound + id(right);
      if (!this.merges.has(key)) this.merges.set(key, { rank, merged });
    });
  }

  /** The ids of one pre-tokenized word. */
  tokenize(word: string): readonly number[] {
    return this.words.get(word);
  }

  private split(word: string): number[] {
    const { ignoreMerges, continuingSubwordPrefix, endOfWordSuffix, byteFallback, fuseUnk } = this.options;
    if (ignoreMerges) {
      const whole = this.vocabulary.get(word);
      if (whole !== undefined) return [whole];
    }
    const symbols: number[] = [];
    let pendingUnk = false;
    const characters = [...word];
    characters.forEach((character, index) => {
      let symbol = character;
      if (index > 0 && continuingSubwordPrefix !== null) symbol = continuingSubwordPrefix + symbol;
      if (index === characters.length - 1 && endOfWordSuffix !== null) symbol += endOfWordSuffix;
      const id = this.vocabulary.get(symbol);
      if (id !== undefined) {
        symbols.push(id);
        pendingUnk = false;
        return;
      }
      if (byteFallback) {
        const bytes = [...encoder.encode(symbol)].map((byte) => this.vocabulary.get(byteToken(byte)));
        if (bytes.every((byte) => byte !== undefined)) {
          symbols.push(...(bytes));
          pendingUnk = false;
          return;
        }
      }
      if (this.unkId === null) return;
      if (!(pendingUnk && fuseUnk)) symbols.push(this.unkId);
      pendingUnk = true;
    });
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      let merged = 0;
      for (let index = 0; index + 1 < symbols.length; index++) {
        const merge = this.merges.get((symbols[index] as number) * this.bound + (symbols[index + 1] as number));
        if (merge !== undefined && merge.rank < bestRank) [best, bestRank, merged] = [index, merge.rank, merge.merged];
      }
      if (best < 0) return symbols;
      symbols.splice(best, 2, merged);
    }
  }
}
