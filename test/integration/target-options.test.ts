/**
 * Target options through the HTTP API, on both stores, and against a throw-away SCRAM cluster on
 * 127.0.0.1: options are checked in the route and again in the service, shown without the
 * certificate text, changed with PUT, and honoured by the connector. sslmode=require fails with a
 * clear reason while the cluster serves no TLS, and works once it serves TLS with certificates
 * made for the test with openssl.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Client, escapeLiteral } from 'pg';
import { SYSTEM_CONTEXT } from '../../src/audit/event.ts';
import { MAX_ROOT_CERT_LENGTH } from '../../src/connectors/tls-options.ts';
import { TesseraError } from '../../src/errors.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { STORE_KINDS, type StoreKind } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const execFileAsync = promisify(execFile);

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

interface TargetView {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
  readonly options: {
    readonly sslmode?: string;
    readonly sslrootcertSet?: boolean;
    readonly allowMd5Auth?: boolean;
  };
}

interface Certificates {
  readonly ca: string;
  readonly otherCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const address = { platform: 'postgresql', host: '127.0.0.1', port: 9 };
const TLS_READY_TIMEOUT_MS = 10_000;

let certificates: Certificates | undefined;
let certDir = '';

before(async () => {
  certDir = await mkdtemp(path.join(tmpdir(), 'tessera-certs-'));
  // .ci/run installs openssl; without it these tests fail rather than pass by skipping.
  certificates = await makeCertificates(certDir);
});
after(async () => {
  await rm(certDir, { recursive: true, force: true });
});

const certs = (): Certificates => {
  if (certificates === undefined) throw new Error('openssl made no certificates');
  return certificates;
};

for (const store of STORE_KINDS) describeOptions(store);
describeConnector();

function describeOptions(store: StoreKind): void {
  describe(`target options with Tessera's store on ${store}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ store });
    });
    after(async () => {
      await server?.stop();
    });

    it('a target made without options says it is reached without TLS', async () => {
      const created = await server.api<TargetView>('POST', '/v1/targets', {
        body: { name: unique('plain'), ...address },
      });
      assert.equal(created.status, 201);
      assert.deepEqual(created.body.options, {
        sslmode: 'disable',
        sslrootcertSet: false,
        allowMd5Auth: false,
      });
    });

    it('options are kept and shown, the certificate text never', async () => {
      const name = unique('tls');
      const options = { sslmode: 'verify-full', sslrootcert: certs().ca, allowMd5Auth: true };
      const created = await server.api<TargetView>('POST', '/v1/targets', {
        body: { name, ...address, options },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const expected = { sslmode: 'verify-full', sslrootcertSet: true, allowMd5Auth: true };
      assert.deepEqual(created.body.options, expected);

      const shown = await server.api<TargetView>('GET', `/v1/targets/${name}`);
      assert.deepEqual(shown.body.options, expected);
      const listed = await server.api('GET', '/v1/targets');
      const events = await server.api('GET', '/v1/audit/events?action=target.&limit=1000');
      const certBody = certs().ca.split('\n')[1] ?? '';
      for (const text of [shown.body, listed.body, events.body].map((b) => JSON.stringify(b))) {
        assert.ok(!text.includes(certBody), 'the certificate text left the server');
      }
      assert.ok(!server.logText().includes(certBody), 'the certificate text is in the log');
      assert.match(JSON.stringify(events.body), /"sslmode":"verify-full"/);
    });

    it('refuses bad options, naming the option and never echoing a value', async () => {
      for (const [options, option] of badOptions()) {
        const reply = await server.api<ErrorBody>('POST', '/v1/targets', {
          body: { name: unique('bad'), ...address, options },
        });
        const label = `${JSON.stringify(options).slice(0, 80)}: ${JSON.stringify(reply.body)}`;
        assert.equal(reply.status, 400, label);
        assert.equal(reply.body.error.code, 'VALIDATION_FAILED', label);
        assert.ok(reply.body.error.message.includes(option), label);
        assert.ok(!reply.body.error.message.includes('MII'), 'a certificate body was echoed');
      }
    });

    it('the service checks the platform options whoever calls it', async () => {
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ sslmod: 'require' }, 'sslmod'],
        [{ sslmode: 'prefer' }, 'sslmode'],
        [{ allowMd5Auth: 'true' }, 'allowMd5Auth'],
        [{ sslmode: 'require', sslrootcert: PEM_SHAPED_GARBAGE }, 'sslrootcert'],
      ];
      for (const [options, option] of cases) {
        const attempt = server.services.targets.create(SYSTEM_CONTEXT, {
          name: unique('svc'),
          ...address,
          options,
        });
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof TesseraError);
          assert.equal(error.code, 'VALIDATION_FAILED');
          assert.equal(error.details?.option, option);
          return true;
        });
      }
    });

    it('PUT changes host, port, database and options; what is not named stays', async () => {
      const name = unique('upd');
      const path = `/v1/targets/${name}`;
      const options = { sslmode: 'verify-ca', sslrootcert: certs().ca };
      await server.api('POST', '/v1/targets', { body: { name, ...address, options } });

      const moved = await server.api<TargetView>('PUT', path, {
        body: { host: 'db.example.test', port: 6432, database: 'app' },
      });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual(
        [moved.body.host, moved.body.port, moved.body.database, moved.body.options.sslrootcertSet],
        ['db.example.test', 6432, 'app', true],
      );
      const stronger = await server.api<TargetView>('PUT', path, {
        body: { options: { sslmode: 'verify-full', allowMd5Auth: true } },
      });
      assert.deepEqual(stronger.body.options, {
        sslmode: 'verify-full',
        sslrootcertSet: true,
        allowMd5Auth: true,
      });
      const stored = await server.services.targets.byName(name);
      assert.equal(stored.options.sslrootcert, certs().ca, 'the certificate was kept as sent');

      const reset = await server.api<TargetView>('PUT', path, {
        body: { database: null, options: { sslmode: null, sslrootcert: null, allowMd5Auth: null } },
      });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      assert.equal(reset.body.database, null);
      assert.deepEqual(reset.body.options, {
        sslmode: 'disable',
        sslrootcertSet: false,
        allowMd5Auth: false,
      });
      const events = await server.api<{ events: { details: Record<string, unknown> }[] }>(
        'GET',
        '/v1/audit/events?action=target.update&limit=1000',
      );
      const changed = events.body.events.map((e) => e.details.changed);
      assert.ok(changed.includes('host,port,database') && changed.includes('database,options'));
    });

    it('PUT refuses no change, a bad option, a certificate downgrade, no target', async () => {
      const name = unique('upd');
      const options = { sslmode: 'verify-full', sslrootcert: certs().ca };
      await server.api('POST', '/v1/targets', { body: { name, ...address, options } });
      const cases: ReadonlyArray<readonly [string, unknown, number, string]> = [
        [name, {}, 400, 'VALIDATION_FAILED'],
        [name, { options: { sslmode: 'allow' } }, 400, 'VALIDATION_FAILED'],
        [name, { options: { sslmode: 'require' } }, 400, 'VALIDATION_FAILED'],
        [name, { options: { tls: true } }, 400, 'VALIDATION_FAILED'],
        [name, { platform: 'mysql' }, 400, 'VALIDATION_FAILED'],
        ['no-such-target', { port: 5432 }, 404, 'NOT_FOUND'],
      ];
      for (const [target, body, status, code] of cases) {
        const reply = await server.api<ErrorBody>('PUT', `/v1/targets/${target}`, { body });
        assert.equal(reply.status, status, JSON.stringify([body, reply.body]));
        assert.equal(reply.body.error.code, code);
      }
      const shown = await server.api<TargetView>('GET', `/v1/targets/${name}`);
      assert.equal(shown.body.options.sslmode, 'verify-full', 'a refused change changed nothing');
    });
  });
}

function describeConnector(): void {
  describe('the PostgreSQL connector honours the options', () => {
    const cluster = usePgCluster();
    let server: TestServer;

    // The roles made here go with the throw-away cluster.
    before(async () => {
      server = await startTestServer();
      assert.equal((await server.api('POST', '/v1/safes', { body: { name: 'ops' } })).status, 201);
    });
    after(async () => {
      await server?.stop();
    });

    /** A target on the cluster with these options, and an account on it that logs in. */
    const accountWith = async (options: Record<string, unknown>) => {
      const pg = cluster();
      const target = unique('pg');
      const role = uniqueRoleName('tls');
      const password = `Init-${randomBytes(12).toString('base64url')}`;
      await pg.createRole(role, password);
      const body = { name: target, platform: 'postgresql', host: pg.host, port: pg.port, options };
      const created = await server.api('POST', '/v1/targets', { body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const account = { username: role, safe: 'ops', secret: password };
      const onboarded = await server.api('POST', `/v1/targets/${target}/accounts`, {
        body: account,
      });
      assert.equal(onboarded.status, 201, JSON.stringify(onboarded.body));
      return { role, path: `/v1/targets/${target}/accounts/${role}` };
    };
    const verify = (accountPath: string) =>
      server.api<{ valid: boolean; detail: string }>('POST', `${accountPath}/verify`);

    it('without TLS on the server, sslmode require fails with a clear reason', async () => {
      const { path: accountPath } = await accountWith({ sslmode: 'require' });
      const result = await verify(accountPath);
      assert.equal(result.body.valid, false);
      assert.match(result.body.detail, /^unreachable: .*does not support SSL/);
      const plain = await accountWith({});
      assert.deepEqual((await verify(plain.path)).body, { valid: true, detail: 'valid' });
    });

    describe('once the cluster serves TLS', () => {
      before(async () => {
        if (certificates !== undefined) await serveTls(cluster(), certs());
      });

      it('require and verify-full with the right CA log in over TLS', async () => {
        for (const options of [
          { sslmode: 'require' },
          { sslmode: 'verify-ca', sslrootcert: certs().ca },
          { sslmode: 'verify-full', sslrootcert: certs().ca },
        ]) {
          const account = await accountWith(options);
          const result = await verify(account.path);
          assert.deepEqual(result.body, { valid: true, detail: 'valid' }, options.sslmode);
          const authorised = new RegExp(
            `connection authorized: user=${account.role} .*SSL enabled`,
          );
          assert.match(cluster().readLog(), authorised, 'the session used TLS');
        }
      });

      it('verify-full refuses a server whose certificate another CA signed', async () => {
        for (const options of [
          { sslmode: 'verify-full', sslrootcert: certs().otherCa },
          { sslmode: 'verify-full' },
        ]) {
          const account = await accountWith(options);
          const result = await verify(account.path);
          assert.equal(result.body.valid, false);
          assert.match(result.body.detail, /^unreachable: .*certificate/i);
          assert.doesNotMatch(cluster().readLog(), new RegExp(`user=${account.role}`));
        }
      });

      it('a rotation over verify-full works end to end', async () => {
        const account = await accountWith({ sslmode: 'verify-full', sslrootcert: certs().ca });
        const rotated = await server.api<{ version: number }>('POST', `${account.path}/rotate`);
        assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
        assert.equal(rotated.body.version, 2);
        assert.deepEqual((await verify(account.path)).body, { valid: true, detail: 'valid' });
      });
    });
  });
}

