/**
 * Distinguished names as RFC 4514 writes them: escaping a value before it goes into a DN, and a
 * parser that tells whether a text is a DN, which RDNs it holds and whether it lies under another.
 * The parser accepts spaces around separators, as directory servers and their admins write them;
 * it refuses the legacy forms (`;` as a separator, quoted values) that RFC 4514 dropped.
 */

/** One `type=value` pair of an RDN; the value is unescaped, a `#hex` value kept as written. */
export interface DnAttribute {
  readonly type: string;
  readonly value: string;
}

/** A relative distinguished name: one pair, or several joined with `+`. */
export type Rdn = readonly DnAttribute[];

/** Characters RFC 4514 requires escaped anywhere in a value, plus `=`, which it allows escaped. */
const ALWAYS_ESCAPED = new Set(['"', '+', ',', ';', '<', '>', '\\', '=']);
const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERIC_OID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+$/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/;
/** Characters that end an unescaped value, or may not appear in one. */
const VALUE_STOP = new Set([',', '+']);
const VALUE_FORBIDDEN = new Set(['"', ';', '<', '>', '\u0000']);

/** Escapes `value` for use as an attribute value inside a DN (RFC 4514 section 2.4). */
export function escapeDnValue(value: string): string {
  const characters = [...value];
  let out = '';
  for (const [index, character] of characters.entries()) {
    const edge = index === 0 || index === characters.length - 1;
    if (character === '\u0000') out += '\\00';
    else if (ALWAYS_ESCAPED.has(character)) out += `\\${character}`;
    else if (character === ' ' && edge) out += '\\ ';
    else if (character === '#' && index === 0) out += '\\#';
    else out += character;
  }
  return out;
}

/** Parses a DN; undefined when the text is not one. The empty DN (the root) has no RDNs. */
export function parseDn(text: string): readonly Rdn[] | undefined {
  const parser = new DnParser(text);
  try {
    return parser.dn();
  } catch (error) {
    if (error instanceof DnSyntaxError) return undefined;
    throw error;
  }
}

/** True when `text` names an entry: it parses as a DN with at least one RDN. */
export function isDn(text: string): boolean {
  const rdns = parseDn(text);
  return rdns !== undefined && rdns.length > 0;
}

/**
 * Whether `dn` is `base` or an entry below it. Types compare without case; values compare
 * without case, which holds for the naming attributes of directories (dc, ou, cn, uid).
 */
export function isDnUnder(dn: readonly Rdn[], base: readonly Rdn[]): boolean {
  if (base.length > dn.length) return false;
  const tail = dn.slice(dn.length - base.length);
  return tail.every((rdn, index) => {
    const other = base[index];
    return other !== undefined && rdnKey(rdn) === rdnKey(other);
  });
}

/** The value of the first RDN when it is a single pair of type `type` (any case). */
export function leadingValue(dn: readonly Rdn[], type: string): string | undefined {
  const first = dn[0];
  if (first?.length !== 1) return undefined;
  const pair = first[0];
  return pair !== undefined && pair.type.toLowerCase() === type.toLowerCase()
    ? pair.value
    : undefined;
}

function rdnKey(rdn: Rdn): string {
  return rdn
    .map((pair) => `${pair.type.toLowerCase()}=${pair.value.toLowerCase()}`)
    .sort()
    .join('+');
}

class DnSyntaxError extends Error {}

class DnParser {
  private readonly text: string;
  private position = 0;

  constructor(text: string) {
    this.text = text;
  }

  dn(): Rdn[] {
    const rdns: Rdn[] = [];
    this.skipSpaces();
    if (this.atEnd()) return rdns;
    for (;;) {
      rdns.push(this.rdn());
      if (this.atEnd()) return rdns;
      this.expect(',');
    }
  }

  private rdn(): Rdn {
    const pairs: DnAttribute[] = [this.pair()];
    while (this.peek() === '+') {
      this.position++;
      pairs.push(this.pair());
    }
    return pairs;
  }

  private pair(): DnAttribute {
    this.skipSpaces();
    const type = this.attributeType();
    this.skipSpaces();
    this.expect('=');
    this.skipSpaces();
    const value = this.peek() === '#' ? this.hexValue() : this.stringValue();
    this.skipSpaces();
    return { type, value };
  }

  private attributeType(): string {
    const start = this.position;
    while (!this.atEnd() && /[A-Za-z0-9.-]/.test(this.peek())) this.position++;
    const type = this.text.slice(start, this.position);
    if (!DESCR.test(type) && !NUMERIC_OID.test(type)) throw new DnSyntaxError();
    return type;
  }

  private hexValue(): string {
    const start = this.position;
    this.position++;
    while (!this.atEnd() && /[0-9A-Fa-f]/.test(this.peek())) this.position++;
    const digits = this.position - start - 1;
    if (digits === 0 || digits % 2 !== 0) throw new DnSyntaxError();
    return this.text.slice(start, this.position).toLowerCase();
  }

  /** Reads a value up to `,`, `+` or the end; unescaped trailing spaces are not part of it. */
  private stringValue(): string {
    const bytes: number[] = [];
    let keptLength = 0;
    while (!this.atEnd() && !VALUE_STOP.has(this.peek())) {
      const character = this.peek();
      if (VALUE_FORBIDDEN.has(character)) throw new DnSyntaxError();
      if (character === '\\') {
        bytes.push(...this.escaped());
        keptLength = bytes.length;
        continue;
      }
      this.position += character.length;
      bytes.push(...Buffer.from(character, 'utf8'));
      if (character !== ' ') keptLength = bytes.length;
    }
    if (keptLength === 0) throw new DnSyntaxError();
    return decodeUtf8(bytes.slice(0, keptLength));
  }

  private escaped(): number[] {
    const next = this.text.slice(this.position + 1, this.position + 3);
    if (HEX_PAIR.test(next)) {
      this.position += 3;
      return [Number.parseInt(next, 16)];
    }
    const character = this.text[this.position + 1];
    if (character === undefined || !/["+,;<>\\ #=]/.test(character)) throw new DnSyntaxError();
    this.position += 2;
    return [character.charCodeAt(0)];
  }

  private peek(): string {
    const code = this.text.codePointAt(this.position);
    return code === undefined ? '' : String.fromCodePoint(code);
  }

  private atEnd(): boolean {
    return this.position >= this.text.length;
  }

  private skipSpaces(): void {
    while (this.peek() === ' ') this.position++;
  }

  private expect(character: string): void {
    if (this.peek() !== character) throw new DnSyntaxError();
    this.position++;
  }
}

function decodeUtf8(bytes: readonly number[]): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new DnSyntaxError(); // escaped bytes that are not UTF-8
  }
}
