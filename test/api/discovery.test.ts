/**
 * Discovery of privileged PostgreSQL roles through the API, on both of Tessera's stores, against
 * a throw-away SCRAM cluster on 127.0.0.1: what a scan finds and why, which findings Tessera
 * manages, what a second scan reports as appeared and disappeared, and who may scan.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { STORE_KINDS, type StoreKind } from '../support/stores.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

interface Finding {
  readonly target: string;
  readonly username: string;
  readonly reasons: string[];
  readonly managed: boolean;
  readonly managedBy: string | null;
  readonly suggestedReconcileAccount: string | null;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly goneAt: string | null;
}

interface Summary {
  readonly run: {
    readonly id: string;
    readonly state: string;
    readonly found: number;
    readonly appeared: number;
    readonly disappeared: number;
  };
  readonly scanner: string;
  readonly appeared: Finding[];
  readonly disappeared: string[];
  readonly unmanaged: number;
}

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

/** The roles one store's tests made on the cluster; names are unique per run. */
interface Roles {
  readonly scanner: string;
  readonly superuser: string;
  readonly roleAdmin: string;
  readonly plain: string;
}

const TARGET = 'pgd';
const password = () => `Pw-${randomBytes(12).toString('base64url')}`;

describe('discovery of PostgreSQL roles through the API', () => {
  const cluster = usePgCluster();
  for (const store of STORE_KINDS) describeStore(store, cluster);
});

function describeStore(store: StoreKind, cluster: () => PgCluster): void {
  describe(`with Tessera's store on ${store}`, () => {
    let server: TestServer;
    let roles: Roles;
    const secrets: string[] = [];
    const made: string[] = [];

    before(async () => {
      server = await startTestServer({ store });
      roles = await setUp(server, cluster(), secrets, made);
    });
    after(async () => {
      for (const role of made) await cluster().dropRole(role);
      await server?.stop();
    });

    it('finds the privileged roles with their reasons, and which ones Tessera manages', async () => {
      const summary = await scan(server, {});

      assert.equal(summary.scanner, `${TARGET}/${roles.scanner}`, 'the reconcile account scans');
      assert.equal(summary.run.state, 'finished');
      const byName = new Map(summary.appeared.map((f) => [f.username, f]));
      assert.deepEqual(byName.get(roles.superuser)?.reasons, ['SUPERUSER']);
      assert.deepEqual(byName.get(roles.roleAdmin)?.reasons, ['CREATEROLE']);
      assert.ok(byName.get(cluster().superuser.username)?.reasons.includes('SUPERUSER'));
      assert.equal(byName.has(roles.plain), false, 'a plain role is not privileged');
      assert.equal(byName.get(roles.superuser)?.managed, true);
      assert.equal(byName.get(roles.scanner)?.managed, true);
      assert.equal(byName.get(roles.roleAdmin)?.managed, false);
      assert.equal(summary.run.found, summary.appeared.length);
      assert.deepEqual(summary.disappeared, []);

      const unmanaged = await findings(server, '?unmanaged=true');
      const names = unmanaged.filter((f) => f.target === TARGET).map((f) => f.username);
      assert.ok(names.includes(roles.roleAdmin));
      assert.ok(!names.includes(roles.superuser) && !names.includes(roles.scanner));
      assert.equal(summary.unmanaged, names.length);
      const suggested = unmanaged.map((f) => f.suggestedReconcileAccount);
      assert.ok(suggested.every((s) => s === `${TARGET}/${roles.scanner}`));
    });

    it('a second scan reports what appeared and what disappeared', async () => {
      const newcomer = uniqueRoleName('disc_new');
      await cluster().createRole(newcomer, password(), { createRole: true });
      made.push(newcomer);
      await cluster().dropRole(roles.roleAdmin);

      const second = await scan(server, { scanner: `${TARGET}/${roles.scanner}` });

      assert.deepEqual(
        second.appeared.map((f) => [f.username, f.reasons, f.managed]),
        [[newcomer, ['CREATEROLE'], false]],
      );
      assert.deepEqual(second.disappeared, [roles.roleAdmin]);
      assert.deepEqual([second.run.appeared, second.run.disappeared], [1, 1]);
      const gone = await findings(server, '?gone=true');
      const dropped = gone.find((f) => f.username === roles.roleAdmin);
      assert.ok(dropped?.goneAt, 'the dropped role carries the time it went');
      const present = await findings(server, '?gone=false');
      assert.ok(!present.some((f) => f.username === roles.roleAdmin));
      assert.ok(present.some((f) => f.username === newcomer));
    });

    it('a role back after being gone appears again, and nothing else changes', async () => {
      await cluster().createRole(roles.roleAdmin, password(), { createRole: true });

      const third = await scan(server, {});

      assert.deepEqual(
        third.appeared.map((f) => f.username),
        [roles.roleAdmin],
      );
      assert.deepEqual(third.disappeared, []);
      const all = await findings(server, `?target=${TARGET}`);
      assert.equal(all.find((f) => f.username === roles.roleAdmin)?.goneAt, null);
    });

    it('onboarding a finding makes it managed without another scan', async () => {
      const body = {
        username: roles.roleAdmin,
        safe: 'ops',
        reconcileAccount: `${TARGET}/${roles.scanner}`,
      };
      const onboarded = await server.api('POST', `/v1/targets/${TARGET}/accounts`, { body });
      assert.equal(onboarded.status, 201, JSON.stringify(onboarded.body));

      const unmanaged = await findings(server, '?unmanaged=true');
      assert.ok(!unmanaged.some((f) => f.username === roles.roleAdmin));
      const all = await findings(server, '');
      const found = all.find((f) => f.username === roles.roleAdmin);
      assert.deepEqual([found?.managed, found?.managedBy], [true, roles.roleAdmin]);
    });

    it('a scan the target refuses is a failed run, audited with its reason', async () => {
      const refused = await server.api<ErrorBody>('POST', `/v1/targets/${TARGET}/discovery`, {
        body: { scanner: `${TARGET}/wrongpw` },
      });

      assert.equal(refused.status, 502);
      assert.equal(refused.body.error.code, 'DISCOVERY_FAILED');
      assert.match(refused.body.error.message, /refused/);
      const runs = await server.api<{ runs: { state: string; error: string | null }[] }>(
        'GET',
        `/v1/discovery/runs?target=${TARGET}&limit=1`,
      );
      assert.equal(runs.body.runs[0]?.state, 'failed');
      assert.match(runs.body.runs[0]?.error ?? '', /refused/);
      const events = await auditOf(server, 'discovery.run');
      const failure = events.find((e) => e.outcome === 'failure');
      assert.match(String(failure?.details.error), /refused/);
      const success = events.find((e) => e.outcome === 'success');
      assert.equal(typeof success?.details.found, 'number');
      assert.equal(typeof success?.details.appeared, 'number');
      assert.equal(typeof success?.details.disappeared, 'number');
    });

    it('without a scanner to pick, the caller is asked for --scanner', async () => {
      const target = { name: 'pg-bare', platform: 'postgresql', host: '127.0.0.1', port: 9 };
      assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);

      const reply = await server.api<ErrorBody>('POST', '/v1/targets/pg-bare/discovery');

      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.code, 'VALIDATION_FAILED');
      assert.match(reply.body.error.message, /--scanner/);
    });

    it('only admins scan; auditors read the findings; others are refused', async () => {
      const suffix = randomBytes(3).toString('hex');
      const manager = await createUserWithToken(server, `mgr-${suffix}`, 'user');
      const permissions = ['list', 'use', 'retrieve', 'manage'];
      const member = `/v1/safes/ops/members/mgr-${suffix}`;
      assert.equal((await server.api('PUT', member, { body: { permissions } })).status, 200);
      const auditor = await createUserWithToken(server, `aud-${suffix}`, 'auditor');
      const path = `/v1/targets/${TARGET}/discovery`;

      const byManager = await server.api<ErrorBody>('POST', path, { token: manager, body: {} });
      assert.deepEqual([byManager.status, byManager.body.error.code], [403, 'FORBIDDEN']);
      const byAuditor = await server.api<ErrorBody>('POST', path, { token: auditor, body: {} });
      assert.deepEqual([byAuditor.status, byAuditor.body.error.code], [403, 'FORBIDDEN']);
      const list = await server.api('GET', '/v1/discovery', { token: manager });
      assert.equal(list.status, 403);
      assert.equal((await server.api('GET', '/v1/discovery', { token: auditor })).status, 200);
    });

    it('no secret reaches a reply, the audit trail or the log', async () => {
      const events = await server.api('GET', '/v1/audit/events?limit=1000');
      const text = JSON.stringify(events.body) + server.logText();
      for (const secret of secrets) assert.ok(!text.includes(secret), 'a secret leaked');
    });
  });
}

