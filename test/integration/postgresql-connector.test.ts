/**
 * The PostgreSQL connector against a throw-away cluster on 127.0.0.1 (see test/support), plus
 * small protocol mocks on loopback for servers that stay silent or ask for weak authentication.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Client, escapeIdentifier, escapeLiteral } from 'pg';
import type {
  ChangeOutcome,
  ChangeRequest,
  Credential,
  TargetAddress,
  TargetOptions,
  VerifyOutcome,
} from '../../src/connectors/connector.ts';
import {
  createPostgresqlConnector,
  ScramVerifierError,
  scramSha256Verifier,
} from '../../src/connectors/postgresql.ts';
import { freePort, type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';

// pg completes missing connection settings from PG* variables and then localhost:5432, where
// this machine runs a PostgreSQL that tests must never reach. Should a guard ever regress, the
// fallback lands on a closed loopback port instead.
process.env.PGHOST = '127.0.0.1';
process.env.PGPORT = String(await freePort());

const connector = createPostgresqlConnector();
const cluster = usePgCluster();

interface Role {
  readonly name: string;
  readonly password: string;
}

/** Every value any test rotated to; the log test searches the server log for each. */
const rotated: string[] = [];

function targetOf(c: PgCluster, options: TargetOptions = {}): TargetAddress {
  return { name: 'test-pg', host: c.host, port: c.port, options };
}

/** Meets passwordcheck's rules (length, letters and non-letters) for plaintext setup. */
function initialPassword(): string {
  return `Init-${randomBytes(12).toString('base64url')}`;
}

async function newRole(t: TestContext, prefix: string, c: PgCluster = cluster(), opts = {}) {
  const role: Role = { name: uniqueRoleName(prefix), password: initialPassword() };
  await c.createRole(role.name, role.password, opts);
  t.after(() => c.dropRole(role.name));
  return role;
}

/** A change as the rotation engine sends it; tests name only what they vary. */
function changeRequest(
  fields: Pick<ChangeRequest, 'account' | 'newSecret' | 'logon'>,
): ChangeRequest {
  return {
    ...fields,
    secretKind: 'password',
    currentSecret: null,
    via: fields.logon.username === fields.account ? 'self' : 'reconcile',
  };
}

async function changeOwn(c: PgCluster, role: Role, newSecret: string): Promise<ChangeOutcome> {
  const logon = { username: role.name, secret: role.password };
  return connector.change(targetOf(c), changeRequest({ account: role.name, newSecret, logon }));
}

async function verifyOn(c: PgCluster, username: string, secret: string): Promise<VerifyOutcome> {
  return connector.verify(targetOf(c), { username, secret });
}

function assertNoSecretIn(outcome: ChangeOutcome | VerifyOutcome, secrets: readonly string[]) {
  if (!('reason' in outcome)) return;
  for (const secret of secrets) {
    assert.ok(!outcome.reason.includes(secret), 'a reason quotes a secret');
  }
}

// ---------------------------------------------------------------------------------------------

