/**
 * Zero standing privilege against real targets: a throw-away PostgreSQL cluster and a private
 * MariaDB (test/support), with a real Tessera. Grants are written straight into the store, as
 * the request service will write them, and `services.ephemeral` is called as it will call it.
 * The last suite SIGKILLs a Tessera process after and during provisioning and restarts it on
 * the same data directory.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection as createTcpConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Connection, createConnection as createMariadbConnection } from 'mysql2/promise';
import { Client, escapeIdentifier } from 'pg';
import { CREATING_STALE_MS } from '../../src/access/ephemeral.ts';
import { SYSTEM_CONTEXT } from '../../src/audit/event.ts';
import { isTesseraError } from '../../src/errors.ts';
import { openStore } from '../../src/store/store.ts';
import { initialPassword, type PrivateMariadb, usePrivateMariadb } from '../support/mariadb.ts';
import { freePort, type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { startServerProcess } from '../support/server-process.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

// pg completes missing connection settings from PG* variables and then localhost:5432; should a
// guard ever regress, the fallback lands on a closed loopback port instead.
process.env.PGHOST = '127.0.0.1';
process.env.PGPORT = String(await freePort());

const HOUR_MS = 3_600_000;
const POLL_MS = 50;
const SETTLE_MS = 15_000;
const CHILD_SCRIPT = fileURLToPath(new URL('./ephemeral-child.ts', import.meta.url));
const TESSERA_BIN = fileURLToPath(new URL('../../bin/tessera', import.meta.url));

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

interface AccountView {
  readonly id: string;
  readonly grantId: string;
  readonly username: string;
  readonly role: string;
  readonly state: string;
  readonly revealedAt: string | null;
  readonly droppedAt: string | null;
  readonly lastError: string | null;
}

interface Credential {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
}

/** A login of an ephemeral account held open, as a user would hold it. */
interface LiveSession {
  /** Whether SELECT on the table works: `allowed` is the role's, `secret` is nobody's. */
  canRead(table: 'allowed' | 'secret'): Promise<boolean>;
  /** Whether the account may create accounts of its own (it must not). */
  canCreateAccounts(): Promise<boolean>;
  /** Whether the session still answers. */
  alive(): Promise<boolean>;
  close(): Promise<void>;
}

/** What the tests need of one platform, with its reference client. */
interface Platform {
  readonly name: string;
  /** The admin account, the roles and the tables; returns what Tessera is given. */
  setUp(): Promise<PlatformSetup>;
  loginWorks(username: string, password: string): Promise<boolean>;
  connect(username: string, password: string): Promise<LiveSession>;
  exists(username: string): Promise<boolean>;
  /** The roles the account holds, and until when the target itself lets it log in. */
  describe(username: string): Promise<{ roles: string[]; validUntil: number | null }>;
  /** Makes an account under `username` as the target's superuser: what a crash leaves. */
  createDirectly(username: string): Promise<void>;
  /** Everything the target logged of the statements it ran. */
  serverLog(): string;
}

