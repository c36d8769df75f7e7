/**
 * Where things are, in the console and in the API. A user name may hold any character but a
 * control one (`app@%`, an LDAP DN with `/`), so every part is encoded; the router decodes the
 * parts it matched.
 */

interface AccountKey {
  readonly target: string;
  readonly username: string;
}

const part = encodeURIComponent;

/** The account's page in the console. */
export function accountPage({ target, username }: AccountKey): string {
  return `/accounts/${part(target)}/${part(username)}`;
}

/** The account's resource in the API; a suffix such as `/versions` goes after it. */
export function accountApi({ target, username }: AccountKey, suffix = ''): string {
  return `/v1/targets/${part(target)}/accounts/${part(username)}${suffix}`;
}

/** The Requests screen's form, filled in for this account (the account is not secret). */
export function askForAccessPage(ref: string): string {
  return `/requests/new?${new URLSearchParams({ account: ref })}`;
}

/** The browser terminal (the Sessions screen), opened on this account. */
export function connectPage({ target, username }: AccountKey): string {
  return `/sessions/connect?${new URLSearchParams({ target, account: username })}`;
}

export const ONBOARD_PAGE = '/accounts/new';