/** Bad options and the option each error must name. */
function badOptions(): ReadonlyArray<readonly [Record<string, unknown>, string]> {
  const pemBlock = certificates?.ca ?? PEM_SHAPED_GARBAGE;
  return [
    [{ sslmod: 'require' }, 'sslmod'],
    [{ sslmode: 'prefer' }, 'sslmode'],
    [{ sslmode: 'REQUIRE' }, 'sslmode'],
    [{ sslmode: null }, 'sslmode'],
    [{ allowMd5Auth: 'yes' }, 'allowMd5Auth'],
    [{ sslmode: 'verify-full', sslrootcert: 'not a certificate' }, 'sslrootcert'],
    [{ sslmode: 'verify-full', sslrootcert: PEM_SHAPED_GARBAGE }, 'sslrootcert'],
    [{ sslmode: 'verify-full', sslrootcert: PRIVATE_KEY_SHAPE }, 'sslrootcert'],
    [{ sslmode: 'verify-full', sslrootcert: `${pemBlock}\ntrailing text` }, 'sslrootcert'],
    [{ sslmode: 'verify-full', sslrootcert: tooLarge(pemBlock) }, 'sslrootcert'],
    [{ sslmode: 'verify-full', sslrootcert: 42 }, 'sslrootcert'],
    [{ sslmode: 'require', sslrootcert: pemBlock }, 'sslrootcert'],
    [{ sslmode: 'disable', sslrootcert: pemBlock }, 'sslrootcert'],
  ];
}

