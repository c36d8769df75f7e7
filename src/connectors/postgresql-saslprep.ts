// SASLprep as PostgreSQL applies it (src/common/saslprep.c)
//
// PostgreSQL maps, then normalises (NFKC), then checks the *mapped input* (not the normalised
// output) against the prohibited and unassigned tables and the bidi rule; any failure means
// "use the raw bytes". Deciding "unassigned in Unicode 3.2" and "bidi class L" needs tables this
// module does not carry in full, so it decides only for characters it knows and reports the
// rest as undecidable.

export type ScramInput =
  | { readonly kind: 'prepared'; readonly text: string }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'undecidable' };

type Range = readonly [number, number];
type Bidi = 'L' | 'R' | 'neutral' | 'unknown';

export function scramInput(password: string): ScramInput {
  // PostgreSQL skips SASLprep entirely for pure ASCII, control characters included.
  if (isAscii(password)) return { kind: 'prepared', text: password };

  const mapped = mapForSaslprep(password);
  if (mapped.length === 0 || mapped.some(isProhibited)) return { kind: 'raw', text: password };
  const bidi = bidiVerdict(mapped.map(bidiClass));
  if (bidi === 'fail') return { kind: 'raw', text: password };
  if (bidi === 'unknown') return { kind: 'undecidable' };
  return { kind: 'prepared', text: fromCodePoints(mapped).normalize('NFKC') };
}

/**
 * pg 8.x prepares every password (map, then NFKC) and never falls back to the raw bytes. Where
 * PostgreSQL does fall back, the two only agree if preparing would not change the value.
 */
export function pgClientAgrees(password: string): boolean {
  const input = scramInput(password);
  if (input.kind !== 'raw') return true;
  return fromCodePoints(mapForSaslprep(password)).normalize('NFKC') === password;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function fromCodePoints(codes: readonly number[]): string {
  return codes.map((code) => String.fromCodePoint(code)).join('');
}

/** RFC 3454 C.1.2 spaces become U+0020 (checked first, so U+200B is a space); B.1 vanishes. */
function mapForSaslprep(password: string): number[] {
  const mapped: number[] = [];
  for (const char of password) {
    const code = char.codePointAt(0) ?? 0;
    if (inRanges(code, NON_ASCII_SPACES)) mapped.push(0x20);
    else if (!inRanges(code, MAPPED_TO_NOTHING)) mapped.push(code);
  }
  return mapped;
}

function isProhibited(code: number): boolean {
  // RFC 3454 C.4 also holds the last two code points of every plane.
  return (code & 0xfffe) === 0xfffe || inRanges(code, PROHIBITED);
}

/** RFC 3454 section 6: with any R/AL character, no L anywhere and R/AL at both ends. */
function bidiVerdict(classes: readonly Bidi[]): 'pass' | 'fail' | 'unknown' {
  const first = classes[0];
  const last = classes[classes.length - 1];
  if (classes.includes('R')) {
    const endsKnownNotR = [first, last].some((end) => end === 'L' || end === 'neutral');
    if (classes.includes('L') || endsKnownNotR) return 'fail';
  }
  return classes.includes('unknown') ? 'unknown' : 'pass';
}

function bidiClass(code: number): Bidi {
  if (inRanges(code, KNOWN_L)) return 'L';
  if (inRanges(code, KNOWN_R_AL)) return 'R';
  if (inRanges(code, KNOWN_NEUTRAL)) return 'neutral';
  return 'unknown';
}

function inRanges(code: number, ranges: readonly Range[]): boolean {
  return ranges.some(([low, high]) => code >= low && code <= high);
}

/** RFC 3454 C.1.2. */
const NON_ASCII_SPACES: readonly Range[] = [
  [0x00a0, 0x00a0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

/** RFC 3454 B.1. */
const MAPPED_TO_NOTHING: readonly Range[] = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

/** SASLprep's prohibited output, RFC 4013 section 2.3 (RFC 3454 C.1.2 and C.2.1 to C.9). */
const PROHIBITED: readonly Range[] = [
  [0x0000, 0x001f], // C.2.1
  [0x007f, 0x00a0], // C.2.1, C.2.2, C.1.2
  [0x0340, 0x0341], // C.8
  [0x06dd, 0x06dd], // C.2.2
  [0x070f, 0x070f], // C.2.2
  [0x1680, 0x1680], // C.1.2
  [0x180e, 0x180e], // C.2.2
  [0x2000, 0x200f], // C.1.2, C.2.2, C.8
  [0x2028, 0x202f], // C.2.2, C.8, C.1.2
  [0x205f, 0x2063], // C.1.2, C.2.2
  [0x206a, 0x206f], // C.2.2, C.8
  [0x2ff0, 0x2ffb], // C.7
  [0x3000, 0x3000], // C.1.2
  [0xd800, 0xf8ff], // C.5, C.3
  [0xfdd0, 0xfdef], // C.4
  [0xfeff, 0xfeff], // C.2.2
  [0xfff9, 0xffff], // C.2.2, C.6, C.4
  [0x1d173, 0x1d17a], // C.2.2
  [0xe0001, 0xe0001], // C.9
  [0xe0020, 0xe007f], // C.9
  [0xf0000, 0x10ffff], // C.3, C.4
];

/**
 * Characters assigned in Unicode 3.2 with bidi class L (RFC 3454 D.2): a deliberate subset
 * covering ASCII, Latin-1 and Latin Extended-A letters, Greek, Cyrillic, kana, CJK and Hangul.
 */
const KNOWN_L: readonly Range[] = [
  [0x0041, 0x005a],
  [0x0061, 0x007a],
  [0x00c0, 0x00d6],
  [0x00d8, 0x00f6],
  [0x00f8, 0x017f],
  [0x0386, 0x0386],
  [0x0388, 0x038a],
  [0x038c, 0x038c],
  [0x038e, 0x03a1],
  [0x03a3, 0x03ce],
  [0x0400, 0x0482],
  [0x3041, 0x3096],
  [0x30a1, 0x30fa],
  [0x4e00, 0x9fa5],
  [0xac00, 0xd7a3],
];

/** Hebrew and Arabic letters: bidi class R or AL (RFC 3454 D.1), assigned in Unicode 3.2. */
const KNOWN_R_AL: readonly Range[] = [
  [0x05d0, 0x05ea],
  [0x0621, 0x063a],
  [0x0640, 0x064a],
];

/** Assigned in Unicode 3.2, neither L nor R/AL: ASCII non-letters, × and ÷, combining marks. */
const KNOWN_NEUTRAL: readonly Range[] = [
  [0x0020, 0x0040],
  [0x005b, 0x0060],
  [0x007b, 0x007e],
  [0x00d7, 0x00d7],
  [0x00f7, 0x00f7],
  [0x0300, 0x034e],
];
