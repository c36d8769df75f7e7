/**
 * Bulk onboarding through the real `tessera` command line, against a real Tessera server and a
 * throw-away PostgreSQL cluster on 127.0.0.1: `account import` of a CSV file, with and without
 * `--rotate-now`, a file with one bad row, and the discover → review → import workflow.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatCsv, parseCsv } from '../../src/cli/csv.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn } from '../support/pg-login.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const BIN = fileURLToPath(new URL('../../bin/tessera', import.meta.url));
const TARGET = 'pgi';
const SAFE = 'imports';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface AccountView {
  readonly ref: string;
  readonly currentVersion: number | null;
  readonly state: string;
}

const password = () => `Pw-${randomBytes(12).toString('base64url')}`;

// The cluster's hooks belong to the outer suite, so it stops only after the inner suite's
// own clean-up has dropped the roles it made.
describe('bulk onboarding from CSV', () => {
  const cluster = usePgCluster();
  describe('tessera account import', () => describeImport(cluster));
});

function describeImport(cluster: () => PgCluster): void {
  let server: TestServer;
  let dir: string;
  let reconcile: string;
  const made: string[] = [];
  const secrets: string[] = [];

  before(async () => {
    server = await startTestServer();
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-import-'));
    reconcile = uniqueRoleName('imp_rec');
    const value = password();
    secrets.push(value);
    // A superuser, so that it may set any role's password whatever the server's version.
    await cluster().createRole(reconcile, value, { superuser: true });
    made.push(reconcile);
    await expectStatus(server, 'POST', '/v1/safes', { name: SAFE }, 201);
    const retrieve = { permissions: ['list', 'retrieve', 'manage'] };
    await expectStatus(server, 'PUT', `/v1/safes/${SAFE}/members/admin`, retrieve, 200);
    const c = cluster();
    const target = { name: TARGET, platform: 'postgresql', host: c.host, port: c.port };
    await expectStatus(server, 'POST', '/v1/targets', target, 201);
    const scanner = { username: reconcile, safe: SAFE, secret: value };
    await expectStatus(server, 'POST', `/v1/targets/${TARGET}/accounts`, scanner, 201);
  });
  after(async () => {
    await server?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    for (const role of made) await cluster().dropRole(role);
  });

  const cli = (args: readonly string[]) => runCli(server, dir, args);
  const newRoles = async (prefix: string, count: number, createRole = false) => {
    const names = Array.from({ length: count }, () => uniqueRoleName(prefix));
    for (const name of names) {
      const unknown = password(); // nobody keeps it: the import must not need it
      secrets.push(unknown);
      await cluster().createRole(name, unknown, { createRole });
      made.push(name);
    }
    return names;
  };

  it('onboards three roles through the reconcile account, each with a secret that logs in', async () => {
    const roles = await newRoles('imp', 3);
    const rows = roles.map((role) => [TARGET, role, `${TARGET}/${reconcile}`]);
    const file = await writeCsv(dir, 'three.csv', [
      ['target', 'username', 'reconcile_account'],
      ...rows,
    ]);

    const result = await cli(['account', 'import', file, '--safe', SAFE, '--rotate-now']);

    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Onboarded 3, skipped 0, failed 0; rotated 3, rotation failed 0/);
    for (const role of roles) {
      const value = await reveal(server, role);
      secrets.push(value);
      assert.equal(await logsIn(cluster(), role, value), true, `${role} logs in`);
      const account = await getAccount(server, role);
      assert.deepEqual([account.state, account.currentVersion], ['ok', 1]);
    }

    const again = await cli(['account', 'import', file, '--safe', SAFE, '--rotate-now']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Onboarded 0, skipped 3, failed 0/);
    for (const role of roles) assert.equal((await getAccount(server, role)).currentVersion, 1);
  });

  it('a file with one bad row changes nothing, and names the line', async () => {
    const roles = await newRoles('bad', 3);
    const before = await accountCount(server);
    const rec = `${TARGET}/${reconcile}`;
    const file = await writeCsv(dir, 'bad.csv', [
      ['target', 'username', 'secret_type', 'reconcile_account'],
      [TARGET, roles[0] ?? '', 'password', rec],
      [TARGET, roles[1] ?? '', 'pasword', rec],
      [TARGET, roles[2] ?? '', '', rec],
    ]);

    const result = await cli(['account', 'import', file, '--safe', SAFE, '--rotate-now']);

    assert.equal(result.code, 1);
    assert.match(result.stderr, /INVALID_FILE: 1 of 3 rows are invalid; nothing was changed/);
    assert.match(result.stderr, /line 3: secret_type "pasword" is neither password nor ssh-key/);
    assert.equal(await accountCount(server), before, 'no account was onboarded');
  });

  it('a row naming a target the server does not know changes nothing either', async () => {
    const roles = await newRoles('unk', 2);
    const before = await accountCount(server);
    const file = await writeCsv(dir, 'unknown-target.csv', [
      ['target', 'username', 'reconcile_account'],
      [TARGET, roles[0] ?? '', `${TARGET}/${reconcile}`],
      ['nowhere', roles[1] ?? '', `nowhere/${reconcile}`],
    ]);

    const result = await cli(['account', 'import', file, '--safe', SAFE]);

    assert.equal(result.code, 1);
    assert.match(result.stderr, /line 3: target nowhere not found/);
    assert.equal(await accountCount(server), before);
  });

  it('warns about secrets in a file others can read, and never prints them', async () => {
    const [role = ''] = await newRoles('sec', 1);
    const secret = password();
    const file = await writeCsv(dir, 'with-secret.csv', [
      ['target', 'username', 'secret'],
      [TARGET, role, secret],
    ]);
    await chmod(file, 0o644);
    const before = await accountCount(server);

    const result = await cli(['account', 'import', file, '--safe', SAFE, '--dry-run']);

    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: .*others on this machine can read it: chmod 600/);
    assert.match(result.stdout, /Dry run: the file is valid; 1 would be onboarded/);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(secret), 'the secret is not shown');
    assert.equal(await accountCount(server), before, 'a dry run changes nothing');
  });

  it('discover, review, import: the exported unmanaged accounts end up managed and rotated', async () => {
    const found = await newRoles('wf', 2, true);
    const scan = await cli(['discover', 'run', TARGET]);
    assert.equal(scan.code, 0, scan.stderr);
    for (const role of found) assert.match(scan.stdout, new RegExp(`\\+ ${role}  \\(CREATEROLE`));

    const exported = await cli(['discover', 'list', '--unmanaged', '-o', 'csv']);
    assert.equal(exported.code, 0, exported.stderr);
    const records = parseCsv(exported.stdout).map((r) => r.fields);
    assert.deepEqual(records[0], [
      'target',
      'username',
      'secret_type',
      'reconcile_account',
      'policy',
      'reasons',
    ]);
    // The review: only this test's roles go in; the cluster's own superuser stays out.
    const reviewed = records.filter((r, i) => i === 0 || found.includes(r[1] ?? ''));
    assert.equal(reviewed.length, 3);
    assert.ok(reviewed.slice(1).every((r) => r[3] === `${TARGET}/${reconcile}`));
    const file = await writeCsv(dir, 'reviewed.csv', reviewed);

    const result = await cli(['account', 'import', file, '--safe', SAFE, '--rotate-now']);

    assert.equal(result.code, 0, result.stderr);
    for (const role of found) {
      const value = await reveal(server, role);
      secrets.push(value);
      assert.equal(await logsIn(cluster(), role, value), true);
    }
    const listed = await cli(['discover', 'list', '--target', TARGET]);
    for (const role of found)
      assert.match(listed.stdout, new RegExp(`${role}\\s+yes\\s+CREATEROLE`));
  });

  it('no secret reaches the audit trail or the server log', async () => {
    const events = await server.api('GET', '/v1/audit/events?limit=1000');
    const text = JSON.stringify(events.body) + server.logText();
    for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret leaked');
  });
}

function runCli(server: TestServer, cwd: string, args: readonly string[]): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TZ: 'UTC',
    TESSERA_ADDR: server.url,
    TESSERA_TOKEN: server.rootToken,
  };
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function writeCsv(
  dir: string,
  name: string,
  rows: ReadonlyArray<readonly string[]>,
): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, formatCsv(rows), { mode: 0o600 });
  return file;
}

async function expectStatus(
  server: TestServer,
  method: string,
  url: string,
  body: unknown,
  status: number,
): Promise<void> {
  const reply = await server.api(method, url, { body });
  assert.equal(reply.status, status, `${method} ${url}: ${JSON.stringify(reply.body)}`);
}

async function reveal(server: TestServer, role: string): Promise<string> {
  const reply = await server.api<{ value: string }>(
    'POST',
    `/v1/targets/${TARGET}/accounts/${role}/reveal`,
    { body: { reason: 'import test' } },
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.value;
}

async function getAccount(server: TestServer, role: string): Promise<AccountView> {
  const reply = await server.api<AccountView>('GET', `/v1/targets/${TARGET}/accounts/${role}`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

async function accountCount(server: TestServer): Promise<number> {
  const reply = await server.api<{ accounts: unknown[] }>('GET', '/v1/accounts');
  return reply.body.accounts.length;
}
