import { BoundedCache } from './bounded-cache';
import { TokenizerError } from './tokenizer-error';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

// A unit of the double-array trie (darts-clone's layout): bits 0-7 the label, bit 8 "has a leaf", bits 10-31 the
// offset to the children (shifted 8 more when bit 9 is set); a leaf unit holds the value in bits 0-30 and has bit 31
// set, so no byte label equals it.
const label = (unit: number): number => unit & 0x800000ff;
const hasLeaf = (unit: number): boolean => ((unit >>> 8) & 1) === 1;
const offset = (unit: number): number => (unit >>> 10) << ((unit & 0x200) >>> 6);

/**
 * SentencePiece's normalization rules as they are stored in a `precompiled_charsmap` (base64 in `tokenizer.json`):
 * a little-endian u32 byte length of a double-array trie over UTF-8 keys, the trie's u32 units, then the
 * NUL-terminated replacement strings the trie's values point into. XLM-R, ALBERT and T5 ship SentencePiece's
 * `nmt_nfkc` rules this way (NFKC plus mapping control characters away and spaces to U+0020).
 *
 * Applied as Hugging Face's `tokenizers` applies it: each grapheme cluster shorter than 6 UTF-8 bytes is looked up
 * whole; otherwise (or when the cluster has no rule) each of its characters is looked up; the shortest key that is
 * a prefix of what is looked up gives the replacement, and text without a rule stays as it is.
 */
export class PrecompiledCharsmap {
  private readonly trie: Uint32Array;
  private readonly replacements: Uint8Array;
  /** Each grapheme cluster's replacement (a corpus has few distinct clusters). */
  private readonly clusters = new BoundedCache((segment) => this.normalizeCluster(segment));

  constructor(bytes: Uint8Array, source: string) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const trieBytes = bytes.length >= 4 ? view.getUint32(0, true) : -1;
    if (trieBytes < 0 || trieBytes % 4 !== 0 || 4 + trieBytes > bytes.length)
      throw new TokenizerError(source, `normalizer.precompiled_charsmap: expected a trie length (a multiple of 4 within the ${bytes.length} bytes) first, got ${trieBytes}`);
    this.trie = new Uint32Array(trieBytes / 4);
    for (let index = 0; index < this.trie.length; index++) this.trie[index] = view.getUint32(4 + 4 * index, true);
    this.replacements = bytes.subarray(4 + trieBytes);
  }

  /** `text` with the rules applied. */
  normalize(text: string): string {
    // Segmenting is the slow part, so ASCII characters between ASCII neighbours, which are grapheme clusters of
    // their own (CR LF aside), skip it; what lies between them is segmented.
    let normalized = '';
    let pending = -1;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      const [before, after] = [text.charCodeAt(index - 1), text.charCodeAt(index + 1)];
      const alone =
        code < 0x80 &&
        !(before >= 0x80) &&
        !(after >= 0x80) &&
        !(code === 0x0d && after === 0x0a) &&
        !(code === 0x0a && before === 0x0d);
      if (!alone) {
        if (pending < 0) pending = index;
        continue;
      }
      if (pending >= 0) normalized += this.normalizeSegmented(text.slice(pending, index));
      pending = -1;
      normalized += this.clusters.get(text[index] as string);
    }
    return pending >= 0 ? normalized + this.normalizeSegmented(text.slice(pending)) : normalized;
  }

  private normalizeSegmented(text: string): string {
    let normalized = '';
    for (const { segment } of graphemes.segment(text)) normalized += this.clusters.get(segment);
    return normalized;
  }

  private normalizeCluster(segment: string): string {
    const bytes = encoder.encode(segment);
    const whole = bytes.length < 6 ? this.lookUp(bytes) : undefined;
    if (whole !== undefined) return whole;
    let normalized = '';
    for (const character of segment) normalized += this.lookUp(encoder.encode(character)) ?? character;
    return normalized;
  }

  /** The replacement of the shortest key that is a prefix of `key`. */
  private lookUp(key: Uint8Array): string | undefined {
    const trie = this.trie;
    if (trie.length === 0) return undefined;
    let position = offset(trie[0] as number);
    for (const byte of key) {
      if (byte === 0) return undefined;
      position ^= byte;
      const unit = trie[position];
      if (unit === undefined || label(unit) !== byte) return undefined;
      position ^= offset(unit);
      if (hasLeaf(unit)) {
        const start = (trie[position] ?? 0) & 0x7fffffff;
        const end = this.replacements.indexOf(0, start);
        return decoder.decode(this.replacements.subarray(start, end < 0 ? this.replacements.length : end));
      }
    }
    return undefined;
  }
}
