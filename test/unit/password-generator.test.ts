import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { TesseraError } from '../../src/errors.ts';
import {
  ASCII_SYMBOLS,
  DEFAULT_SECRET_RULES,
  generateSecret,
  NON_ASCII_LETTERS,
  type SecretRules,
  validateSecretRules,
} from '../../src/rotation/password-generator.ts';

const DIGIT = /[0-9]/;

function rules(overrides: Partial<SecretRules>): SecretRules {
  return { ...DEFAULT_SECRET_RULES, ...overrides };
}

function count(chars: readonly string[], pattern: RegExp): number {
  return chars.filter((char) => pattern.test(char)).length;
}

/** Pearson's chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: ReadonlyMap<string, number>, categories: number, draws: number) {
  const expected = draws / categories;
  let statistic = 0;
  for (const observed of counts.values()) statistic += (observed - expected) ** 2 / expected;
  // Categories never drawn contribute their full expectation.
  statistic += (categories - counts.size) * expected;
  return statistic;
}

function tally(samples: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const sample of samples) {
    for (const char of sample) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  return counts;
}

describe('generateSecret', () => {
  test('the defaults give 32 characters with every class present', () => {
    for (let i = 0; i < 500; i++) {
      const chars = [...generateSecret(DEFAULT_SECRET_RULES)];
      assert.equal(chars.length, 32);
      assert.ok(count(chars, /[a-z]/) >= 1 && count(chars, /[A-Z]/) >= 1);
      assert.ok(count(chars, DIGIT) >= 1);
      assert.ok(chars.some((char) => ASCII_SYMBOLS.includes(char)));
    }
  });

  test('class minima are honoured when they fill the whole length', () => {
    const tight = rules({
      length: 8,
      minLowercase: 2,
      minUppercase: 2,
      minDigits: 2,
      minSymbols: 2,
    });
    for (let i = 0; i < 2_000; i++) {
      const chars = [...generateSecret(tight)];
      assert.equal(chars.length, 8);
      assert.equal(count(chars, /[a-z]/), 2);
      assert.equal(count(chars, /[A-Z]/), 2);
      assert.equal(count(chars, DIGIT), 2);
      assert.equal(count(chars, /[^a-zA-Z0-9]/), 2);
    }
  });

  test('excluded characters never appear', () => {
    const exclude = `O0Il1'"\\$\``;
    const counts = tally(Array.from({ length: 5_000 }, () => generateSecret(rules({ exclude }))));
    for (const char of exclude) assert.equal(counts.get(char), undefined, `found ${char}`);
    // Everything else in the alphabet shows up, so the exclusion is not hiding a broken alphabet.
    assert.equal(counts.size, 26 + 26 + 10 + ASCII_SYMBOLS.length - [...exclude].length);
  });

  test('platform exclusions may name control characters (PostgreSQL forbids NUL)', () => {
    // The rotation engine appends the connector's forbidden characters to the policy's.
    const exclude = 'O0\u0000';
    const secret = generateSecret(rules({ exclude }));
    assert.equal([...secret].length, 32);
    for (const char of exclude) assert.equal(secret.includes(char), false);
  });

  test('a disallowed class and an empty symbol set never appear', () => {
    const noDigits = rules({ minDigits: 0, disallow: ['digits'], symbols: '', minSymbols: 0 });
    for (let i = 0; i < 1_000; i++) {
      assert.match(generateSecret(noDigits), /^[a-zA-Z]{32}$/);
    }
  });

  test('an extra alphabet of non-ASCII letters forms a class of code points', () => {
    const wide = rules({ extra: NON_ASCII_LETTERS, minExtra: 3 });
    const extra = new Set(NON_ASCII_LETTERS);
    for (let i = 0; i < 1_000; i++) {
      const secret = generateSecret(wide);
      const chars = [...secret];
      assert.equal(chars.length, 32);
      assert.ok(chars.filter((char) => extra.has(char)).length >= 3);
      // Generated values are never normalised, and these letters are already in NFC.
      assert.equal(secret.normalize('NFC'), secret);
    }
  });

  test('characters outside the Basic Multilingual Plane count as one character', () => {
    const secret = generateSecret({ ...noClasses(), length: 12, extra: '𝒜𝒞𝒟', minExtra: 2 });
    assert.equal([...secret].length, 12);
    assert.match(secret, /^[𝒜𝒞𝒟]{12}$/u);
  });

  test('characters are uniform: chi-square over an alphabet of 100 stays within bounds', () => {
    // 100 does not divide 256. A `byte % 100` generator gives the first 56 characters a chance of
    // 3/256 and the other 44 a chance of 2/256; over N draws its expected statistic is about
    // N * 0.0376 + 99, i.e. ~3,860 for N = 100,000. An unbiased generator gives 99 on average
    // with a standard deviation of 14, so the bound of 250 (10 standard deviations) is never
    // crossed by chance, yet sits far below the modulo generator's value. The next test runs
    // the same statistic on such a generator to show it fails.
    const alphabet = distinctCharacters(100);
    const flat: SecretRules = { ...noClasses(), length: 100, symbols: alphabet };
    const counts = tally(Array.from({ length: 1_000 }, () => generateSecret(flat)));
    assert.ok(chiSquare(counts, 100, 100_000) < 250);
  });

  test('the uniformity check catches a byte-modulo generator', () => {
    const alphabet = [...distinctCharacters(100)];
    const biased = function* () {
      for (const byte of randomBytes(100_000)) yield alphabet[byte % alphabet.length] ?? '';
    };
    assert.ok(chiSquare(tally(biased()), 100, 100_000) > 1_000);
  });

  test('within each class of the default rules, characters are uniform', () => {
    const samples = Array.from({ length: 3_000 }, () => generateSecret(DEFAULT_SECRET_RULES));
    const counts = tally(samples);
    for (const alphabet of ['abcdefghijklmnopqrstuvwxyz', '0123456789', ASCII_SYMBOLS]) {
      const chars = [...alphabet];
      const within = new Map(chars.map((char) => [char, counts.get(char) ?? 0]));
      const draws = [...within.values()].reduce((sum, n) => sum + n, 0);
      // Degrees of freedom ≤ 31: mean ≤ 31, standard deviation ≤ 8; 120 is ~11 deviations out.
      assert.ok(chiSquare(within, chars.length, draws) < 120, `class ${alphabet}`);
    }
  });
});

describe('rules that cannot be met are refused before drawing', () => {
  const cases: [string, Partial<SecretRules>, string][] = [
    ['minima longer than the length', { length: 3 }, 'length'],
    ['zero length', { length: 0 }, 'length'],
    ['fractional length', { length: 12.5 }, 'length'],
    ['absurd length', { length: 1_000_000 }, 'length'],
    ['negative minimum', { minDigits: -1 }, 'digits'],
    ['fractional minimum', { minLowercase: 1.5 }, 'lowercase'],
    ['a required class fully excluded', { exclude: '0123456789' }, 'digits'],
    ['a required class with no symbols', { symbols: '' }, 'symbols'],
    ['a disallowed class that is required', { disallow: ['uppercase'] }, 'uppercase'],
    ['an extra alphabet that repeats a class', { extra: 'aé', minExtra: 0 }, 'extra'],
    ['a control character in the symbols', { symbols: '!\u0000#' }, 'symbols'],
    ['a lone surrogate in the exclusions', { exclude: '\ud800' }, 'exclude'],
    ['minima too tight to sample', { length: 10, minDigits: 10, ...zeroOthers() }, 'length'],
    ['nothing to draw from', { ...noClasses(), length: 8 }, 'alphabet'],
  ];

  for (const [name, overrides, rule] of cases) {
    test(name, () => {
      const bad = rules(overrides);
      for (const run of [() => generateSecret(bad), () => validateSecretRules(bad)]) {
        assert.throws(run, (error: unknown) => {
          assert.ok(error instanceof TesseraError);
          assert.equal(error.code, 'VALIDATION_FAILED');
          assert.deepEqual(error.details, { rule });
          return true;
        });
      }
    });
  }
});

function zeroOthers(): Partial<SecretRules> {
  return { minLowercase: 0, minUppercase: 0, minSymbols: 0 };
}

/** Rules with every built-in class left out and no symbols. */
function noClasses(): SecretRules {
  return rules({
    minLowercase: 0,
    minUppercase: 0,
    minDigits: 0,
    minSymbols: 0,
    symbols: '',
    disallow: ['lowercase', 'uppercase', 'digits'],
  });
}

/** `size` distinct printable characters that belong to no built-in class. */
function distinctCharacters(size: number): string {
  return Array.from({ length: size }, (_, i) => String.fromCodePoint(0x0100 + i)).join('');
}
