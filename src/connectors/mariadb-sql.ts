/**
 * The text the MariaDB connector sends and reads: account names and rows, identifier quoting,
 * string literals escaped for the session's sql_mode, client-side password hashes, and the
 * authentication clause of `SHOW CREATE USER`.
 */
import { createHash } from 'node:crypto';
import { ed25519AuthString } from './mariadb-ed25519.ts';

/** One row of the server's user table: a user name and the host pattern it applies to. */
export interface AccountRow {
  readonly user: string;
  readonly host: string;
}

/**
 * An account as Tessera names it: `name` stands for every `name`@`host` row on the server,
 * `name@host` for exactly that row (split at the last `@`; a host never contains one).
 */
export interface AccountName {
  readonly user: string;
  /** null: every row of the user name. */
  readonly host: string | null;
}

/** MariaDB allows 128 characters in a user name and 255 in a host (MySQL: 32 and 255). */
const MAX_USER_CHARACTERS = 128;
const MAX_HOST_CHARACTERS = 255;

/** Parses an account name; returns a problem (no secret involved) when it cannot name a row. */
export function parseAccountName(text: string): AccountName | string {
  if (text.includes('\u0000') || !text.isWellFormed()) {
    return 'the account name contains NUL or is not well-formed Unicode';
  }
  const at = text.lastIndexOf('@');
  const user = at < 0 ? text : text.slice(0, at);
  const host = at < 0 ? null : text.slice(at + 1);
  if (user.length === 0) return 'the account name has no user part';
  if (host === '') return 'the account name ends in @; name the host (for example name@%)';
  if (user.length > MAX_USER_CHARACTERS) {
    return `the user name is longer than ${MAX_USER_CHARACTERS} characters`;
  }
  if (host !== null && host.length > MAX_HOST_CHARACTERS) {
    return `the host part is longer than ${MAX_HOST_CHARACTERS} characters`;
  }
  return { user, host };
}

/** `user@host` as Tessera writes a row: the form an onboarded account carries. */
export function rowName(row: AccountRow): string {
  return `${row.user}@${row.host}`;
}

export function sameRow(a: AccountRow, b: AccountRow): boolean {
  // Host names compare case-insensitively on the server; user names do not.
  return a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase();
}

/** Splits `CURRENT_USER()`'s answer, `user@host`, at its last `@`. */
export function parseCurrentUser(text: string): AccountRow | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  return { user: text.slice(0, at), host: text.slice(at + 1) };
}

/**
 * A back-quoted identifier. Inside back quotes only the back quote itself is special (doubled),
 * in every sql_mode, so the quoting does not depend on NO_BACKSLASH_ESCAPES or ANSI_QUOTES.
 */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** `user`@`host`, as account-management statements take it. */
export function quoteRow(row: AccountRow): string {
  return `${quoteIdentifier(row.user)}@${quoteIdentifier(row.host)}`;
}

/**
 * A single-quoted string literal for a session whose sql_mode is `sqlMode`. A quote is always
 * doubled; a backslash is an escape character unless NO_BACKSLASH_ESCAPES is set, so it is
 * doubled only then. Valid for the utf8mb4 connection character set the connector insists on:
 * in UTF-8 no multi-byte character contains the byte of a quote or a backslash.
 */
export function quoteLiteral(value: string, sqlMode: string): string {
  const escaped = value.replaceAll("'", "''");
  return `'${backslashEscapes(sqlMode) ? escaped.replaceAll('\\', '\\\\') : escaped}'`;
}

export function backslashEscapes(sqlMode: string): boolean {
  return !sqlMode.toUpperCase().split(',').includes('NO_BACKSLASH_ESCAPES');
}

