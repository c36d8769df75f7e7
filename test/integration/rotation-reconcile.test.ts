/**
 * Reconcile accounts on a real MariaDB and a real slapd, as a bulk run meets them: the reconcile
 * account is rotated in the same run as the accounts it changes, and one login must not be
 * onboarded twice under two names (F08 c: never an account's own reconcile account).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type ApiCall,
  expectStatus,
  getAccount,
  ldapFixture,
  mariadbFixture,
  onboard,
  reveal,
  setUpSafe,
} from '../support/crash-rig.ts';
import { useSharedMariadb } from '../support/mariadb.ts';
import { useSlapd } from '../support/slapd.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const ACCOUNTS = 8;
const RUNS = 3;
const POLL_MS = 100;
const RUN_TIMEOUT_MS = 60_000;

interface RunView {
  readonly state: string;
  readonly succeeded: number;
  readonly failed: number;
  readonly failures?: readonly { readonly error: string | null }[];
}

describe('reconcile accounts on MariaDB and LDAP', () => {
  const mariadb = useSharedMariadb();
  const slapd = useSlapd();
  let server: TestServer;
  const api: ApiCall = (method, path, options) => server.api(method, path, options);

  before(async () => {
    server = await startTestServer();
    await setUpSafe(api);
  });
  after(async () => {
    await server?.stop();
  });

  it('a bulk run that rotates the reconcile account with its accounts fails none', async () => {
    const fixture = mariadbFixture(mariadb);
    const { port } = fixture.upstream();
    await expectStatus(api, 'POST', '/v1/targets', fixture.target('mdb-race', port), 201);
    const reconciler = await fixture.createReconciler();
    await onboard(api, 'mdb-race', { username: reconciler.username, secret: reconciler.password });
    const reconcileAccount = `mdb-race/${reconciler.username}`;
    const paths: string[] = [];
    const usernames: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const account = await fixture.createAccount('race');
      const body = { username: account.username, secret: account.password, reconcileAccount };
      paths.push(await onboard(api, 'mdb-race', body));
      usernames.push(account.username);
    }

    for (let run = 1; run <= RUNS; run++) {
      const finished = await bulkRun(api, { target: 'mdb-race' });
      assert.deepEqual(
        [finished.succeeded, finished.failed],
        [ACCOUNTS + 1, 0],
        `run ${run}: ${JSON.stringify(finished.failures ?? [])}`,
      );
    }
    for (const [index, path] of paths.entries()) {
      const revealed = await reveal(api, path);
      assert.equal(await fixture.logsIn(usernames[index] ?? '', revealed.value), true);
    }
    const recPath = `/v1/targets/mdb-race/accounts/${encodeURIComponent(reconciler.username)}`;
    const rec = await reveal(api, recPath);
    assert.equal(await fixture.logsIn(reconciler.username, rec.value), true);
  });

  it('refuses a second account for one MariaDB login, and a reconcile alias', async () => {
    const fixture = mariadbFixture(mariadb);
    const { port } = fixture.upstream();
    await expectStatus(api, 'POST', '/v1/targets', fixture.target('mdb-alias', port), 201);
    const reconciler = await fixture.createReconciler();
    await onboard(api, 'mdb-alias', { username: reconciler.username, secret: reconciler.password });
    const account = await fixture.createAccount('alias');
    await onboard(api, 'mdb-alias', { username: account.username, secret: account.password });

    // `name@127.0.0.1` is one of the rows `name` already covers.
    const twice = await api<{ error: { code: string; message: string } }>(
      'POST',
      '/v1/targets/mdb-alias/accounts',
      { body: { username: `${account.username}@127.0.0.1`, safe: 'ops', secret: 'x-Value-1' } },
    );
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error.code, 'ALREADY_EXISTS');
    assert.match(twice.body.error.message, /already covers/);

    // The reconcile account itself, named by one of its rows, cannot be changed through itself.
    const self = await api<{ error: { code: string } }>('POST', '/v1/targets/mdb-alias/accounts', {
      body: {
        username: `${reconciler.username}@127.0.0.1`,
        safe: 'ops',
        reconcileAccount: `mdb-alias/${reconciler.username}`,
      },
    });
    assert.equal(self.body.error.code, 'VALIDATION_FAILED');
    const list = await api<{ accounts: unknown[] }>('GET', '/v1/accounts?target=mdb-alias');
    assert.equal(list.body.accounts.length, 2, 'nothing was onboarded');
  });

  it('refuses an LDAP account that is the reconcile DN written another way', async () => {
    const fixture = ldapFixture(slapd);
    const { port } = fixture.upstream();
    await expectStatus(api, 'POST', '/v1/targets', fixture.target('dir-alias', port), 201);
    const reconciler = await fixture.createReconciler();
    await onboard(api, 'dir-alias', { username: reconciler.username, secret: reconciler.password });
    const respaced = reconciler.username.replaceAll(',', ', ').toUpperCase();
    assert.notEqual(respaced, reconciler.username);

    const self = await api<{ error: { code: string } }>('POST', '/v1/targets/dir-alias/accounts', {
      body: {
        username: respaced,
        safe: 'ops',
        reconcileAccount: `dir-alias/${reconciler.username}`,
      },
    });
    assert.equal(self.body.error.code, 'VALIDATION_FAILED', JSON.stringify(self.body));
    const path = `/v1/targets/dir-alias/accounts/${encodeURIComponent(reconciler.username)}`;
    assert.equal((await getAccount(api, path)).currentVersion, 1);
  });
});

async function bulkRun(api: ApiCall, scope: Record<string, unknown>): Promise<RunView> {
  const started = await api<{ id: string }>('POST', '/v1/rotation/runs', { body: scope });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const run = await api<RunView>('GET', `/v1/rotation/runs/${started.body.id}`);
    if (run.body.state !== 'running') return run.body;
    if (Date.now() > deadline) assert.fail(`run still running: ${JSON.stringify(run.body)}`);
    await delay(POLL_MS);
  }
}
