import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/clock.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { createTestStoreLocation, type StoreKind } from './stores.ts';

export interface TestServer extends RunningServer {
  readonly rootToken: string;
  readonly dataDir: string;
  /** Everything the server logged, as written (JSON lines). */
  logText(): string;
  /** Everything the dev banner printed. */
  bannerText(): string;
  /** Calls the API; returns status and parsed body. */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown },
  ): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/**
 * A real Tessera server, started through the same entry as production, in dev mode on a free
 * loopback port, on the chosen store.
 */
export async function startTestServer(
  options: { store?: StoreKind; clock?: Clock; schedulerIntervalMs?: number } = {},
): Promise<TestServer> {
  const place = await createTestStoreLocation(options.store ?? 'sqlite');
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  const logs: string[] = [];
  const banner: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (line: string) => logs.push(line) },
  });
  const server = await startServer(
    {
      dataDir: place.dataDir,
      host: '127.0.0.1',
      port: 0,
      databaseUrl: place.databaseUrl,
      dev: true,
      devRootToken: rootToken,
      schedulerIntervalMs: options.schedulerIntervalMs ?? 3_600_000,
      checkpointIntervalMs: 60_000,
    },
    {
      logger,
      banner: (line) => banner.push(line),
      ...(options.clock ? { clock: options.clock } : {}),
    },
  );

  const api: TestServer['api'] = async (method, path, { token = rootToken, body } = {}) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(server.url + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? ({} as never) : JSON.parse(text) };
  };

  return {
    ...server,
    rootToken,
    dataDir: place.dataDir,
    logText: () => logs.join(''),
    bannerText: () => banner.join('\n'),
    api,
    async stop() {
      await server.close();
      await place.drop();
    },
  };
}

/** Creates a user with a password and returns a token for it. */
export async function createUserWithToken(
  server: TestServer,
  name: string,
  role: 'admin' | 'auditor' | 'user',
): Promise<string> {
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const created = await server.api('POST', '/v1/users', { body: { name, role, password } });
  if (created.status !== 201)
    throw new Error(`user create failed: ${JSON.stringify(created.body)}`);
  const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
    token: null,
    body: { user: name, password },
  });
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
  return login.body.token;
}
