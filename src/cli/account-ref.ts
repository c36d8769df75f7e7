import { usageError } from './cli-error.ts';
import { clean } from './output.ts';

/** An account as the CLI names it: `TARGET/USERNAME`. */
export interface AccountRef {
  readonly target: string;
  readonly username: string;
}

/**
 * Splits at the first slash: target names never contain one, while user names may
 * (`db1/ops/backup` is user `ops/backup` on target `db1`).
 */
export function parseAccountRef(text: string): AccountRef {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) {
    throw usageError(`name the account as TARGET/USERNAME, not "${clean(text)}"`);
  }
  const ref = { target: text.slice(0, slash), username: text.slice(slash + 1) };
  // URLs drop `.` and `..` path segments, even percent-encoded, so such a name cannot be sent.
  if (ref.username === '.' || ref.username === '..') {
    throw usageError(`the user name "${ref.username}" cannot be addressed through the API`);
  }
  return ref;
}

/** The account as `TARGET/USERNAME`, safe to print on a terminal. */
export function refText(ref: AccountRef): string {
  return clean(`${ref.target}/${ref.username}`);
}

/** The account's API path, each part encoded on its own so a slash in a user name survives. */
export function accountPath(ref: AccountRef, suffix = ''): string {
  const target = encodeURIComponent(ref.target);
  const username = encodeURIComponent(ref.username);
  return `/v1/targets/${target}/accounts/${username}${suffix}`;
}
