import { isUnassignedInUnicode14 } from './unassigned-in-unicode-14';

// Per-code-point classification used by the BERT basic tokenizer. Looking a code point up in a table is much faster
// than running Unicode-property regexes on every character of 400k examples. Each code point is classified the first
// time it is seen (a corpus uses a few thousand at most), so no start-up time goes into classifying all of Unicode.

/**
 * Removed by text cleaning: U+0000, U+FFFD and every category C* character except tab, newline and carriage return,
 * categories taken from Unicode 14.0 as the reference used them (see unassigned-in-unicode-14.ts).
 */
export const REMOVED = 1;
/** Mapped to a plain space by text cleaning: tab, newline, carriage return and every Zs character. */
export const SPACE = 2;
/** Whitespace for Python's `str.split()`: bidirectional class WS, B or S, or category Zs. */
export const WHITESPACE = 4;
/** Split off as a token of its own: ASCII 33–47, 58–64, 91–96, 123–126, and every category P* character. */
export const PUNCTUATION = 8;
/** A CJK ideograph the basic tokenizer surrounds with spaces (the ranges of BERT's `_is_chinese_char`). */
export const CHINESE = 16;

const CONTROL = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION_CATEGORY = /^\p{P}$/u;

// Python's str.split() also splits on these, which have no Zs category: \t \n \v \f \r, the file/group/record/unit
// separators U+001C–U+001F, NEXT LINE U+0085, LINE SEPARATOR U+2028 and PARAGRAPH SEPARATOR U+2029.
const PYTHON_EXTRA_WHITESPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0x2028, 0x2029]);

const CHINESE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b820, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];

function classify(codePoint: number): number {
  const character = String.fromCodePoint(codePoint);
  let flags = 0;
  const isLineBreakOrTab = codePoint === 0x09 || codePoint === 0x0a || codePoint === 0x0d;
  const isOther = CONTROL.test(character) || isUnassignedInUnicode14(codePoint);
  if (codePoint === 0 || codePoint === 0xfffd || (isOther && !isLineBreakOrTab)) flags |= REMOVED;
  const isSpaceSeparator = SPACE_SEPARATOR.test(character);
  if (isLineBreakOrTab || isSpaceSeparator) flags |= SPACE;
  if (isSpaceSeparator || PYTHON_EXTRA_WHITESPACE.has(codePoint)) flags |= WHITESPACE;
  const isAsciiPunctuation =
    (codePoint >= 33 && codePoint <= 47) ||
    (codePoint >= 58 && codePoint <= 64) ||
    (codePoint >= 91 && codePoint <= 96) ||
    (codePoint >= 123 && codePoint <= 126);
  if (isAsciiPunctuation || PUNCTUATION_CATEGORY.test(character)) flags |= PUNCTUATION;
  if (CHINESE_RANGES.some(([low, high]) => codePoint >= low && codePoint <= high)) flags |= CHINESE;
  return flags;
}

const NOT_YET_CLASSIFIED = 0x80;
const basicPlane = new Uint8Array(0x10000).fill(NOT_YET_CLASSIFIED);
const astralPlanes = new Map<number, number>();

/**
 * The flags (REMOVED, SPACE, WHITESPACE, PUNCTUATION, CHINESE) of one code point. A lone surrogate is category Cs,
 * so it is removed, as Python removes it.
 */
export function characterFlags(codePoint: number): number {
  if (codePoint < 0x10000) {
    const flags = basicPlane[codePoint] ?? NOT_YET_CLASSIFIED;
    if (flags !== NOT_YET_CLASSIFIED) return flags;
    return (basicPlane[codePoint] = classify(codePoint));
  }
  let flags = astralPlanes.get(codePoint);
  if (flags === undefined) astralPlanes.set(codePoint, (flags = classify(codePoint)));
  return flags;
}
