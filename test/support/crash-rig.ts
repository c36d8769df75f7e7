/**
 * Shared by the rotation tests of the MariaDB, LDAP and Linux connectors
 * (rotation-platforms.test.ts and rotation-crash-platforms.test.ts):
 * - one fixture per platform that creates accounts on a real target, logs in with the
 *   platform's reference client (`mariadb`, `ldapwhoami`, `ssh`) and reads what the target
 *   stores for a password, so a test can tell whether a change reached it;
 * - the API calls every rotation test makes, on an in-process server or a server process;
 * - a hold on a SQLite store's write lock from the test process, which stops the Tessera on that
 *   file at its next write, before that write can commit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { createConnectors } from '../../src/connectors/platforms.ts';
import { initialPassword, type MariadbServer, quoteRow, uniqueUserName } from './mariadb.ts';
import { type Slapd, uniqueLdapName } from './slapd.ts';
import { type Sshd, setPassword as setLinuxPassword } from './sshd.ts';

const execFileAsync = promisify(execFile);
const CHILD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/** How long the test process itself waits for SQLite's lock before giving up. */
const LOCK_WAIT_MS = 2_000;

export const PLATFORMS = ['mariadb', 'ldap', 'linux'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/** A skip reason when the platform's connector is not in `platforms.ts`, else false. */
export function platformMissing(platform: PlatformName): string | false {
  return createConnectors().has(platform)
    ? false
    : `the ${platform} connector is not in src/connectors/platforms.ts yet`;
}

// ---------------------------------------------------------------------------------------------
// platform fixtures

/** An account on a target, as Tessera names it, with the password it holds. */
export interface TargetAccount {
  readonly username: string;
  readonly password: string;
}

export interface PlatformFixture {
  readonly platform: PlatformName;
  /** Where the real server listens, for a proxy in front of it. */
  upstream(): { readonly host: string; readonly port: number };
  /** The body of `POST /v1/targets` for a target named `name` reached at `port`. */
  target(name: string, port: number): Record<string, unknown>;
  /** The privileged account through which Tessera changes the others. */
  createReconciler(): Promise<TargetAccount>;
  /** An ordinary account holding `password` (a plain one by default). */
  createAccount(prefix: string, password?: string): Promise<TargetAccount>;
  /** The reference client: true when `password` logs in as `username`, false when refused. */
  logsIn(username: string, password: string): Promise<boolean>;
  /** What the target stores for the account's password (a hash): changes when a change lands. */
  storedCredential(username: string): Promise<string>;
  /** Sets a plain password on the target as its administrator, behind Tessera's back. */
  setPassword(username: string, password: string): Promise<void>;
  /** Removes what the fixture made; each server harness also removes it when it stops. */
  cleanup(): Promise<void>;
}

/** MariaDB accounts are `user`@`127.0.0.1`, the address Tessera and the proxies come from. */
export function mariadbFixture(server: () => MariadbServer): PlatformFixture {
  const host = '127.0.0.1';
  return {
    platform: 'mariadb',
    upstream: () => ({ host: server().host, port: server().port }),
    target: (name, port) => ({ name, platform: 'mariadb', host: server().host, port }),
    async createReconciler() {
      const user = uniqueUserName('rec');
      const password = initialPassword();
      // The connector's documented needs: alter other users, read the user table.
      await server().createAccount(user, password, {
        hosts: [host],
        grants: ['CREATE USER'],
        mysqlSchema: 'SELECT',
      });
      return { username: user, password };
    },
    async createAccount(prefix, password = initialPassword()) {
      const user = uniqueUserName(prefix);
      await server().createAccount(user, password, { hosts: [host] });
      return { username: user, password };
    },
    logsIn: async (user, password) => (await server().loginWithCli(user, password)) !== null,
    storedCredential: async (user) => (await server().authString({ user, host })) ?? '',
    async setPassword(user, password) {
      if (!/^[A-Za-z0-9-]+$/.test(password)) throw new Error('plain test passwords only');
      await server().query(`ALTER USER ${quoteRow({ user, host })} IDENTIFIED BY '${password}'`);
    },
    // The shared server's harness drops every account it created when the suite ends.
    cleanup: async () => undefined,
  };
}

/** LDAP accounts are uids under ou=people; the target turns them into DNs by a template. */
export function ldapFixture(slapd: () => Slapd): PlatformFixture {
  const created: string[] = [];
  const dnOf = (uid: string) => (uid.includes('=') ? uid : `uid=${uid},${slapd().peopleDn}`);
  return {
    platform: 'ldap',
    upstream: () => ({ host: slapd().host, port: slapd().port }),
    target: (name, port) => ({
      name,
      platform: 'ldap',
      host: slapd().host,
      port,
      options: { baseDn: slapd().suffix, userDnTemplate: `uid={username},${slapd().peopleDn}` },
    }),
    createReconciler: async () => ({
      username: slapd().reconciler.dn,
      password: slapd().reconciler.password,
    }),
    async createAccount(prefix, password = initialPassword()) {
      const uid = uniqueLdapName(prefix);
      created.push(await slapd().addPerson(uid, password));
      return { username: uid, password };
    },
    logsIn: (uid, password) => slapd().loginWithLdapwhoami(dnOf(uid), password),
    storedCredential: async (uid) => (await slapd().storedPasswords(dnOf(uid))).join('\n'),
    setPassword: (uid, password) => slapd().setPassword(dnOf(uid), password),
    async cleanup() {
      for (const dn of created.splice(0)) await slapd().remove(dn);
    },
  };
}

/** Linux users of the test sshd; the reconciler may run anything through sudo with its password. */
export function linuxFixture(sshd: () => Sshd): PlatformFixture {
  const created: string[] = [];
  return {
    platform: 'linux',
    upstream: () => ({ host: sshd().host, port: sshd().port }),
    target: (name, port) => ({
      name,
      platform: 'linux',
      host: sshd().host,
      port,
      options: { hostKey: sshd().hostKey },
    }),
    async createReconciler() {
      const password = initialPassword();
      const user = await sshd().createUser('trec', {
        password,
        sudoers: (name) => `${name} ALL=(ALL) ALL`,
      });
      created.push(user.name);
      return { username: user.name, password };
    },
    async createAccount(prefix, password = initialPassword()) {
      const user = await sshd().createUser(prefix, { password });
      created.push(user.name);
      return { username: user.name, password };
    },
    logsIn: (user, password) => sshd().loginWithPassword(user, password),
    storedCredential: shadowHash,
    setPassword: (user, password) => setLinuxPassword(user, password),
    async cleanup() {
      for (const name of created.splice(0)) await sshd().removeUser(name);
    },
  };
}

/** The password field of the user's /etc/shadow entry. */
async function shadowHash(user: string): Promise<string> {
  const { stdout } = await execFileAsync('getent', ['shadow', user], { env: CHILD_ENV });
  return stdout.split(':')[1] ?? '';
}

// ---------------------------------------------------------------------------------------------
// the API

export interface ApiReply<T> {
  readonly status: number;
  readonly body: T;
}

/** The `api` of a TestServer or a ServerProcess, as the dev root token. */
export type ApiCall = <T = Record<string, unknown>>(
  method: string,
  path: string,
  options?: { body?: unknown },
) => Promise<ApiReply<T>>;

export interface AccountView {
  readonly id: string;
  readonly state: string;
  readonly rotating: boolean;
  readonly currentVersion: number | null;
  readonly lastRotationError: string | null;
  readonly rotationFailures: number;
}

export interface VersionInfo {
  readonly version: number;
  readonly status: string;
}

export interface AuditEvent {
  readonly seq: number;
  readonly action: string;
  readonly outcome: string;
  readonly details: Record<string, unknown> | null;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export async function expectStatus(
  api: ApiCall,
  method: string,
  url: string,
  body: unknown,
  status: number,
): Promise<void> {
  const reply = await api(method, url, { body });
  assert.equal(reply.status, status, `${method} ${url}: ${JSON.stringify(reply.body)}`);
}

/** A safe `ops` whose member `admin` (the dev root token's user) may reveal its secrets. */
export async function setUpSafe(api: ApiCall): Promise<void> {
  await expectStatus(api, 'POST', '/v1/safes', { name: 'ops' }, 201);
  const permissions = ['retrieve'];
  await expectStatus(api, 'PUT', '/v1/safes/ops/members/admin', { permissions }, 200);
}

/** The API path of an account. */
export function accountPath(target: string, username: string): string {
  return `/v1/targets/${target}/accounts/${encodeURIComponent(username)}`;
}

/** Onboards `username` on `target` in the safe `ops`; returns the account's API path. */
export async function onboard(
  api: ApiCall,
  target: string,
  body: {
    readonly username: string;
    readonly secret?: string;
    readonly reconcileAccount?: string;
    readonly policy?: string;
    readonly secretType?: 'password' | 'ssh-key';
  },
): Promise<string> {
  await expectStatus(api, 'POST', `/v1/targets/${target}/accounts`, { safe: 'ops', ...body }, 201);
  return accountPath(target, body.username);
}

export async function getAccount(api: ApiCall, path: string): Promise<AccountView> {
  const reply = await api<AccountView>('GET', path);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

export async function reveal(
  api: ApiCall,
  path: string,
): Promise<{ value: string; version: number }> {
  const reply = await api<{ value: string; version: number }>('POST', `${path}/reveal`, {
    body: { reason: 'rotation test: check the vault value on the target' },
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

/** `[version, status]`, newest first. */
export async function statusesOf(api: ApiCall, path: string): Promise<[number, string][]> {
  const reply = await api<{ versions: VersionInfo[] }>('GET', `${path}/versions`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.versions.map((v) => [v.version, v.status]);
}

/** The account's events whose action starts with `action`, oldest first. */
export async function auditEvents(
  api: ApiCall,
  object: string,
  action: string,
): Promise<AuditEvent[]> {
  const query = `object=${encodeURIComponent(object)}&action=${action}&limit=1000`;
  const reply = await api<{ events: AuditEvent[] }>('GET', `/v1/audit/events?${query}`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.events;
}

export async function assertAuditChainVerifies(api: ApiCall): Promise<void> {
  const verified = await api<{ ok: boolean }>('POST', '/v1/audit/verify');
  assert.deepEqual([verified.status, verified.body.ok], [200, true], JSON.stringify(verified.body));
}

// ---------------------------------------------------------------------------------------------
// the store's write lock

export interface HeldLock {
  /** Lets the Tessera on the file write again (if it still runs). */
  release(): void;
}

/**
 * Takes the write lock of a SQLite store (WAL mode) from this process. Reads go on; the next
 * write of the Tessera on that file waits in SQLite's busy handler, which blocks its event loop,
 * and cannot commit while the lock is held. A SIGKILL then lands before that write, whatever it
 * was about to do.
 */
export function holdSqliteWriteLock(file: string): HeldLock {
  const db = new BetterSqlite3(file, { timeout: LOCK_WAIT_MS });
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    release() {
      if (!db.open) return;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
