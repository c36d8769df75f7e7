/** The longest SSH login name the gateway reads: an account name, an `@` and a target name. */
export const MAX_LOGIN_NAME = 300;

export interface LoginName {
  readonly account: string;
  readonly target: string;
}

/**
 * Splits an SSH login name `ACCOUNT@TARGET` at the last `@`: target names never hold one, account
 * names may (`ssh root@web01@gateway` reaches the gateway as user `root@web01`). Null when either
 * part is empty or the name is malformed.
 */
export function parseLoginName(login: string): LoginName | null {
  if (login.length > MAX_LOGIN_NAME || /[\0\r\n]/.test(login)) return null;
  const at = login.lastIndexOf('@');
  if (at <= 0 || at === login.length - 1) return null;
  return { account: login.slice(0, at), target: login.slice(at + 1) };
}