/** Whole certificates, one more than fits under the limit. */
function tooLarge(pem: string): string {
  return pem.repeat(Math.floor(MAX_ROOT_CERT_LENGTH / pem.length) + 1);
}

/** The shape of a PEM certificate around bytes that are not one. */
const PEM_SHAPED_GARBAGE = `-----BEGIN CERTIFICATE-----
${Buffer.from('this is not DER at all, only text').toString('base64')}
-----END CERTIFICATE-----
`;
const PRIVATE_KEY_SHAPE = `-----BEGIN PRIVATE KEY-----
${Buffer.from('a private key would never belong here').toString('base64')}
-----END PRIVATE KEY-----
`;

/** A CA, a server certificate it signed for 127.0.0.1, and an unrelated second CA. */
async function makeCertificates(dir: string): Promise<Certificates> {
  const file = (name: string) => path.join(dir, name);
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  for (const ca of ['ca', 'other-ca']) {
    const out = ['-keyout', file(`${ca}.key`), '-out', file(`${ca}.crt`)];
    await openssl(['req', '-x509', ...key, ...out, '-subj', `/CN=Tessera test ${ca}`]);
  }
  await openssl([
    ...['req', '-x509', ...key, '-keyout', file('server.key'), '-out', file('server.crt')],
    ...['-subj', '/CN=127.0.0.1', '-CA', file('ca.crt'), '-CAkey', file('ca.key')],
    ...['-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE'],
  ]);
  const read = (name: string) => readFile(file(name), 'utf8');
  return {
    ca: await read('ca.crt'),
    otherCa: await read('other-ca.crt'),
    serverCert: await read('server.crt'),
    serverKey: await read('server.key'),
  };
}

