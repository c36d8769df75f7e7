import { TesseraError } from '../errors.ts';

export const MAX_TICKET_PATTERN_LENGTH = 200;
export const MAX_TICKET_LENGTH = 64;
/**
 * Quantifiers with a range (`*`, `+`, `{2,5}`) one pattern may hold. Each one adjacent to
 * another multiplies the ways a failing match is tried; four over 64 characters stay quick.
 */
const MAX_RANGED_QUANTIFIERS = 4;
const CACHE_SIZE = 256;

/** No control or format characters, no space at either end. */
const TICKET_VALUE = /^(?![\s])[^\p{C}]*(?<![\s])$/u;

const compiled = new Map<string, RegExp>();

/**
 * Compiles an administrator's ticket pattern (e.g. `(INC|CHG)[0-9]{7}`) so that it must match
 * the whole ticket: `^(?:PATTERN)$`, with the `u` flag. Refused with VALIDATION_FAILED (field
 * `ticketPattern`) when it is longer than 200 characters, does not compile, could escape the
 * anchoring (an unbalanced parenthesis), or could take exponential time on a ticket that does
 * not match: a repeated group that holds a ranged quantifier or an alternation (`(a+)+`,
 * `(a|aa)*`), more than four ranged quantifiers, back-references or look-arounds. Such patterns
 * are refused when an administrator saves them, not when a requester trips over them.
 */
export function compileTicketPattern(pattern: string): RegExp {
  const cached = compiled.get(pattern);
  if (cached !== undefined) return cached;
  if (pattern.length === 0 || pattern.length > MAX_TICKET_PATTERN_LENGTH) {
    throw invalid(`the ticket pattern must be 1 to ${MAX_TICKET_PATTERN_LENGTH} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the aim
  if (/[\u0000-\u001f\u007f]/.test(pattern)) {
    throw invalid('the ticket pattern must not hold control characters');
  }
  refuseRiskyPattern(pattern);
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${pattern})$`, 'u');
  } catch {
    throw invalid('the ticket pattern is not a valid regular expression');
  }
  if (compiled.size >= CACHE_SIZE) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}

/** Whether `ticket` is a well-formed ticket value matched whole by `pattern`. */
export function checkTicketPattern(pattern: string, ticket: string): boolean {
  const regex = compileTicketPattern(pattern);
  return isTicketValue(ticket) && regex.test(ticket);
}

/** 1 to 64 printable characters, no space at either end. */
export function isTicketValue(ticket: string): boolean {
  return ticket.length > 0 && ticket.length <= MAX_TICKET_LENGTH && TICKET_VALUE.test(ticket);
}

/** Refuses a ticket value that is not 1 to 64 printable characters, naming the field. */
export function assertTicketValue(ticket: string): void {
  if (!isTicketValue(ticket)) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      `a ticket is 1 to ${MAX_TICKET_LENGTH} printable characters`,
      { field: 'ticket' },
    );
  }
}

interface Group {
  /** Holds a ranged quantifier, at any depth. */
  ranged: boolean;
  /** Holds an alternation, at any depth. */
  alternation: boolean;
}

type Atom = { readonly kind: 'simple' } | { readonly kind: 'group'; readonly group: Group } | null;

/**
 * A scan of the pattern's structure: groups, classes, escapes and quantifiers. It does not
 * replace the RegExp parser, which still has the last word on syntax; it only refuses what
 * could escape the anchors or backtrack without end.
 */
function refuseRiskyPattern(pattern: string): void {
  const stack: Group[] = [{ ranged: false, alternation: false }];
  let last: Atom = null;
  let ranged = 0;
  let i = 0;
  const current = () => stack[stack.length - 1] as Group;

  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9k]/.test(next)) throw invalid('the ticket pattern must not use back-references');
      i += 2;
      last = { kind: 'simple' };
    } else if (c === '[') {
      i = endOfClass(pattern, i);
      last = { kind: 'simple' };
    } else if (c === '(') {
      i = openGroup(pattern, i);
      stack.push({ ranged: false, alternation: false });
      last = null;
    } else if (c === ')') {
      const group = stack.pop() as Group;
      if (stack.length === 0) throw invalid('the ticket pattern has an unbalanced parenthesis');
      current().ranged ||= group.ranged;
      current().alternation ||= group.alternation;
      i += 1;
      last = { kind: 'group', group };
    } else if (c === '|') {
      current().alternation = true;
      i += 1;
      last = null;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      const q = readQuantifier(pattern, i);
      if (q === null) {
        // A brace that is no quantifier; the RegExp parser decides whether it is valid.
        i += 1;
        last = { kind: 'simple' };
        continue;
      }
      if (q.repeats && last?.kind === 'group' && (last.group.ranged || last.group.alternation)) {
        throw invalid(
          'the ticket pattern repeats a group that holds a quantifier or an alternation, ' +
            'which can take exponential time',
        );
      }
      if (q.ranged) {
        ranged += 1;
        current().ranged = true;
      }
      if (ranged > MAX_RANGED_QUANTIFIERS) {
        throw invalid(`the ticket pattern may hold at most ${MAX_RANGED_QUANTIFIERS} * + or {m,n}`);
      }
      i = q.end;
      last = { kind: 'simple' };
    } else {
      i += 1;
      last = { kind: 'simple' };
    }
  }
  if (stack.length !== 1) throw invalid('the ticket pattern has an unbalanced parenthesis');
}

/** The index after the class that starts at `start` (`[...]`, escapes inside). */
function endOfClass(pattern: string, start: number): number {
  let i = start + 1;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') i += 2;
    else if (c === ']') return i + 1;
    else i += 1;
  }
  throw invalid('the ticket pattern has an unclosed [');
}

/** The index after a group's opening (`(`, `(?:`, `(?<name>`); look-arounds are refused. */
function openGroup(pattern: string, start: number): number {
  if (pattern[start + 1] !== '?') return start + 1;
  const rest = pattern.slice(start + 2);
  if (rest.startsWith(':')) return start + 3;
  const named = /^<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
  if (named !== null) return start + 2 + named[0].length;
  throw invalid('the ticket pattern must not use look-arounds or group modifiers');
}

interface Quantifier {
  readonly end: number;
  /** Can match its atom more than once. */
  readonly repeats: boolean;
  /** Its counts form a range (min below max), so the engine has choices to try. */
  readonly ranged: boolean;
}

function readQuantifier(pattern: string, start: number): Quantifier | null {
  const c = pattern[start];
  let end = start + 1;
  let min: number;
  let max: number;
  if (c === '*' || c === '+' || c === '?') {
    min = c === '+' ? 1 : 0;
    max = c === '?' ? 1 : Number.POSITIVE_INFINITY;
  } else {
    const braces = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(pattern.slice(start));
    if (braces === null) return null;
    min = Number(braces[1]);
    max =
      braces[2] === undefined
        ? min
        : braces[3] === ''
          ? Number.POSITIVE_INFINITY
          : Number(braces[3]);
    end = start + braces[0].length;
  }
  if (pattern[end] === '?') end += 1; // lazy: the same choices, in another order
  return { end, repeats: max > 1, ranged: max > min };
}

function invalid(message: string): TesseraError {
  return new TesseraError('VALIDATION_FAILED', message, { field: 'ticketPattern' });
}
