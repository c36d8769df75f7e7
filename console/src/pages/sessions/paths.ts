/**
 * Where the Sessions screens live, and the API paths and sockets they use. A session id is a
 * UUID, but every part is encoded anyway: the id comes from the address bar.
 */

const part = encodeURIComponent;

export const SESSIONS_PAGE = '/sessions';

/** The browser terminal, opened on an account (the Accounts screen links here too). */
export function connectPage(target: string, account: string): string {
  return `/sessions/connect?${new URLSearchParams({ target, account })}`;
}

/** The replay of a session's recording, with its commands. */
export function replayPage(id: string): string {
  return `/sessions/${part(id)}`;
}

export function watchPage(id: string): string {
  return `/sessions/${part(id)}/watch`;
}

/** The session's resource in the API; `/kill`, `/recording` go after it. */
export function sessionApi(id: string, suffix = ''): string {
  return `/v1/sessions/${part(id)}${suffix}`;
}

/** The terminal WebSocket (src/http/routes/terminal-routes.ts). */
export function terminalSocketUrl(
  target: string,
  account: string,
  cols: number,
  rows: number,
): string {
  const query = new URLSearchParams({
    target,
    account,
    cols: String(cols),
    rows: String(rows),
  });
  return socketUrl(`/v1/terminal?${query}`);
}

export function watchSocketUrl(id: string): string {
  return socketUrl(sessionApi(id, '/watch'));
}

/** The same origin as the page, over ws: or wss:, so the session cookie goes with it. */
function socketUrl(path: string): string {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}