async function openssl(args: readonly string[]): Promise<void> {
  await execFileAsync('openssl', [...args], { env: { PATH: '/usr/bin:/bin' } });
}

/**
 * Switches TLS on in the running cluster. The files go into its data directory, owned by the
 * account the server runs as and mode 0600, as PostgreSQL insists for a private key.
 */
async function serveTls(pg: PgCluster, files: Certificates): Promise<void> {
  const shown = await pg.query('SHOW data_directory');
  const dataDir = String(shown.rows[0]?.data_directory);
  const certFile = path.join(dataDir, 'tessera-test-server.crt');
  const keyFile = path.join(dataDir, 'tessera-test-server.key');
  await writeServerFile(dataDir, certFile, files.serverCert);
  await writeServerFile(dataDir, keyFile, files.serverKey);
  await pg.query(`ALTER SYSTEM SET ssl_cert_file = ${escapeLiteral(certFile)}`);
  await pg.query(`ALTER SYSTEM SET ssl_key_file = ${escapeLiteral(keyFile)}`);
  await pg.query('ALTER SYSTEM SET ssl = on');
  await pg.query('SELECT pg_reload_conf()');
  await waitForTls(pg);
}

async function writeServerFile(dataDir: string, file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600, flag: 'wx' });
  const owner = await stat(dataDir);
  await chown(file, owner.uid, owner.gid);
}

/** The reload is asynchronous, and `SHOW ssl` says on even when the files were refused. */
async function waitForTls(pg: PgCluster): Promise<void> {
  const deadline = Date.now() + TLS_READY_TIMEOUT_MS;
  for (;;) {
    const probe = new Client({
      host: pg.host,
      port: pg.port,
      user: pg.superuser.username,
      password: pg.superuser.password,
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    probe.on('error', () => undefined); // a failed attempt surfaces through connect()
    try {
      await probe.connect();
      await probe.end();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error('the cluster did not switch TLS on', { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
