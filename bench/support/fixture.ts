import { randomBytes } from 'node:crypto';
import { type Api, inPool } from './api.ts';

export const SAFE = 'bench';
export const TARGET = 'bench-db';
const READER = 'bench-reader';
const SETUP_CONCURRENCY = 8;

export interface TargetAddress {
  readonly host: string;
  readonly port: number;
  readonly database?: string;
}

/**
 * Nothing listens on loopback port 9 (discard). Reveals and onboarding never contact a target,
 * so the read and write benchmarks name this one; it only has to exist.
 */
export const UNUSED_TARGET: TargetAddress = { host: '127.0.0.1', port: 9 };

/** A safe and a PostgreSQL target, created by the admin. */
export async function createSafeAndTarget(api: Api, target: TargetAddress): Promise<void> {
  await api.call('POST', '/v1/safes', { body: { name: SAFE } });
  await api.call('POST', '/v1/targets', {
    body: { name: TARGET, platform: 'postgresql', ...target },
  });
}

/** Onboards accounts with the given secrets; returns their ids in the same order. */
export async function onboardAccounts(
  api: Api,
  accounts: readonly { readonly username: string; readonly secret: string }[],
): Promise<string[]> {
  return inPool(accounts, SETUP_CONCURRENCY, async (account) => {
    const created = await api.call<{ id: string }>('POST', `/v1/targets/${TARGET}/accounts`, {
      body: { username: account.username, safe: SAFE, secret: account.secret },
    });
    return created.id;
  });
}

/** A plain user who holds `retrieve` in the safe, logged in: the caller of the read benchmark. */
export async function createReader(api: Api): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  await api.call('POST', '/v1/users', { body: { name: READER, role: 'user', password } });
  await api.call('PUT', `/v1/safes/${SAFE}/members/${READER}`, {
    body: { permissions: ['list', 'retrieve'] },
  });
  const login = await api.call<{ token: string }>('POST', '/v1/auth/login', {
    body: { user: READER, password },
  });
  return login.token;
}

export interface RevealFixture {
  readonly readerToken: string;
  /** One reveal path per account. */
  readonly paths: readonly string[];
}

/** Everything the reveal load needs: accounts with secrets and a reader allowed to see them. */
export async function setupRevealFixture(api: Api, accounts: number): Promise<RevealFixture> {
  await createSafeAndTarget(api, UNUSED_TARGET);
  const usernames = Array.from(
    { length: accounts },
    (_, i) => `acct-${String(i).padStart(4, '0')}`,
  );
  await onboardAccounts(
    api,
    usernames.map((username) => ({ username, secret: randomBytes(24).toString('base64url') })),
  );
  const readerToken = await createReader(api);
  const paths = usernames.map((u) => `/v1/targets/${TARGET}/accounts/${u}/reveal`);
  return { readerToken, paths };
}
