import { WHITE_SPACE } from './normalizers';

/** A token matched in the text before anything else runs (`added_tokens` of a `tokenizer.json`). */
export interface AddedToken {
  id: number;
  content: string;
  /** Match only where the token is not inside a word. */
  singleWord: boolean;
  /** Take the white space on the token's left with it (RoBERTa's `<mask>`). */
  lstrip: boolean;
  /** Take the white space on the token's right with it. */
  rstrip: boolean;
  /** Match in the normalized text (true) or in the text as given (false). */
  normalized: boolean;
}

/** A stretch of text, or an added token's id; `start` is its offset in the text split. */
export type Segment = { text: string; start: number } | { id: number; start: number };

const SPACE = new RegExp(`[${WHITE_SPACE}]`, 'u');
const WORD_CHARACTER = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;

/** Cuts added tokens out of text, the longest one where several start at the same place. */
export class AddedTokenSplitter {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly pattern: RegExp | undefined;

  constructor(tokens: readonly AddedToken[]) {
    for (const token of tokens) if (token.content.length > 0) this.byContent.set(token.content, token);
    const contents = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    this.pattern = contents.length > 0 ? new RegExp(contents.map((content) => content.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gu') : undefined;
  }

  /** `text` as text segments and added-token ids, in order; empty text segments are left out. */
  split(text: string): Segment[] {
    if (this.pattern === undefined) return text.length > 0 ? [{ text, start: 0 }] : [];
    const segments: Segment[] = [];
    let end = 0;
    for (const match of text.matchAll(this.pattern)) {
      const token = this.byContent.get(match[0]) as AddedToken;
      let [from, to] = [match.index, match.index + match[0].length];
      if (from < end) continue;
      const [before, after] = [text[from - 1], text[to]];
      if (token.singleWord && ((before !== undefined && WORD_CHARACTER.test(before)) || (after !== undefined && WORD_CHARACTER.test(after)))) continue;
      if (token.lstrip) while (from > end && SPACE.test(text[from - 1] as string)) from--;
      if (token.rstrip) while (to < text.length && SPACE.test(text[to] as string)) to++;
      if (from > end) segments.push({ text: text.slice(end, from), start: end });
      segments.push({ id: token.id, start: from });
      end = to;
    }
    if (end < text.length) segments.push({ text: text.slice(end), start: end });
    return segments;
  }
}