describe('verify', () => {
  test('a working credential is valid; a wrong one and an unknown role are alike', async (t) => {
    const role = await newRole(t, 'verify');

    assert.deepEqual(await verifyOn(cluster(), role.name, role.password), { kind: 'valid' });
    const wrong = await verifyOn(cluster(), role.name, `${role.password}x`);
    const unknown = await verifyOn(cluster(), uniqueRoleName('nobody'), role.password);

    assert.equal(wrong.kind, 'invalid');
    // The verdict must not tell an unknown account from a wrong secret.
    assert.deepEqual(unknown, wrong);
    assertNoSecretIn(wrong, [role.password]);
  });

  test('a closed port on 127.0.0.1 is unreachable', async () => {
    const port = await freePort();
    const target = { ...targetOf(cluster()), port };
    const outcome = await connector.verify(target, { username: 'x', secret: 'Not-Sent-1' });
    assert.equal(outcome.kind, 'unreachable');
    assert.match(outcome.kind === 'unreachable' ? outcome.reason : '', /ECONNREFUSED/);
  });

  test('settings pg would complete from defaults are refused without connecting', async () => {
    // An empty value would make pg fall back to PG* variables or localhost:5432.
    const credential: Credential = { username: 'x', secret: 'Not-Sent-2' };
    const cases: [Partial<TargetAddress>, string][] = [
      [{ host: '' }, 'the target has no host'],
      [{ port: 0 }, 'the target port is not a TCP port number'],
      [{ port: 70_000 }, 'the target port is not a TCP port number'],
      [{ port: 1.5 }, 'the target port is not a TCP port number'],
    ];
    for (const [change, reason] of cases) {
      const outcome = await connector.verify({ ...targetOf(cluster()), ...change }, credential);
      assert.deepEqual(outcome, { kind: 'unreachable', reason });
    }
    const empty = await verifyOn(cluster(), 'x', '');
    assert.deepEqual(empty, { kind: 'invalid', reason: 'the secret is empty or contains NUL' });
  });

  test('sslmode: require fails without TLS on the server; unknown modes fail', async (t) => {
    const role = await newRole(t, 'ssl');
    const credential = { username: role.name, secret: role.password };
    const require = await connector.verify(targetOf(cluster(), { sslmode: 'require' }), credential);
    const bogus = await connector.verify(targetOf(cluster(), { sslmode: 'prefer' }), credential);
    const disable = await connector.verify(targetOf(cluster(), { sslmode: 'disable' }), credential);

    assert.equal(require.kind, 'unreachable');
    assert.deepEqual(bogus, {
      kind: 'unreachable',
      reason: 'unsupported sslmode (use disable, require, verify-ca or verify-full)',
    });
    assert.deepEqual(disable, { kind: 'valid' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('change (F02, F04)', () => {
  const sentinel = uniqueRoleName('app_rw');
  const values = [
    'Xy9$',
    'ab$$c',
    "it's",
    "x';DROP ROLE app_rw;--",
    `x';DROP ROLE ${sentinel};--`,
    '$$;DROP ROLE app_rw;$$',
    'back\\slash',
    'Ab\\9xY-7q',
    'k\\n0',
    "a\\'b",
    'say "hi"',
    "E'\\x41'",
    'tab\there',
    ' spaced out ',
    'Grüße-Ωmega',
    'caf\u00e9-precomposed',
    'cafe\u0301-decomposed',
  ];

  before(() => cluster().createRole(sentinel, null, { login: false }));
  after(() => cluster().dropRole(sentinel));

  for (const value of values) {
    test(`to ${JSON.stringify(value)}: exactly this value logs in, the old one not`, async (t) => {
      const role = await newRole(t, 'f02');
      rotated.push(value);

      const outcome = await changeOwn(cluster(), role, value);

      assert.deepEqual(outcome, { kind: 'applied' });
      assert.deepEqual(await verifyOn(cluster(), role.name, value), { kind: 'valid' });
      assert.equal((await verifyOn(cluster(), role.name, role.password)).kind, 'invalid');
      // libpq (psql) is the reference client: it must accept exactly the vault's bytes too.
      assert.equal(await cluster().loginWithPsql(role.name, value), true);
      await assertStoredVerifier(role.name);
    });
  }

  test('the injection sentinel still exists', async () => {
    const found = await cluster().query('SELECT 1 FROM pg_roles WHERE rolname = $1', [sentinel]);
    assert.equal(found.rowCount, 1);
  });

  test('a role whose name needs quoting', async (t) => {
    const role = await newRole(t, 'Tessera "Ops" App');
    const value = 'Quoted-Role-1"';
    rotated.push(value);

    assert.deepEqual(await changeOwn(cluster(), role, value), { kind: 'applied' });
    assert.deepEqual(await verifyOn(cluster(), role.name, value), { kind: 'valid' });
  });

  test('a reconcile account with CREATEROLE changes another role', async (t) => {
    const admin = await newRole(t, 'reconcile', cluster(), { createRole: true });
    const role = await newRole(t, 'managed');
    const value = `Reconciled-${randomBytes(6).toString('hex')}`;
    rotated.push(value);

    const logon = { username: admin.name, secret: admin.password };
    const outcome = await connector.change(
      targetOf(cluster()),
      changeRequest({
        account: role.name,
        newSecret: value,
        logon,
      }),
    );

    assert.deepEqual(outcome, { kind: 'applied' });
    assert.deepEqual(await verifyOn(cluster(), role.name, value), { kind: 'valid' });
    assert.deepEqual(await verifyOn(cluster(), admin.name, admin.password), { kind: 'valid' });
  });
});

async function assertStoredVerifier(role: string): Promise<void> {
  const stored = await cluster().query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
    role,
  ]);
  assert.match(String(stored.rows[0]?.rolpassword), /^SCRAM-SHA-256\$4096:[^$]+\$[^:]+:.+$/);
}

// ---------------------------------------------------------------------------------------------

describe('change: refusals and ambiguous outcomes (F05)', () => {
  test('a refused logon is rejected and says so', async (t) => {
    const role = await newRole(t, 'logon');
    const newSecret = 'Never-Applied-1';
    const logon = { username: role.name, secret: 'Wrong-Logon-1' };

    const outcome = await connector.change(
      targetOf(cluster()),
      changeRequest({
        account: role.name,
        newSecret,
        logon,
      }),
    );

    assert.equal(outcome.kind, 'not-sent');
    assert.match(outcome.kind === 'not-sent' ? outcome.reason : '', /logon credential was refused/);
    assertNoSecretIn(outcome, [newSecret, logon.secret]);
    assert.deepEqual(await verifyOn(cluster(), role.name, role.password), { kind: 'valid' });
  });

  test('insufficient privilege (42501) is a definite rejection', async (t) => {
    const weak = await newRole(t, 'weak');
    const other = await newRole(t, 'other');
    const newSecret = 'Never-Applied-2';

    const outcome = await connector.change(
      targetOf(cluster()),
      changeRequest({
        account: other.name,
        newSecret,
        logon: { username: weak.name, secret: weak.password },
      }),
    );

    assert.equal(outcome.kind, 'rejected');
    assert.match(outcome.kind === 'rejected' ? outcome.reason : '', /SQLSTATE 42501/);
    assertNoSecretIn(outcome, [newSecret, weak.password]);
    assert.deepEqual(await verifyOn(cluster(), other.name, other.password), { kind: 'valid' });
  });

  test('a session dropped after the change was sent is unknown', async (t) => {
    const role = await newRole(t, 'dropped');
    const newSecret = 'Maybe-Applied-1';
    const holder = await superuserClient(cluster());
    t.after(() => holder.end());

    // Hold the role's catalog row so the connector's ALTER ROLE waits, then cut its session.
    await holder.query('BEGIN');
    await holder.query(`ALTER ROLE ${escapeIdentifier(role.name)} CONNECTION LIMIT 5`);
    const pending = changeOwn(cluster(), role, newSecret);
    const pid = await waitingBackend(role.name);
    await cluster().query('SELECT pg_terminate_backend($1)', [pid]);
    const outcome = await pending;
    await holder.query('ROLLBACK');

    assert.equal(outcome.kind, 'unknown');
    assertNoSecretIn(outcome, [newSecret, role.password]);
    // Settling by login finds the old value still in force.
    assert.deepEqual(await verifyOn(cluster(), role.name, role.password), { kind: 'valid' });
  });

  const refusedBeforeSending: [string, string][] = [
    ['an empty value', ''],
    ['a NUL character', 'nul\u0000byte'],
    ['a lone surrogate', 'half\ud800'],
    ['a value over 1 KiB', 'x'.repeat(1025)],
    ['Thai letters, whose SASLprep outcome is not known here', 'Thai-\u0e01\u0e02'],
    ['a mix PostgreSQL keeps raw but pg would normalise', '\u00e9\u0007e\u0301-mixed'],
  ];
  for (const [name, newSecret] of refusedBeforeSending) {
    test(`a value with ${name} is rejected before the target is touched`, async (t) => {
      const role = await newRole(t, 'local');
      const outcome = await changeOwn(cluster(), role, newSecret);
      assert.equal(outcome.kind, 'rejected');
      assertNoSecretIn(outcome, newSecret.length > 0 ? [newSecret] : []);
      // The role never had a session: nothing was sent to the server at all.
      assert.equal(cluster().readLog().includes(`user=${role.name} `), false);
      assert.deepEqual(await verifyOn(cluster(), role.name, role.password), { kind: 'valid' });
    });
  }

  test('an account name PostgreSQL would truncate is rejected', async (t) => {
    const role = await newRole(t, 'long');
    const outcome = await connector.change(
      targetOf(cluster()),
      changeRequest({
        account: `${role.name}${'x'.repeat(64)}`,
        newSecret: 'Never-Applied-3',
        logon: { username: role.name, secret: role.password },
      }),
    );
    assert.equal(outcome.kind, 'rejected');
  });
});

async function superuserClient(c: PgCluster): Promise<Client> {
  const client = new Client({
    host: c.host,
    port: c.port,
    user: c.superuser.username,
    password: c.superuser.password,
    database: 'postgres',
    options: '-c log_statement=none',
  });
  client.on('error', () => {
    // Errors reach the awaiting query; nothing else listens.
  });
  await client.connect();
  return client;
}

async function waitingBackend(role: string): Promise<number> {
  const sql = `SELECT pid FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'`;
  for (let i = 0; i < 200; i++) {
    const found = await cluster().query(sql, [role]);
    const pid = found.rows[0]?.pid;
    if (typeof pid === 'number') return pid;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the connector never waited on the lock');
}

// ---------------------------------------------------------------------------------------------

describe('servers that misbehave', () => {
  test('a server that never answers: verify is unreachable, change is rejected', {
    timeout: 30_000,
  }, async (t) => {
    const mock = await startMock(() => {
      // Accept and stay silent.
    });
    t.after(() => mock.close());
    const target = { ...targetOf(cluster()), port: mock.port };
    const credential = { username: 'silent', secret: 'Silent-Secret-1' };

    const [verified, changed] = await Promise.all([
      connector.verify(target, credential),
      connector.change(
        target,
        changeRequest({ account: 'silent', newSecret: 'Silent-New-1', logon: credential }),
      ),
    ]);

    assert.equal(verified.kind, 'unreachable');
    assert.equal(changed.kind, 'not-sent');
    assert.match(changed.kind === 'not-sent' ? changed.reason : '', /nothing was changed/);
  });

  const weakRequests: [string, Buffer][] = [
    ['cleartext password', authRequest(3)],
    ['MD5', authRequest(5, randomBytes(4))],
  ];
  for (const [method, request] of weakRequests) {
    test(`a server asking for ${method} authentication never receives the secret`, async (t) => {
      const mock = await startMock(answerWith(request));
      t.after(() => mock.close());
      const secret = 'Weak-Auth-Secret-1';

      const target = { ...targetOf(cluster()), port: mock.port };
      const outcome = await connector.verify(target, { username: 'victim', secret });

      assert.equal(outcome.kind, 'unreachable');
      assert.match(outcome.kind === 'unreachable' ? outcome.reason : '', new RegExp(method));
      assert.equal(mock.received().includes(Buffer.from(secret)), false);
    });
  }

  test('MD5 may be allowed per target; the secret still never travels', async (t) => {
    const mock = await startMock(answerWith(authRequest(5, randomBytes(4))));
    t.after(() => mock.close());
    const secret = 'Md5-Allowed-Secret-1';

    const target = { ...targetOf(cluster(), { allowMd5Auth: true }), port: mock.port };
    const outcome = await connector.verify(target, { username: 'legacy', secret });

    assert.equal(outcome.kind, 'invalid');
    assert.ok(mock.received().includes(Buffer.from('md5')));
    assert.equal(mock.received().includes(Buffer.from(secret)), false);
  });
});

interface Mock {
  readonly port: number;
  received(): Buffer;
  close(): Promise<void>;
}

async function startMock(onData: (socket: Socket, data: Buffer) => void): Promise<Mock> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {
      // The client hangs up abruptly by design in these tests.
    });
    socket.on('data', (data) => {
      chunks.push(data);
      onData(socket, data);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no mock address');

  return {
    port: address.port,
    received: () => Buffer.concat(chunks),
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Answers the startup message with `request`, and any password message with a 28P01 error. */
function answerWith(request: Buffer): (socket: Socket, data: Buffer) => void {
  let asked = false;
  return (socket, data) => {
    if (!asked) {
      asked = true;
      socket.write(request);
    } else if (data[0] === 0x70) {
      socket.end(errorResponse('28P01', 'password authentication failed'));
    }
  };
}

function authRequest(code: number, salt: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(8);
  body.writeInt32BE(8 + salt.length, 0);
  body.writeInt32BE(code, 4);
  return Buffer.concat([Buffer.from('R'), body, salt]);
}

function errorResponse(sqlstate: string, message: string): Buffer {
  const fields = `SFATAL\0VFATAL\0C${sqlstate}\0M${message}\0\0`;
  const length = Buffer.alloc(4);
  length.writeInt32BE(4 + Buffer.byteLength(fields));
  return Buffer.concat([Buffer.from('E'), length, Buffer.from(fields)]);
}

// ---------------------------------------------------------------------------------------------

const ORACLE_ROLE = uniqueRoleName('oracle');

describe('the SCRAM verifier is what PostgreSQL itself computes (SASLprep)', () => {
  // For each value the server builds its own verifier from the clear text (kept out of the
  // log); ours, with the same salt and iteration count, must be byte-identical.
  const cases: [string, string][] = [
    ['ASCII', 'Xy9$-ascii'],
    ['ASCII with a control character (no SASLprep for ASCII)', 'tab\there'],
    ['non-ASCII letters', 'Grüße-Ωmega'],
    ['precomposed é', 'caf\u00e9'],
    ['decomposed e + U+0301 (NFKC composes it)', 'cafe\u0301'],
    ['no-break space (mapped to a space)', 'a\u00a0\u00e9'],
    ['soft hyphen (mapped to nothing)', 'x\u00ad\u00e9'],
    ['zero-width space (space table wins over B.1)', 'x\u200b\u00e9'],
    ['compatibility ligature Ĳ (NFKC expands it)', '\u0132ssel-\u00e9'],
    ['a control character beside non-ASCII (prohibited: raw bytes)', '\u00e9\u0007e\u0301'],
    ['U+0341, prohibited before NFKC would map it (raw bytes)', 'xe\u0341'],
    ['Hebrew only (right-to-left, passes the bidi rule)', '\u05d0\u05d1\u05d2'],
    ['Hebrew around an L character (bidi failure: raw bytes)', '\u05d0e\u0301\u05d1'],
  ];

  before(() => cluster().createRole(ORACLE_ROLE, null));
  after(() => cluster().dropRole(ORACLE_ROLE));

  for (const [name, value] of cases) {
    test(name, async () => {
      const server = await serverVerifier(value);
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(server) ?? [];
      const ours = await scramSha256Verifier(
        value,
        Buffer.from(salt ?? '', 'base64'),
        Number(iterations),
      );
      assert.equal(ours, server);
    });
  }

  test('precomposed and decomposed é give the same key, as in PostgreSQL', async () => {
    const salt = randomBytes(16);
    const composed = await scramSha256Verifier('caf\u00e9', salt);
    assert.equal(await scramSha256Verifier('cafe\u0301', salt), composed);
  });

  test('values whose SASLprep outcome is not known here are refused, not guessed', async () => {
    for (const value of ['\u0e01\u0e02', 'smile-\u{1f600}', '\u05f0\u05d0']) {
      await assert.rejects(scramSha256Verifier(value), (error: unknown) => {
        assert.ok(error instanceof ScramVerifierError);
        assert.equal(error.code, 'SCRAM_SECRET_UNPREPARABLE');
        assert.ok(!error.message.includes(value));
        return true;
      });
    }
  });

  test('weak parameters are refused', async () => {
    await assert.rejects(scramSha256Verifier('Xy9$', randomBytes(16), 1000), ScramVerifierError);
    await assert.rejects(scramSha256Verifier('Xy9$', randomBytes(8)), ScramVerifierError);
  });
});

async function serverVerifier(value: string): Promise<string> {
  await cluster().query(
    `ALTER ROLE ${escapeIdentifier(ORACLE_ROLE)} PASSWORD ${escapeLiteral(value)}`,
  );
  const stored = await cluster().query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
    ORACLE_ROLE,
  ]);
  return String(stored.rows[0]?.rolpassword);
}

// ---------------------------------------------------------------------------------------------

describe('with the passwordcheck extension loaded', () => {
  const checked = usePgCluster({ preload: ['passwordcheck'] });

  test('its refusal (the password equals the role name) is a definite rejection', async (t) => {
    const role = await newRole(t, 'pwcheck', checked());

    const outcome = await changeOwn(checked(), role, role.name);

    assert.equal(outcome.kind, 'rejected');
    assert.match(outcome.kind === 'rejected' ? outcome.reason : '', /SQLSTATE 22023/);
    assertNoSecretIn(outcome, [role.name, role.password]);
    assert.deepEqual(await verifyOn(checked(), role.name, role.password), { kind: 'valid' });
  });

  test('it cannot judge length or complexity of a verifier, so the policy must', async (t) => {
    // passwordcheck refuses "Xy9$" in clear text (too short); sent as a verifier it passes.
    const role = await newRole(t, 'pwshort', checked());
    assert.deepEqual(await changeOwn(checked(), role, 'Xy9$'), { kind: 'applied' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('the server log (F02)', () => {
  test('holds no clear value and only the statements the connector means to send', () => {
    const log = cluster().readLog();
    assert.ok(rotated.length >= 17, 'the change tests ran first');
    assert.match(log, /statement: ALTER ROLE .* PASSWORD 'SCRAM-SHA-256\$4096:/);

    for (const value of rotated) {
      for (const form of spellings(value)) {
        assert.equal(log.includes(form), false, `the log holds ${JSON.stringify(value)}`);
      }
    }
    for (const statement of connectorStatements(log)) {
      assert.match(statement, ALLOWED_STATEMENT);
    }
  });
});

const ALLOWED_STATEMENT = new RegExp(
  '^(SELECT 1|ALTER ROLE "(?:[^"]|"")+" PASSWORD ' +
    String.raw`'SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+')$`,
);

/** The value as written, and as SQL literals or normal forms would spell it. */
function spellings(value: string): string[] {
  const forms = [value, value.replaceAll("'", "''"), value.replaceAll('\\', '\\\\')];
  return [...new Set([...forms, value.normalize('NFC'), value.normalize('NFD')])];
}

/** Statements logged for sessions named `tessera` (the connector's application_name). */
function connectorStatements(log: string): string[] {
  const statements: string[] = [];
  for (const line of log.split('\n')) {
    const match = / app=tessera LOG: {2}statement: (.*)$/.exec(line);
    if (match?.[1] !== undefined) statements.push(match[1]);
  }
  return statements;
}
