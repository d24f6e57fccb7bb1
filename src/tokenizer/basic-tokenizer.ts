import { CHINESE, PUNCTUATION, REMOVED, SPACE, WHITESPACE, characterFlags } from './character-flags';

/** How the basic tokenizer normalizes text before WordPiece (WordPieceTokenizer fills in the defaults). */
export interface BasicTokenizerOptions {
  /** Lowercase every code point outside the special-token strings. */
  lowercase: boolean;
  /** Decompose (NFD) each word and drop its nonspacing marks (category Mn). */
  stripAccents: boolean;
  /** Put spaces around CJK ideographs so each becomes a word of its own. */
  tokenizeChineseChars: boolean;
  /** Remove control and format characters, map tab, newlines and Zs spaces to a plain space. */
  cleanText: boolean;
  /** Strings cut out of the text wherever they occur (case-sensitively) and kept whole: `[CLS]`, `[SEP]`, ... */
  specialTokens: readonly string[];
}

// U+1171E AHOM SIGN MEDIAL RA was a nonspacing mark (Mn) in Unicode 14.0, which the reference used; 15.0 made it Mc.
const NONSPACING_MARKS = /[\p{Mn}\u{1171E}]/gu;
const NON_ASCII = /[\u0080-\u{10ffff}]/u;
// The lowest code point NFC can change is U+0300 (combining grave accent); text below it is already NFC.
const FIRST_NORMALIZABLE = 0x300;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Capital letters assigned after Unicode 14.0 whose lowercase letters are older (ɤ, ꟓ, ꟕ, ƛ). The reference saw
// unassigned code points there, left them as they were, and cleaning removed them; lowercased, they would survive.
const NEWER_CAPITALS = /[\uA7CB\uA7D2\uA7D4\uA7DC]/;
const OUTSIDE_NEWER_CAPITALS = /[^\uA7CB\uA7D2\uA7D4\uA7DC]+/g;

/**
 * Python's `str.lower()` applied one code point at a time, as the reference tokenizer does. That is JavaScript's
 * `toLowerCase()` without its one context-dependent rule, final sigma: a capital sigma always becomes `σ`, never `ς`.
 */
function lowercasePerCodePoint(text: string): string {
  const sigmaLowered = text.includes('Σ') ? text.replaceAll('Σ', 'σ') : text;
  return NEWER_CAPITALS.test(sigmaLowered)
    ? sigmaLowered.replace(OUTSIDE_NEWER_CAPITALS, (part) => part.toLowerCase())
    : sigmaLowered.toLowerCase();
}

/** Code point at `index` of `text` (a lone surrogate is returned as itself). */
function codePointAt(text: string, index: number): number {
  return text.codePointAt(index) ?? 0;
}

/**
 * The BERT basic tokenizer: cuts out special tokens, lowercases, cleans, spaces out CJK ideographs, applies NFC,
 * splits on whitespace, strips accents and splits off punctuation, exactly as the reference (Hugging Face's slow
 * `BertTokenizer`) does. The result is the list of words WordPiece splits further.
 */
export class BasicTokenizer {
  private readonly specialTokens: ReadonlySet<string>;
  private readonly specialPattern: RegExp | undefined;

  constructor(private readonly options: BasicTokenizerOptions) {
    this.specialTokens = new Set(options.specialTokens);
    this.specialPattern =
      options.specialTokens.length > 0 ? new RegExp(options.specialTokens.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /** Words and punctuation of `text`, special-token strings included whole. */
  split(text: string): string[] {
    const words: string[] = [];
    let start = 0;
    if (this.specialPattern) {
      for (const match of text.matchAll(this.specialPattern)) {
        this.splitPiece(text.slice(start, match.index), words);
        words.push(match[0]);
        start = match.index + match[0].length;
      }
    }
    this.splitPiece(start === 0 ? text : text.slice(start), words);
    return words;
  }

  private splitPiece(piece: string, words: string[]): void {
    if (piece.length === 0) return;
    const text = this.normalize(this.options.lowercase ? lowercasePerCodePoint(piece) : piece);
    // Python's str.split(): every whitespace character is a BMP code unit, so scanning code units is exact.
    let wordStart = -1;
    // Most words are ASCII without punctuation; they skip the second scan of splitWord.
    let isPlain = true;
    for (let index = 0; index <= text.length; index++) {
      const unit = index < text.length ? text.charCodeAt(index) : 0x20;
      const flags = characterFlags(unit);
      if (flags & WHITESPACE) {
        if (wordStart < 0) continue;
        const word = text.slice(wordStart, index);
        if (isPlain) words.push(word);
        else this.splitWord(word, words);
        wordStart = -1;
      } else {
        if (wordStart < 0) [wordStart, isPlain] = [index, true];
        if (unit > 0x7f || flags & PUNCTUATION) isPlain = false;
      }
    }
  }

  /** Cleaning and CJK spacing in one pass, then NFC; returns the input itself when nothing changes. */
  private normalize(text: string): string {
    const { cleanText, tokenizeChineseChars } = this.options;
    let output = '';
    let copiedUpTo = 0;
    let highest = 0;
    for (let index = 0; index < text.length; ) {
      const codePoint = codePointAt(text, index);
      const width = codePoint > 0xffff ? 2 : 1;
      const flags = characterFlags(codePoint);
      let replacement: string | undefined;
      if (cleanText && flags & REMOVED) replacement = '';
      else if (cleanText && flags & SPACE && codePoint !== 0x20) replacement = ' ';
      else if (tokenizeChineseChars && flags & CHINESE) replacement = ` ${text.slice(index, index + width)} `;
      if (replacement !== undefined) {
        output += text.slice(copiedUpTo, index) + replacement;
        copiedUpTo = index + width;
      }
      if (codePoint > highest) highest = codePoint;
      index += width;
    }
    if (copiedUpTo > 0) output += text.slice(copiedUpTo);
    else output = text;
    return highest >= FIRST_NORMALIZABLE ? output.normalize('NFC') : output;
  }

  /** One whitespace-separated word: accents stripped, then punctuation split off as single-character words. */
  private splitWord(word: string, words: string[]): void {
    if (this.specialTokens.has(word)) {
      // Reachable only when cleaning joins a special token back together, e.g. `[CL\u200bS]` in cased mode.
      words.push(word);
      return;
    }
    const text =
      this.options.stripAccents && NON_ASCII.test(word) ? word.normalize('NFD').replace(NONSPACING_MARKS, '') : word;
    let pieceStart = 0;
    for (let index = 0; index < text.length; ) {
      const codePoint = codePointAt(text, index);
      const width = codePoint > 0xffff ? 2 : 1;
      if (characterFlags(codePoint) & PUNCTUATION) {
        if (index > pieceStart) words.push(text.slice(pieceStart, index));
        words.push(text.slice(index, index + width));
        pieceStart = index + width;
      }
      index += width;
    }
    if (pieceStart < text.length) words.push(pieceStart === 0 ? text : text.slice(pieceStart));
  }
}