async function setUp(
  server: TestServer,
  cluster: PgCluster,
  secrets: string[],
  made: string[],
): Promise<Roles> {
  const roles: Roles = {
    scanner: uniqueRoleName('disc_rec'),
    superuser: uniqueRoleName('disc_su'),
    roleAdmin: uniqueRoleName('disc_cr'),
    plain: uniqueRoleName('disc_plain'),
  };
  const values = {
    scanner: password(),
    superuser: password(),
    roleAdmin: password(),
    plain: password(),
  };
  secrets.push(...Object.values(values), cluster.superuser.password);
  await cluster.createRole(roles.scanner, values.scanner, { createRole: true });
  await cluster.createRole(roles.superuser, values.superuser, { superuser: true });
  await cluster.createRole(roles.roleAdmin, values.roleAdmin, { createRole: true });
  await cluster.createRole(roles.plain, values.plain);
  made.push(...Object.values(roles));

  await expectCreated(server, '/v1/safes', { name: 'ops' });
  const target = { name: TARGET, platform: 'postgresql', host: cluster.host, port: cluster.port };
  await expectCreated(server, '/v1/targets', target);
  const onboard = (body: Record<string, string>) =>
    expectCreated(server, `/v1/targets/${TARGET}/accounts`, { safe: 'ops', ...body });
  await onboard({ username: roles.scanner, secret: values.scanner });
  await onboard({
    username: roles.superuser,
    secret: values.superuser,
    reconcileAccount: `${TARGET}/${roles.scanner}`,
  });
  // Onboarded with a password the cluster refuses: the scanner of the failure test.
  await onboard({ username: 'wrongpw', secret: password() });
  return roles;
}

async function expectCreated(server: TestServer, path: string, body: unknown): Promise<void> {
  const reply = await server.api('POST', path, { body });
  assert.equal(reply.status, 201, `POST ${path}: ${JSON.stringify(reply.body)}`);
}

async function scan(server: TestServer, body: { scanner?: string }): Promise<Summary> {
  const reply = await server.api<Summary>('POST', `/v1/targets/${TARGET}/discovery`, { body });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body;
}

async function findings(server: TestServer, query: string): Promise<Finding[]> {
  const reply = await server.api<{ findings: Finding[] }>('GET', `/v1/discovery${query}`);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.findings;
}

async function auditOf(server: TestServer, action: string) {
  const reply = await server.api<{
    events: { outcome: string; details: Record<string, unknown> }[];
  }>('GET', `/v1/audit/events?action=${action}&limit=1000`);
  assert.equal(reply.status, 200);
  return reply.body.events;
}
