import { BoundedCache } from './bounded-cache';
import { byteToken } from './bpe-model';
import { TokenizerError } from './tokenizer-error';

// SentencePiece gives an unknown character the lowest piece score minus this penalty, so that the best path takes
// one only where no piece covers the character.
const UNKNOWN_PENALTY = 10;
const encoder = new TextEncoder();

/**
 * SentencePiece's unigram model (Kudo 2018) as Hugging Face's `tokenizers` runs it: the split of a word into pieces
 * whose scores (log-probabilities) sum highest, found by Viterbi over every piece starting at every character; a
 * character no piece covers becomes the unknown piece, consecutive unknown characters one unknown piece, or, with
 * byte fallback, the `<0xAB>` pieces of its UTF-8 bytes.
 *
 * @example
 * const model = new UnigramModel([['<unk>', 0], ['▁a', -1], ['b', -2], ['▁ab', -2.5]], 0, 'code');
 * model.tokenize('▁ab'); // [3]: -2.5 beats ▁a + b at -3
 */
export class UnigramModel {
  private readonly ids = new Map<string, number>();
  private readonly longestPiece: number;
  private readonly unknownScore: number;
  private readonly words = new BoundedCache((word) => this.split(word));

  constructor(
    private readonly pieces: ReadonlyArray<readonly [string, number]>,
    private readonly unkId: number | null,
    private readonly source: string,
    private readonly byteFallback = false,
  ) {
    pieces.forEach(([piece], id) => {
      if (!this.ids.has(piece)) this.ids.set(piece, id);
    });
    if (unkId !== null && (unkId < 0 || unkId >= pieces.length || !Number.isInteger(unkId)))
      throw new TokenizerError(source, `model.unk_id: expected a piece id from 0 to ${pieces.length - 1}, got ${unkId}`);
    this.longestPiece = pieces.reduce((longest, [piece]) => Math.max(longest, piece.length), 0);
    this.unknownScore = pieces.reduce((lowest, [, score]) => Math.min(lowest, score), Infinity) - UNKNOWN_PENALTY;
  }

  /** The ids of one pre-tokenized word. */
  tokenize(word: string): readonly number[] {
    return this.words.get(word);
  }

  /** Pieces of the best path, unknown runs fused into one string each. */
  private bestPath(word: string): Array<{ piece: string; unknown: boolean }> {
    // best[end]: the highest score of a path covering word[0, end), and the piece that ends it (UTF-16 offsets).
    const score = new Float64Array(word.length + 1).fill(-Infinity);
    const start = new Int32Array(word.length + 1).fill(-1);
    const pieceId = new Int32Array(word.length + 1);
    score[0] = 0;
    const offer = (from: number, to: number, id: number, pieceScore: number): void => {
      const candidate = (score[from] as number) + pieceScore;
      // Strictly better only: of equal paths the one found first (the shorter last piece) stays, as in the reference.
      if (start[to] === -1 || candidate > (score[to] as number)) [score[to], start[to], pieceId[to]] = [candidate, from, id];
    };
    for (let from = 0; from < word.length; ) {
      const characterLength = (word.codePointAt(from) ?? 0) > 0xffff ? 2 : 1;
      let coversCharacter = false;
      for (let to = from + 1; to <= Math.min(word.length, from + this.longestPiece); to++) {
        const id = this.ids.get(word.slice(from, to));
        if (id === undefined) continue;
        offer(from, to, id, (this.pieces[id] as readonly [string, number])[1]);
        if (to - from === characterLength) coversCharacter = true;
      }
      if (!coversCharacter) offer(from, from + characterLength, -1, this.unknownScore);
      from += characterLength;
    }
    const path: Array<{ piece: string; unknown: boolean }> = [];
    for (let end = word.length; end > 0; end = start[end] as number) {
      const from = start[end] as number;
      const unknown = pieceId[end] === -1 || pieceId[end] === this.unkId;
      const last = path[path.length - 1];
      // Backwards, so a fused unknown run grows at its front.
      if (unknown && last?.unknown) last.piece = word.slice(from, end) + last.piece;
      else path.push({ piece: word.slice(from, end), unknown });
    }
    return path.reverse();
  }

  private split(word: string): number[] {
    const ids: number[] = [];
    for (const { piece } of this.bestPath(word)) {
      const id = this.ids.get(piece);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      if (this.byteFallback) {
        const bytes = [...encoder.encode(piece)].map((byte) => this.ids.get(byteToken(byte)));
        if (bytes.every((byte) => byte !== undefined)) {
          ids.push(...(bytes));
          continue;
        }
      }
      if (this.unkId === null) throw new TokenizerError(this.source, `model: no piece covers "${piece}" and the model has no unk_id`);
      ids.push(this.unkId);
    }
    return ids;
  }
}