/** The `mysql_native_password` hash of the password's UTF-8 bytes: `*` + HEX(SHA1(SHA1(pw))). */
export function nativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(Buffer.from(password, 'utf8')).digest();
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`;
}

/** Plugins whose stored value the connector computes itself, so the clear value is never sent. */
export const HASHED_PLUGINS = ['mysql_native_password', 'ed25519'] as const;
export type HashedPlugin = (typeof HASHED_PLUGINS)[number];

export function isHashedPlugin(plugin: string): plugin is HashedPlugin {
  return (HASHED_PLUGINS as readonly string[]).includes(plugin);
}

/** What the server stores for `password` under a plugin whose hash is deterministic. */
export function authStringFor(plugin: HashedPlugin, password: string): string {
  return plugin === 'ed25519' ? ed25519AuthString(password) : nativePasswordHash(password);
}

/** A row's authentication as `SHOW CREATE USER` states it. */
export interface AuthMethod {
  /** The first (or only) plugin; `mysql_native_password` for a row with no password at all. */
  readonly plugin: string;
  /** The stored value the server printed for it; '' when none. */
  readonly authString: string;
  /** True when the row accepts several methods (`IDENTIFIED VIA a OR b`). */
  readonly alternatives: boolean;
}

/**
 * Reads the authentication clause of a `SHOW CREATE USER` line, as MariaDB prints it
 * (`IDENTIFIED BY PASSWORD '…'`, `IDENTIFIED VIA plugin USING '…' OR …`) or MySQL does
 * (`IDENTIFIED WITH 'plugin' AS '…'`). Returns undefined for text it does not recognise.
 */
export function parseAuthMethod(statement: string): AuthMethod | undefined {
  const tokens = tokenize(statement);
  if (tokens === undefined) return undefined;
  const at = tokens.findIndex((token) => token.kind === 'word' && upper(token) === 'IDENTIFIED');
  if (at < 0) return { plugin: 'mysql_native_password', authString: '', alternatives: false };

  const rest = tokens.slice(at + 1);
  if (isWord(rest[0], 'BY') && isWord(rest[1], 'PASSWORD') && rest[2]?.kind === 'string') {
    return { plugin: 'mysql_native_password', authString: rest[2].text, alternatives: false };
  }
  if (!isWord(rest[0], 'VIA') && !isWord(rest[0], 'WITH')) return undefined;
  const plugin = rest[1];
  if (plugin === undefined || plugin.kind === 'symbol') return undefined;

  let next = 2;
  let authString = '';
  if (isWord(rest[next], 'USING') || isWord(rest[next], 'AS')) {
    const value = rest[next + 1];
    if (value === undefined || value.kind === 'symbol') return undefined;
    authString = value.text;
    next += 2;
  }
  const alternatives = isWord(rest[next], 'OR');
  return { plugin: plugin.text.toLowerCase(), authString, alternatives };
}

interface Token {
  readonly kind: 'word' | 'string' | 'identifier' | 'symbol';
  readonly text: string;
}

function isWord(token: Token | undefined, word: string): boolean {
  return token?.kind === 'word' && upper(token) === word;
}

function upper(token: Token): string {
  return token.text.toUpperCase();
}

/** Splits SQL text into words, quoted strings (unescaped), quoted identifiers and symbols. */
function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] ?? '';
    if (/\s/.test(char)) {
      i += 1;
    } else if (char === "'" || char === '"' || char === '`') {
      const end = closingQuote(text, i);
      if (end < 0) return undefined;
      const kind = char === '`' ? 'identifier' : 'string';
      tokens.push({ kind, text: unquote(text.slice(i + 1, end), char) });
      i = end + 1;
    } else if (/[A-Za-z0-9_$]/.test(char)) {
      const word = /^[A-Za-z0-9_$]+/.exec(text.slice(i))?.[0] ?? char;
      tokens.push({ kind: 'word', text: word });
      i += word.length;
    } else {
      tokens.push({ kind: 'symbol', text: char });
      i += 1;
    }
  }
  return tokens;
}

function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\' && quote !== '`') {
      i += 1;
    } else if (text[i] === quote) {
      if (text[i + 1] !== quote) return i;
      i += 1;
    }
  }
  return -1;
}

function unquote(body: string, quote: string): string {
  const doubled = body.replaceAll(quote + quote, quote);
  return quote === '`' ? doubled : doubled.replace(/\\(.)/g, '$1');
}