interface PlatformSetup {
  readonly target: Record<string, unknown>;
  readonly admin: { readonly username: string; readonly password: string };
  /** A role whose name needs quoting, with SELECT on the `allowed` table only. */
  readonly role: string;
  /** Configured in Tessera, absent on the target. */
  readonly missingRole: string;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL and MariaDB

function postgresql(cluster: () => PgCluster): Platform {
  const roleName = `eph "read" only ${randomBytes(3).toString('hex')}`;
  return {
    name: 'postgresql',
    async setUp() {
      const c = cluster();
      const admin = { username: uniqueRoleName('eph_admin'), password: initialPassword() };
      // CREATEROLE makes and drops roles; pg_signal_backend ends their sessions.
      await c.createRole(admin.username, admin.password, { createRole: true });
      await c.query(`GRANT pg_signal_backend TO ${escapeIdentifier(admin.username)}`);
      await c.createRole(roleName, null, { login: false });
      await c.query('CREATE TABLE IF NOT EXISTS eph_allowed (v int)');
      await c.query('CREATE TABLE IF NOT EXISTS eph_secret (v int)');
      await c.query(`GRANT SELECT ON eph_allowed TO ${escapeIdentifier(roleName)}`);
      const target = { platform: 'postgresql', host: c.host, port: c.port };
      return { target, admin, role: roleName, missingRole: 'eph_missing_role' };
    },
    loginWorks: (username, password) => cluster().loginWithPsql(username, password),
    async connect(username, password) {
      const client = new Client({
        host: cluster().host,
        port: cluster().port,
        user: username,
        password,
        database: 'postgres',
        ssl: false,
        connectionTimeoutMillis: 5_000,
      });
      client.on('error', () => {
        // The drop ends this session on purpose; the next query reports it.
      });
      await client.connect();
      return pgSession(client);
    },
    async exists(username) {
      const found = await cluster().query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username]);
      return found.rowCount === 1;
    },
    async describe(username) {
      const roles = await cluster().query(
        `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
          JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
        [username],
      );
      const valid = await cluster().query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [
        username,
      ]);
      const until: unknown = valid.rows[0]?.rolvaliduntil;
      return {
        roles: roles.rows.map((row: { rolname: string }) => row.rolname),
        validUntil: until instanceof Date ? until.getTime() : null,
      };
    },
    createDirectly: (username) => cluster().createRole(username, initialPassword()),
    serverLog: () => cluster().readLog(),
  };
}

function pgSession(client: Client): LiveSession {
  const works = async (sql: string) => {
    try {
      await client.query(sql);
      return true;
    } catch {
      return false;
    }
  };
  return {
    canRead: (table) => works(`SELECT v FROM eph_${table}`),
    async canCreateAccounts() {
      const probe = `tsr_probe_${randomBytes(3).toString('hex')}`;
      const created = await works(`CREATE ROLE ${probe}`);
      if (created) await client.query(`DROP ROLE ${probe}`);
      return created;
    },
    alive: () => works('SELECT 1'),
    close: () => client.end().catch(() => undefined),
  };
}

function mariadb(server: () => PrivateMariadb): Platform {
  const roleName = `eph read\`only ${randomBytes(3).toString('hex')}`;
  const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;
  return {
    name: 'mariadb',
    async setUp() {
      const s = server();
      const admin = {
        username: `tsr_adm_${randomBytes(4).toString('hex')}`,
        password: initialPassword(),
      };
      // The connector's documented needs (src/connectors/mariadb-ephemeral.ts).
      await s.createAccount(admin.username, admin.password, {
        hosts: ['127.0.0.1'],
        grants: ['CREATE USER', 'PROCESS', 'CONNECTION ADMIN'],
        mysqlSchema: 'SELECT, UPDATE',
      });
      await s.query(`CREATE ROLE ${quote(roleName)}`);
      await s.query(
        `GRANT ${quote(roleName)} TO ${quote(admin.username)}@'127.0.0.1' WITH ADMIN OPTION`,
      );
      await s.query('CREATE DATABASE IF NOT EXISTS ephdb');
      await s.query('CREATE TABLE IF NOT EXISTS ephdb.eph_allowed (v INT)');
      await s.query('CREATE TABLE IF NOT EXISTS ephdb.eph_secret (v INT)');
      await s.query(`GRANT SELECT ON ephdb.eph_allowed TO ${quote(roleName)}`);
      const target = { platform: 'mariadb', host: s.host, port: s.port };
      return { target, admin, role: roleName, missingRole: 'eph_missing_role' };
    },
    async loginWorks(username, password) {
      return (await server().loginWithCli(username, password)) !== null;
    },
    async connect(username, password) {
      const connection = await createMariadbConnection({
        host: server().host,
        port: server().port,
        user: username,
        password,
        connectTimeout: 5_000,
      });
      connection.on('error', () => {
        // The drop ends this session on purpose; the next query reports it.
      });
      return mariadbSession(connection);
    },
    async exists(username) {
      const rows = await server().query('SELECT COUNT(*) FROM mysql.user WHERE User = ?', [
        username,
      ]);
      return Number(rows[0]?.[0]) > 0;
    },
    async describe(username) {
      const roles = await server().query(
        "SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = '%'",
        [username],
      );
      const defaults = await server().query(
        "SELECT default_role FROM mysql.user WHERE User = ? AND Host = '%'",
        [username],
      );
      const granted = roles.map((row) => String(row[0]));
      // Only the default role is in force at login; it must be the granted one.
      assert.deepEqual(
        defaults.map((row) => String(row[0])),
        granted,
      );
      return { roles: granted, validUntil: null };
    },
    async createDirectly(username) {
      await server().query(
        `CREATE USER ${quote(username)}@'%' IDENTIFIED BY '${initialPassword()}'`,
      );
    },
    serverLog: () => server().readGeneralLog(),
  };
}

function mariadbSession(connection: Connection): LiveSession {
  const works = async (sql: string) => {
    try {
      await connection.query(sql);
      return true;
    } catch {
      return false;
    }
  };
  return {
    canRead: (table) => works(`SELECT v FROM ephdb.eph_${table}`),
    async canCreateAccounts() {
      const probe = `tsr_probe_${randomBytes(3).toString('hex')}`;
      const created = await works(`CREATE USER ${probe}@'%'`);
      if (created) await connection.query(`DROP USER ${probe}@'%'`);
      return created;
    },
    alive: () => works('SELECT 1'),
    close: async () => connection.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// the same behaviour on both

const cluster = usePgCluster();
const privateMariadb = usePrivateMariadb();

for (const platform of [postgresql(cluster), mariadb(privateMariadb)]) {
  describePlatform(platform);
}

interface Rig {
  readonly server: TestServer;
  readonly setup: PlatformSetup;
  readonly targetName: string;
  readonly targetId: string;
  readonly aliceToken: string;
  readonly aliceId: string;
  readonly bobToken: string;
  /** Every password revealed; none may appear in a log or an audit event. */
  readonly secrets: string[];
}

function describePlatform(platform: Platform): void {
  describe(`ephemeral accounts on ${platform.name}`, () => {
    let rig: Rig;

    before(async () => {
      rig = await setUpInProcess(platform);
    });
    after(async () => {
      await rig?.server.stop();
    });

    it('refuses configurations it cannot use, and shows the one it keeps', async () => {
      const path = `/v1/targets/${rig.targetName}/ephemeral`;
      const admin = `${rig.targetName}/${rig.setup.admin.username}`;
      const comma = await rig.server.api<ErrorBody>('PUT', path, {
        body: { adminAccount: admin, roles: ['a,b'] },
      });
      assert.equal(comma.status, 400);
      const stranger = await rig.server.api<ErrorBody>('PUT', path, {
        body: { adminAccount: 'nobody_here', roles: [rig.setup.role] },
      });
      assert.deepEqual([stranger.status, stranger.body.error.code], [400, 'VALIDATION_FAILED']);
      const asUser = await rig.server.api<ErrorBody>('PUT', path, {
        token: rig.aliceToken,
        body: { adminAccount: admin, roles: [rig.setup.role] },
      });
      assert.equal(asUser.status, 403);

      const shown = await rig.server.api<{ adminAccount: string; roles: string[] }>('GET', path);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.adminAccount, admin);
      assert.deepEqual(shown.body.roles, [rig.setup.role, rig.setup.missingRole]);
    });

    it("creates a login that works with the role's rights only, until the grant ends", async () => {
      const endsAt = Date.now() + HOUR_MS;
      const { grantId, account } = await provision(rig, rig.setup.role, endsAt);
      assert.equal(account.state, 'active');
      assert.match(account.username, /^tsr_[a-z0-9]{10}$/);
      assert.equal(await platform.exists(account.username), true);

      const described = await platform.describe(account.username);
      assert.deepEqual(described.roles, [rig.setup.role]);
      if (platform.name === 'postgresql') assert.equal(described.validUntil, endsAt);

      const credential = await revealAs(rig, rig.aliceToken, grantId);
      assert.equal(credential.username, account.username);
      assert.equal(await platform.loginWorks(credential.username, credential.password), true);
      const session = await platform.connect(credential.username, credential.password);
      try {
        assert.equal(await session.canRead('allowed'), true, "the role's table");
        assert.equal(await session.canRead('secret'), false, 'a table the role may not read');
        assert.equal(await session.canCreateAccounts(), false, 'no rights of its own');
      } finally {
        await session.close();
      }
      await rig.server.services.ephemeral.dropForGrant(SYSTEM_CONTEXT, grantId);
    });

    it("shows the credential once, to the grant's own user, while the grant holds", async () => {
      const { grantId } = await provision(rig, rig.setup.role, Date.now() + HOUR_MS);
      const path = `/v1/grants/${grantId}/credential`;

      const bob = await rig.server.api<ErrorBody>('POST', path, { token: rig.bobToken });
      assert.deepEqual([bob.status, bob.body.error.code], [404, 'NOT_FOUND']);
      const admin = await rig.server.api<ErrorBody>('POST', path);
      assert.deepEqual([admin.status, admin.body.error.code], [404, 'NOT_FOUND']);

      const first = await revealAs(rig, rig.aliceToken, grantId);
      assert.ok(first.password.length >= 24);
      assert.equal(first.host, rig.setup.target.host);
      const second = await rig.server.api<ErrorBody>('POST', path, { token: rig.aliceToken });
      assert.deepEqual([second.status, second.body.error.code], [409, 'CONFLICT']);
      assert.match(second.body.error.message, /already revealed/);

      const other = await provision(rig, rig.setup.role, Date.now() + HOUR_MS);
      await endGrant(rig, other.grantId);
      const late = await rig.server.api<ErrorBody>(
        'POST',
        `/v1/grants/${other.grantId}/credential`,
        { token: rig.aliceToken },
      );
      assert.deepEqual([late.status, late.body.error.code], [409, 'CONFLICT']);
      await rig.server.services.ephemeral.dropForGrant(SYSTEM_CONTEXT, grantId);
      await rig.server.services.ephemeral.dropForGrant(SYSTEM_CONTEXT, other.grantId);
    });

    it('drops the account when the grant ends, ending its live session first', async () => {
      const { grantId, account } = await provision(rig, rig.setup.role, Date.now() + HOUR_MS);
      const credential = await revealAs(rig, rig.aliceToken, grantId);
      const session = await platform.connect(credential.username, credential.password);
      assert.equal(await session.alive(), true);

      const dropped = await rig.server.services.ephemeral.dropForGrant(SYSTEM_CONTEXT, grantId);
      assert.equal(dropped, 1);
      assert.equal(await session.alive(), false, 'the open session was ended');
      await session.close();
      assert.equal(await platform.loginWorks(credential.username, credential.password), false);
      assert.equal(await platform.exists(account.username), false);

      const row = await storedRow(rig, account.id);
      assert.equal(row.state, 'dropped');
      assert.equal(row.ciphertext, null, 'the sealed password is wiped');
      // Repeating is harmless: the grant service runs it again after a crash.
      assert.equal(await rig.server.services.ephemeral.dropForGrant(SYSTEM_CONTEXT, grantId), 0);
    });

    it('fails clearly, and leaves nothing behind, when the role is missing', async () => {
      const grantId = await insertGrant(rig, Date.now() + HOUR_MS);
      const failure = await rig.server.services.ephemeral
        .provision(SYSTEM_CONTEXT, grantInput(rig, grantId, rig.setup.missingRole))
        .then(
          () => null,
          (error: unknown) => error,
        );
      assert.ok(isTesseraError(failure), String(failure));
      assert.equal(failure.code, 'EPHEMERAL_FAILED');
      assert.match(failure.message, /eph_missing_role does not exist/);

      const [row] = await listAccounts(rig, `grant=${grantId}`);
      assert.ok(row !== undefined);
      assert.equal(row.state, 'failed');
      assert.notEqual(row.droppedAt, null, 'the target holds nothing of it');
      assert.equal(await platform.exists(row.username), false);

      const notConfigured = await rig.server.services.ephemeral
        .provision(SYSTEM_CONTEXT, grantInput(rig, grantId, 'eph_other_role'))
        .then(
          () => null,
          (error: unknown) => error,
        );
      assert.ok(isTesseraError(notConfigured));
      assert.equal(notConfigured.code, 'EPHEMERAL_FAILED');
    });

    it("reaps what a crash left 'creating', and accounts whose grant ended", async () => {
      const services = rig.server.services;
      // A crash after the target made the account, before the row said so.
      const crashed = await insertAccountRow(rig, await insertGrant(rig, Date.now() + HOUR_MS), {
        state: 'creating',
        createdAt: Date.now() - CREATING_STALE_MS - 1_000,
      });
      await platform.createDirectly(crashed.username);
      // A crash before the target was touched at all.
      const untouched = await insertAccountRow(rig, randomUUID(), {
        state: 'creating',
        createdAt: Date.now() - CREATING_STALE_MS - 1_000,
      });
      // Being made right now on another node: not yet the reaper's.
      const fresh = await insertAccountRow(rig, await insertGrant(rig, Date.now() + HOUR_MS), {
        state: 'creating',
        createdAt: Date.now(),
      });
      // A grant that ended, and was closed, with its account still on the target.
      const ended = await provision(rig, rig.setup.role, Date.now() + HOUR_MS);
      await endGrant(rig, ended.grantId);

      // The server's own access ticker may close the ended grant (and drop its account) first,
      // so what is asserted is the state after this pass, not how many this call dropped.
      await services.ephemeral.reap();
      for (const id of [crashed.id, untouched.id, ended.account.id]) {
        assert.equal((await storedRow(rig, id)).state, 'dropped', id);
      }
      assert.equal((await storedRow(rig, fresh.id)).state, 'creating');
      assert.equal(await platform.exists(crashed.username), false);
      assert.equal(await platform.exists(ended.account.username), false);
      await services.store.db.deleteFrom('ephemeral_accounts').where('id', '=', fresh.id).execute();
    });

    it('the tessera command configures, shows, lists and prints the credential once', async () => {
      const admin = `${rig.targetName}/${rig.setup.admin.username}`;
      const roles = `${rig.setup.role},${rig.setup.missingRole}`;
      const configured = await tessera(rig, rig.server.rootToken, [
        ...['ephemeral', 'config', rig.targetName, '--admin-account', admin, '--roles', roles],
      ]);
      assert.equal(configured.code, 0, configured.stderr);
      assert.match(configured.stdout, new RegExp(`admin account: +${admin}`));
      const shown = await tessera(rig, rig.server.rootToken, ['ephemeral', 'show', rig.targetName]);
      assert.match(shown.stdout, /roles: /);

      const { grantId, account } = await provision(rig, rig.setup.role, Date.now() + HOUR_MS);
      const listed = await tessera(rig, rig.server.rootToken, [
        ...['-o', 'json', 'ephemeral', 'list', '--grant', grantId],
      ]);
      const body = JSON.parse(listed.stdout) as { accounts: AccountView[] };
      assert.deepEqual(
        body.accounts.map((a) => [a.username, a.state]),
        [[account.username, 'active']],
      );
      assert.equal(listed.stdout.includes('ciphertext'), false);

      const printed = await tessera(rig, rig.aliceToken, ['ephemeral', 'credential', grantId]);
      assert.equal(printed.code, 0, printed.stderr);
      const password = /^password: (.*)$/m.exec(printed.stdout)?.[1];
      assert.ok(password !== undefined, printed.stdout);
      rig.secrets.push(password);
      assert.match(printed.stdout, new RegExp(`^username: ${account.username}$`, 'm'));
      assert.equal(await platform.loginWorks(account.username, password), true);
      const again = await tessera(rig, rig.aliceToken, ['ephemeral', 'credential', grantId]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /CONFLICT: the credential was already revealed/);
      await rig.server.services.ephemeral.dropForGrant(SYSTEM_CONTEXT, grantId);
    });

    it('never writes a password to a log, an audit event or the target', async () => {
      assert.ok(rig.secrets.length >= 3, 'the tests above revealed passwords');
      const reply = await rig.server.api<{ events: unknown[] }>(
        'GET',
        '/v1/audit/events?action=ephemeral.&limit=1000',
      );
      assert.equal(reply.status, 200);
      const actions = new Set(reply.body.events.map((e) => (e as { action: string }).action));
      for (const action of ['ephemeral.create', 'ephemeral.reveal', 'ephemeral.drop']) {
        assert.ok(actions.has(action), `audited: ${action}`);
      }
      const places = {
        audit: JSON.stringify(reply.body.events),
        tessera: rig.server.logText(),
        target: platform.serverLog(),
      };
      for (const secret of rig.secrets) {
        for (const [place, text] of Object.entries(places)) {
          assert.equal(text.includes(secret), false, `a password appears in the ${place} log`);
        }
      }
      const verified = await rig.server.api<{ ok: boolean }>('POST', '/v1/audit/verify');
      assert.equal(verified.body.ok, true);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// in-process helpers

async function setUpInProcess(platform: Platform): Promise<Rig> {
  const server = await startTestServer();
  const setup = await platform.setUp();
  const targetName = `eph-${platform.name}`;
  await expectOk(server, 'POST', '/v1/safes', { name: 'ops' });
  await expectOk(server, 'POST', '/v1/targets', { name: targetName, ...setup.target });
  await expectOk(server, 'POST', `/v1/targets/${targetName}/accounts`, {
    safe: 'ops',
    username: setup.admin.username,
    secret: setup.admin.password,
  });
  await expectOk(server, 'PUT', `/v1/targets/${targetName}/ephemeral`, {
    adminAccount: `${targetName}/${setup.admin.username}`,
    roles: [setup.role, setup.missingRole],
  });
  const target = await server.services.targets.byName(targetName);
  const aliceToken = await createUserWithToken(server, 'alice', 'user');
  const alice = await server.services.users.findByName('alice');
  assert.ok(alice !== null);
  return {
    server,
    setup,
    targetName,
    targetId: target.id,
    aliceToken,
    aliceId: alice.id,
    bobToken: await createUserWithToken(server, 'bob', 'user'),
    secrets: [],
  };
}

async function expectOk(server: TestServer, method: string, url: string, body: unknown) {
  const reply = await server.api(method, url, { body });
  assert.ok(reply.status < 300, `${method} ${url}: ${JSON.stringify(reply.body)}`);
}

async function safeId(rig: Rig, name: string): Promise<string> {
  const row = await rig.server.services.store.db
    .selectFrom('safes')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return row.id;
}

/** An ephemeral grant for alice, as the request service writes one on approval. */
async function insertGrant(rig: Rig, endsAt: number): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  const admin = await rig.server.services.accounts.find({
    target: rig.targetName,
    username: rig.setup.admin.username,
  });
  await rig.server.services.store.db
    .insertInto('grants')
    .values({
      id,
      request_id: null,
      user_id: rig.aliceId,
      kind: 'ephemeral',
      safe_id: await safeId(rig, 'ops'),
      account_id: admin.id,
      permissions: 'use',
      starts_at: now,
      ends_at: endsAt,
      revoked_at: null,
      revoked_by: null,
      revoke_reason: null,
      closed_at: null,
      created_at: now,
    })
    .execute();
  return id;
}

function grantInput(rig: Rig, grantId: string, role: string) {
  const endsAt = Date.now() + HOUR_MS;
  return { id: grantId, userId: rig.aliceId, targetId: rig.targetId, role, endsAt };
}

async function provision(rig: Rig, role: string, endsAt: number) {
  const grantId = await insertGrant(rig, endsAt);
  const account = await rig.server.services.ephemeral.provision(SYSTEM_CONTEXT, {
    ...grantInput(rig, grantId, role),
    endsAt,
  });
  return { grantId, account };
}

/** Ends the grant and marks it closed, so only the reaper is left to drop its account. */
async function endGrant(rig: Rig, grantId: string): Promise<void> {
  const past = Date.now() - 1_000;
  await rig.server.services.store.db
    .updateTable('grants')
    .set({ ends_at: past, closed_at: past })
    .where('id', '=', grantId)
    .execute();
}

async function revealAs(rig: Rig, token: string, grantId: string): Promise<Credential> {
  const reply = await rig.server.api<Credential>('POST', `/v1/grants/${grantId}/credential`, {
    token,
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  rig.secrets.push(reply.body.password);
  return reply.body;
}

/** Runs `tessera ARGS` in a child process, as a person would, with the token in its env. */
async function tessera(rig: Rig, token: string, args: readonly string[]) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', TESSERA_ADDR: rig.server.url };
  const child = spawn(process.execPath, [TESSERA_BIN, ...args], {
    env: { ...env, TESSERA_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (text: string) => out.push(text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => err.push(text));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function storedRow(rig: Rig, id: string) {
  return rig.server.services.store.db
    .selectFrom('ephemeral_accounts')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

async function listAccounts(rig: Rig, query: string): Promise<AccountView[]> {
  const reply = await rig.server.api<{ accounts: AccountView[] }>(
    'GET',
    `/v1/ephemeral-accounts?${query}`,
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.accounts;
}

async function insertAccountRow(
  rig: Rig,
  grantId: string,
  row: { state: string; createdAt: number },
): Promise<{ id: string; username: string }> {
  const id = randomUUID();
  const username = `tsr_${randomBytes(5).toString('hex')}`;
  await rig.server.services.store.db
    .insertInto('ephemeral_accounts')
    .values({
      id,
      grant_id: grantId,
      target_id: rig.targetId,
      username,
      role: rig.setup.role,
      state: row.state,
      ciphertext: null,
      revealed_at: null,
      created_at: row.createdAt,
      dropped_at: null,
      last_error: null,
    })
    .execute();
  return { id, username };
}

// ---------------------------------------------------------------------------------------------
// SIGKILL

describe('a Tessera killed after or during provisioning drops the account once restarted', () => {
  const role = 'eph_crash_role';
  let admin: { username: string; password: string };
  let proxy: HoldingProxy;

  before(async () => {
    admin = { username: uniqueRoleName('eph_crash_admin'), password: initialPassword() };
    await cluster().createRole(admin.username, admin.password, { createRole: true });
    await cluster().query(`GRANT pg_signal_backend TO ${escapeIdentifier(admin.username)}`);
    await cluster().createRole(role, null, { login: false });
    proxy = await startHoldingProxy(cluster(), 'CREATE ROLE');
  });
  after(async () => {
    await proxy?.close();
  });

  it('after provisioning: restarted past the grant end, the reaper drops it', async (t) => {
    const rig = await startChildRig(cluster().port, admin, role);
    t.after(() => rig.cleanup());
    const answer = await rig.child.provision({
      user: 'alice',
      safe: 'ops',
      account: `pg/${admin.username}`,
      target: 'pg',
      role,
      endsAt: Date.now() + 30_000,
    });
    assert.ok(answer.account !== undefined, JSON.stringify(answer));
    const username = answer.account.username;
    const reply = await rig.child.api<Credential>(
      'POST',
      `/v1/grants/${answer.grantId}/credential`,
      {
        token: rig.aliceToken,
      },
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const session = await postgresql(cluster).connect(username, reply.body.password);

    rig.child.kill();
    await rig.child.exited;
    assert.equal(await session.alive(), true, 'the kill alone ends nothing on the target');

    const restarted = await startServerProcess({
      dataDir: rig.dataDir,
      rootToken: rig.rootToken,
      databaseUrl: null,
      clockOffsetMs: 60_000,
    });
    t.after(() => restarted.stop());
    assert.ok(await waitUntil(async () => !(await roleExists(username))), 'the role was dropped');
    assert.equal(await session.alive(), false, 'its live session was ended');
    await session.close();

    const listed = await restarted.api<{ accounts: AccountView[] }>(
      'GET',
      `/v1/ephemeral-accounts?grant=${answer.grantId}`,
    );
    assert.equal(listed.body.accounts[0]?.state, 'dropped');
    const verified = await restarted.api<{ ok: boolean }>('POST', '/v1/audit/verify');
    assert.equal(verified.body.ok, true);
    for (const output of [rig.child.output(), restarted.output()]) {
      assert.equal(output.includes(reply.body.password), false, 'no password in the server log');
    }
  });

  it("during provisioning: the row left 'creating' is reaped, with the role made", async (t) => {
    const rig = await startChildRig(proxy.port, admin, role);
    t.after(() => rig.cleanup());
    const answer = rig.child.provision({
      user: 'alice',
      safe: 'ops',
      account: `pg/${admin.username}`,
      target: 'pg',
      role,
      endsAt: Date.now() + HOUR_MS,
    });
    // The target runs CREATE ROLE; its answer is held, so Tessera never records the success.
    const username = await proxy.created();
    assert.ok(await waitUntil(() => roleExists(username)), 'the target made the role');
    rig.child.kill();
    await rig.child.exited;
    await answer.catch(() => undefined);
    assert.equal(await storedState(rig.dataDir, username), 'creating');

    // Later than a creation can take, well before the grant ends.
    const restarted = await startServerProcess({
      dataDir: rig.dataDir,
      rootToken: rig.rootToken,
      databaseUrl: null,
      clockOffsetMs: CREATING_STALE_MS + 60_000,
    });
    t.after(() => restarted.stop());
    assert.ok(await waitUntil(async () => !(await roleExists(username))), 'the role was dropped');
    const listed = await restarted.api<{ accounts: AccountView[] }>(
      'GET',
      '/v1/ephemeral-accounts?target=pg',
    );
    assert.deepEqual(
      listed.body.accounts.map((a) => [a.username, a.state]),
      [[username, 'dropped']],
    );
  });
});

async function roleExists(username: string): Promise<boolean> {
  const found = await cluster().query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username]);
  return found.rowCount === 1;
}

async function waitUntil(check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + SETTLE_MS;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await delay(POLL_MS);
  }
  return check();
}

/** The row's state, read from the store while no Tessera runs on it. */
async function storedState(dataDir: string, username: string): Promise<string | undefined> {
  const store = await openStore({ kind: 'sqlite', file: path.join(dataDir, 'tessera.db') });
  try {
    const row = await store.db
      .selectFrom('ephemeral_accounts')
      .select('state')
      .where('username', '=', username)
      .executeTakeFirst();
    return row?.state;
  } finally {
    await store.close();
  }
}

interface ChildRig {
  readonly dataDir: string;
  readonly rootToken: string;
  readonly aliceToken: string;
  readonly child: EphemeralChild;
  cleanup(): Promise<void>;
}

/** A Tessera child with a target `pg` at `port`, its admin account, the role, and alice. */
async function startChildRig(
  port: number,
  admin: { username: string; password: string },
  role: string,
): Promise<ChildRig> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-eph-'));
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  const child = await startEphemeralChild(dataDir, rootToken);
  const call = async (method: string, url: string, body: unknown) => {
    const reply = await child.api(method, url, { body });
    assert.ok(reply.status < 300, `${method} ${url}: ${JSON.stringify(reply.body)}`);
    return reply.body;
  };
  await call('POST', '/v1/safes', { name: 'ops' });
  await call('POST', '/v1/targets', {
    name: 'pg',
    platform: 'postgresql',
    host: '127.0.0.1',
    port,
  });
  await call('POST', '/v1/targets/pg/accounts', {
    safe: 'ops',
    username: admin.username,
    secret: admin.password,
  });
  await call('PUT', '/v1/targets/pg/ephemeral', { adminAccount: admin.username, roles: [role] });
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  await call('POST', '/v1/users', { name: 'alice', role: 'user', password });
  const login = await child.api<{ token: string }>('POST', '/v1/auth/login', {
    body: { user: 'alice', password },
  });
  return {
    dataDir,
    rootToken,
    aliceToken: login.body.token,
    child,
    async cleanup() {
      child.kill();
      await child.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface ProvisionAnswer {
  readonly grantId: string;
  readonly account?: { readonly id: string; readonly username: string; readonly state: string };
  readonly error?: { readonly code: string; readonly message: string };
}

interface EphemeralChild {
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
  ): Promise<{ status: number; body: T }>;
  provision(grant: Record<string, unknown>): Promise<ProvisionAnswer>;
  kill(): void;
  readonly exited: Promise<unknown>;
  output(): string;
}

/** Starts test/integration/ephemeral-child.ts; its stdout carries the URL, then the answers. */
async function startEphemeralChild(dataDir: string, rootToken: string): Promise<EphemeralChild> {
  const child: ChildProcess = spawn(process.execPath, [CHILD_SCRIPT], {
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      TESSERA_CHILD_DATA_DIR: dataDir,
      TESSERA_CHILD_ROOT_TOKEN: rootToken,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      void exited.then(() =>
        reject(new Error(`the child exited: ${stderr.join('').slice(-2000)}`)),
      );
    });

  const { url } = JSON.parse(await nextLine()) as { url: string };
  return {
    async api(method, url2, { token = rootToken, body } = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(url + url2, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? ({} as never) : JSON.parse(text) };
    },
    async provision(grant) {
      const answer = nextLine();
      child.stdin?.write(`${JSON.stringify({ grant })}\n`);
      return JSON.parse(await answer) as ProvisionAnswer;
    },
    kill: () => {
      child.kill('SIGKILL');
    },
    exited,
    output: () => stderr.join(''),
  };
}

interface HoldingProxy {
  readonly port: number;
  /** Resolves with the name in the first CREATE ROLE that went through. */
  created(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A proxy to the cluster that forwards everything, except that once a client has sent `marker`
 * on a connection, the server's replies on that connection are held back: the statement runs
 * on the target, and the client never hears of it.
 */
async function startHoldingProxy(
  upstream: { host: string; port: number },
  marker: string,
): Promise<HoldingProxy> {
  const sockets = new Set<Socket>();
  let announce: (name: string) => void = () => undefined;
  const created = new Promise<string>((resolve) => {
    announce = resolve;
  });
  const server = createServer((client) => {
    const target = createTcpConnection({ host: upstream.host, port: upstream.port });
    let sent = '';
    let holding = false;
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      sent += chunk.toString('latin1');
      const name = /CREATE ROLE "(tsr_[a-z0-9]{10})"/.exec(sent)?.[1];
      if (sent.includes(marker)) holding = true;
      if (name !== undefined) announce(name);
      target.write(chunk);
    });
    target.on('data', (chunk: Buffer) => {
      if (!holding) client.write(chunk);
    });
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    created: () => created,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
