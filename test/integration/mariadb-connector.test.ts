/**
 * The MariaDB connector against the machine's MariaDB on 127.0.0.1:3306, with uniquely named
 * accounts created for each test and dropped afterwards; small relays on loopback cut or hold a
 * session at a chosen statement. What needs global settings runs in mariadb-private-server.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { createConnection } from 'mysql2/promise';
import type {
  ChangeOutcome,
  ChangeRequest,
  Credential,
  DiscoveryOutcome,
  TargetAddress,
  VerifyOutcome,
} from '../../src/connectors/connector.ts';
import { createMariadbConnector } from '../../src/connectors/mariadb.ts';
import { quoteLiteral } from '../../src/connectors/mariadb-sql.ts';
import { startGateProxy } from '../support/gate-proxy.ts';
import {
  type AccountRow,
  type AccountSetup,
  initialPassword,
  uniqueUserName,
  useSharedMariadb,
} from '../support/mariadb.ts';
import { freePort } from '../support/pg-cluster.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const connector = createMariadbConnector();
const server = useSharedMariadb();

/** F01 and F04: each must reach the server byte for byte and log in exactly as the vault has it. */
const HOSTILE_VALUES: readonly (readonly [string, string])[] = [
  ['a backslash before a digit', 'Ab\\9xY-7q'],
  ['single and double quotes', `Ab'9x"Y`],
  ['a backslash before n', 'k\\n0'],
  ['an injection attempt', "x';DROP USER root;--"],
  ['é as one code point (NFC)', '\u00e9'],
  ['é as e and a combining accent (NFD)', 'e\u0301'],
  ['a leading dash', '-n0pe-9'],
  ['spaces, leading and inner', ' a b  c '],
];

interface Account {
  readonly user: string;
  readonly password: string;
  readonly rows: readonly AccountRow[];
}

function targetOf(port = server().port, options: TargetAddress['options'] = {}): TargetAddress {
  return { name: 'test-mariadb', host: '127.0.0.1', port, options };
}

async function newAccount(prefix: string, setup: AccountSetup = {}): Promise<Account> {
  const user = uniqueUserName(prefix);
  const password = initialPassword();
  const rows = await server().createAccount(user, password, setup);
  return { user, password, rows };
}

/** A reconcile account: may alter users and read the user table. */
function newReconciler(): Promise<Account> {
  return newAccount('rec', { grants: ['CREATE USER'], mysqlSchema: 'SELECT' });
}

function reconcile(account: string, newSecret: string, logon: Account): ChangeRequest {
  return {
    account,
    secretKind: 'password',
    newSecret,
    currentSecret: null,
    via: 'reconcile',
    logon: { username: logon.user, secret: logon.password },
  };
}

function self(account: string, newSecret: string, current: string): ChangeRequest {
  const logon: Credential = { username: account, secret: current };
  return { account, secretKind: 'password', newSecret, currentSecret: current, via: 'self', logon };
}

/** The server's own hash of exactly these bytes, bound as a parameter. */
async function serverHash(value: string): Promise<string> {
  const [row] = await server().query('SELECT PASSWORD(?)', [value]);
  return String(row?.[0]);
}

async function assertHolds(account: Account, value: string, rows = account.rows): Promise<void> {
  const expected = await serverHash(value);
  for (const row of rows) {
    assert.equal(await server().authString(row), expected, `row ${row.user}@${row.host}`);
  }
  assert.deepEqual(await connector.verify(targetOf(), { username: account.user, secret: value }), {
    kind: 'valid',
  });
  assert.equal(await server().loginWithCli(account.user, value), `${account.user}@127.0.0.1`);
}

function assertNoSecretIn(
  outcome: ChangeOutcome | VerifyOutcome | DiscoveryOutcome,
  secrets: readonly string[],
): void {
  const text = JSON.stringify(outcome);
  for (const secret of secrets) assert.ok(!text.includes(secret), 'an outcome quotes a secret');
}

// ---------------------------------------------------------------------------------------------

describe('verify', () => {
  test('a working credential is valid; a wrong one and an unknown user are alike', async () => {
    const account = await newAccount('verify');
    const valid = await connector.verify(targetOf(), {
      username: account.user,
      secret: account.password,
    });
    const wrong = await connector.verify(targetOf(), {
      username: account.user,
      secret: `${account.password}x`,
    });
    const unknown = await connector.verify(targetOf(), {
      username: uniqueUserName('nobody'),
      secret: account.password,
    });

    assert.deepEqual(valid, { kind: 'valid' });
    assert.equal(wrong.kind, 'invalid');
    // The verdict must not tell an unknown user from a wrong password.
    assert.deepEqual(unknown, wrong);
    assertNoSecretIn(wrong, [account.password]);
  });

  test('name@host is valid only when the login lands on that very row', async () => {
    const account = await newAccount('row', { hosts: ['127.0.0.1', '10.0.%'] });
    const credential = (username: string) => ({ username, secret: account.password });

    const own = await connector.verify(targetOf(), credential(`${account.user}@127.0.0.1`));
    const other = await connector.verify(targetOf(), credential(`${account.user}@10.0.%`));

    assert.deepEqual(own, { kind: 'valid' });
    assert.deepEqual(other, {
      kind: 'invalid',
      reason: `the login landed on row ${account.user}@127.0.0.1, not on ${account.user}@10.0.%`,
    });
  });

  test('a closed port is unreachable; sslmode require fails on a server without TLS', async () => {
    const closed = await connector.verify(targetOf(await freePort()), {
      username: 'x',
      secret: 'Not-Sent-1',
    });
    const account = await newAccount('tls');
    const tls = await connector.verify(targetOf(server().port, { sslmode: 'require' }), {
      username: account.user,
      secret: account.password,
    });

    assert.equal(closed.kind, 'unreachable');
    assert.match(closed.kind === 'unreachable' ? closed.reason : '', /^login: .*ECONNREFUSED/);
    assert.equal(tls.kind, 'unreachable');
    assertNoSecretIn(tls, [account.password]);
  });

  test('an empty host or a bad port is refused without connecting anywhere', async () => {
    // mysql2 would fill them in with localhost:3306, where this machine's MariaDB listens.
    const credential = { username: 'root', secret: 'Not-Sent-3' };
    const cases: [Partial<TargetAddress>, string][] = [
      [{ host: '' }, 'login: the target has no host'],
      [{ port: 0 }, 'login: the target port is not a TCP port number'],
      [{ port: 70_000 }, 'login: the target port is not a TCP port number'],
      [{ port: 1.5 }, 'login: the target port is not a TCP port number'],
    ];
    for (const [change, reason] of cases) {
      const outcome = await connector.verify({ ...targetOf(), ...change }, credential);
      assert.deepEqual(outcome, { kind: 'unreachable', reason });
    }
  });

  test('a server that never answers is unreachable within the connect timeout', async (t) => {
    const silent = createServer((socket: Socket) => socket.on('error', () => undefined));
    silent.listen(0, '127.0.0.1');
    t.after(() => {
      silent.close();
    });
    await new Promise((resolve) => silent.once('listening', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const quick = createMariadbConnector({ connectTimeoutMs: 300 });

    const started = Date.now();
    const outcome = await quick.verify(targetOf(port), { username: 'x', secret: 'Not-Sent-2' });

    assert.equal(outcome.kind, 'unreachable');
    assert.match(outcome.kind === 'unreachable' ? outcome.reason : '', /^login: /);
    assert.ok(Date.now() - started < 3_000, 'the connect timeout bounds the wait');
  });
});

// ---------------------------------------------------------------------------------------------

describe('change via reconcile (F01, F04, F07)', () => {
  for (const [label, value] of HOSTILE_VALUES) {
    test(`every row of a bare name takes ${label}, byte for byte`, async () => {
      const account = await newAccount('f01', { hosts: ['127.0.0.1', '10.0.%'] });
      const reconciler = await newReconciler();
      const rootRows = await server().query("SELECT Host FROM mysql.user WHERE User = 'root'");

      const outcome = await connector.change(
        targetOf(),
        reconcile(account.user, value, reconciler),
      );

      assert.deepEqual(outcome, { kind: 'applied' });
      await assertHolds(account, value);
      assert.deepEqual(
        await server().query("SELECT Host FROM mysql.user WHERE User = 'root'"),
        rootRows,
      );
    });
  }

  test('an NFD password logs in only with the NFD bytes, an NFC one only with NFC', async () => {
    const reconciler = await newReconciler();
    const nfd = await newAccount('nfd');
    const nfc = await newAccount('nfc');
    const [composed, decomposed] = ['caf\u00e9-1', 'cafe\u0301-1'];

    await connector.change(targetOf(), reconcile(nfd.user, decomposed, reconciler));
    await connector.change(targetOf(), reconcile(nfc.user, composed, reconciler));

    assert.equal(await server().loginWithCli(nfd.user, decomposed), `${nfd.user}@127.0.0.1`);
    assert.equal(await server().loginWithCli(nfd.user, composed), null);
    assert.equal(await server().loginWithCli(nfc.user, composed), `${nfc.user}@127.0.0.1`);
    assert.equal(await server().loginWithCli(nfc.user, decomposed), null);
    const wrongForm = await connector.verify(targetOf(), { username: nfd.user, secret: composed });
    assert.equal(wrongForm.kind, 'invalid');
  });

  test('name@host changes exactly that row and leaves the others', async () => {
    const account = await newAccount('one', { hosts: ['127.0.0.1', '10.0.%'] });
    const reconciler = await newReconciler();
    const [local, remote] = account.rows as [AccountRow, AccountRow];
    const before = await server().authString(remote);

    const outcome = await connector.change(
      targetOf(),
      reconcile(`${account.user}@10.0.%`, 'Only-Remote-7', reconciler),
    );

    assert.deepEqual(outcome, { kind: 'applied' });
    assert.equal(await server().authString(remote), await serverHash('Only-Remote-7'));
    assert.notEqual(await server().authString(remote), before);
    assert.equal(await server().authString(local), await serverHash(account.password));
  });

  test('a row added while the change runs is reported as not changed (partial)', async (t) => {
    const account = await newAccount('partial', { hosts: ['127.0.0.1', '10.0.%'] });
    const reconciler = await newReconciler();
    const late: AccountRow = { user: account.user, host: '192.0.2.%' };
    // Hold the ALTER USER until a third row exists, created with the old password.
    const gate = await startGateProxy(server(), {
      matches: (chunk) => chunk.includes('ALTER USER'),
      open: async () => {
        await server().createAccount(account.user, account.password, { hosts: [late.host] });
      },
    });
    t.after(() => gate.close());

    const outcome = await connector.change(
      targetOf(gate.port),
      reconcile(account.user, 'Partial-Value-3', reconciler),
    );

    assert.equal(outcome.kind, 'partial');
    const reason = outcome.kind === 'partial' ? outcome.reason : '';
    const changed = `changed ${account.user}@10.0.%, ${account.user}@127.0.0.1;`;
    assert.ok(reason.includes(changed), reason);
    assert.ok(reason.includes(`not changed ${account.user}@192.0.2.%`), reason);
    assertNoSecretIn(outcome, ['Partial-Value-3', account.password, reconciler.password]);
  });

  test('a row left holding another value than the one sent is partial, named', async (t) => {
    const account = await newAccount('mangle');
    const reconciler = await newReconciler();
    const sent = await serverHash('Mangled-On-The-Way-1');
    const other = await serverHash('Something-Else-2');
    // The relay swaps the hash inside the statement, as a broken escaping would alter a value.
    const gate = await startGateProxy(server(), {
      matches: (chunk) => chunk.includes('ALTER USER'),
      open: async () => undefined,
      rewrite: (chunk) => Buffer.from(chunk.toString('latin1').replace(sent, other), 'latin1'),
    });
    t.after(() => gate.close());

    const outcome = await connector.change(
      targetOf(gate.port),
      reconcile(account.user, 'Mangled-On-The-Way-1', reconciler),
    );

    assert.deepEqual(outcome, {
      kind: 'partial',
      reason: `the rows do not all hold the new password: holding neither the old nor the new value ${account.user}@127.0.0.1`,
    });
  });

  test('a row without a password (unix_socket) stops the change before anything moves', async (t) => {
    const account = await newAccount('socket');
    const reconciler = await newReconciler();
    await server().query(`CREATE USER \`${account.user}\`@'10.9.%' IDENTIFIED VIA unix_socket`);
    t.after(() => server().query(`DROP USER IF EXISTS \`${account.user}\`@'10.9.%'`));

    const outcome = await connector.change(
      targetOf(),
      reconcile(account.user, 'Never-Set-1', reconciler),
    );

    assert.deepEqual(outcome, {
      kind: 'not-sent',
      reason:
        `row ${account.user}@10.9.% authenticates with unix_socket, which has no password to ` +
        'rotate; nothing was changed',
    });
    assert.equal(
      await server().loginWithCli(account.user, account.password),
      `${account.user}@127.0.0.1`,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('change via self', () => {
  for (const [label, value] of HOSTILE_VALUES) {
    test(`the account's own row takes ${label}`, async () => {
      const account = await newAccount('self');
      const row = `${account.user}@127.0.0.1`;

      const outcome = await connector.change(targetOf(), self(row, value, account.password));

      assert.deepEqual(outcome, { kind: 'applied' });
      await assertHolds(account, value);
      assertNoSecretIn(outcome, [value, account.password]);
    });
  }

  test('a bare name is refused: the account cannot see whether it has other rows', async () => {
    const account = await newAccount('selfbare');

    const outcome = await connector.change(
      targetOf(),
      self(account.user, 'Never-Set-2', account.password),
    );

    assert.equal(outcome.kind, 'not-sent');
    const reason = outcome.kind === 'not-sent' ? outcome.reason : '';
    assert.ok(reason.includes(`name the row (${account.user}@127.0.0.1)`), reason);
    assert.equal(
      await server().loginWithCli(account.user, account.password),
      `${account.user}@127.0.0.1`,
    );
  });

  test('a named row the logon does not land on is refused', async () => {
    const account = await newAccount('selfrow', { hosts: ['127.0.0.1', '10.0.%'] });

    const outcome = await connector.change(
      targetOf(),
      self(`${account.user}@10.0.%`, 'Never-Set-3', account.password),
    );

    assert.equal(outcome.kind, 'not-sent');
    assert.equal(
      await server().authString(account.rows[1] as AccountRow),
      await serverHash(account.password),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('change outcomes', () => {
  test('a refused logon is not-sent, names the step and quotes no secret', async () => {
    const account = await newAccount('deny');
    const reconciler = await newReconciler();
    const wrong = { ...reconciler, password: `${reconciler.password}-wrong` };

    const outcome = await connector.change(
      targetOf(),
      reconcile(account.user, 'Never-Set-4', wrong),
    );

    assert.deepEqual(outcome, {
      kind: 'not-sent',
      reason: 'login: the target refused the logon credential; nothing was changed',
    });
    assert.equal(
      await server().loginWithCli(account.user, account.password),
      `${account.user}@127.0.0.1`,
    );
  });

  test('a logon without CREATE USER is not-sent; the server refusal is named', async () => {
    const account = await newAccount('nopriv');
    const weak = await newAccount('weak', { mysqlSchema: 'SELECT' });

    const outcome = await connector.change(
      targetOf(),
      reconcile(account.user, 'Never-Set-5', weak),
    );

    assert.equal(outcome.kind, 'not-sent');
    const reason = outcome.kind === 'not-sent' ? outcome.reason : '';
    assert.match(reason, /^no row took the new password; the target answered .* 1227: /);
    assertNoSecretIn(outcome, ['Never-Set-5', weak.password]);
    assert.equal(
      await server().authString(account.rows[0] as AccountRow),
      await serverHash(account.password),
    );
  });

  test('an account with no row is not-sent', async () => {
    const reconciler = await newReconciler();
    const user = uniqueUserName('ghost');

    const outcome = await connector.change(targetOf(), reconcile(user, 'Never-Set-6', reconciler));

    assert.deepEqual(outcome, {
      kind: 'not-sent',
      reason: `the target has no row for user ${user}`,
    });
  });

  test('a connection lost after the change was sent is unknown; the server applied it', async (t) => {
    const account = await newAccount('lost');
    const reconciler = await newReconciler();
    const proxy = await startTcpProxy(server());
    t.after(() => proxy.close());
    proxy.setPlan(() => ({
      cut: 'reply',
      when: (fromClient) => fromClient.some((chunk) => chunk.includes('ALTER USER')),
    }));

    const outcome = await connector.change(
      targetOf(proxy.port),
      reconcile(account.user, 'Lost-Reply-8', reconciler),
    );

    assert.equal(outcome.kind, 'unknown');
    assert.match(outcome.kind === 'unknown' ? outcome.reason : '', /changing the password/);
    assert.equal(
      await server().loginWithCli(account.user, 'Lost-Reply-8'),
      `${account.user}@127.0.0.1`,
    );
  });

  test('a statement that gets no answer is unknown after the statement timeout', async (t) => {
    const account = await newAccount('slow');
    const reconciler = await newReconciler();
    const gate = await startGateProxy(server(), {
      matches: (chunk) => chunk.includes('ALTER USER'),
      open: () => new Promise<void>(() => undefined),
    });
    t.after(() => gate.close());
    const quick = createMariadbConnector({ statementTimeoutMs: 400 });

    const outcome = await quick.change(
      targetOf(gate.port),
      reconcile(account.user, 'Never-Set-9', reconciler),
    );

    assert.deepEqual(outcome, {
      kind: 'unknown',
      reason:
        'the change was sent but its outcome is unknown: changing the password: no answer ' +
        'within 400 ms',
    });
  });

  test('values the platform cannot take are rejected before the target is touched', async () => {
    const reconciler = await newReconciler();
    const request = (newSecret: string) => reconcile('tsr_unused', newSecret, reconciler);

    for (const value of ['', 'a\u0000b', 'x'.repeat(1025), '\ud800']) {
      const outcome = await connector.change(targetOf(await freePort()), request(value));
      assert.equal(outcome.kind, 'rejected');
    }
    const key = { ...request('Fine-1'), secretKind: 'ssh-key' as const };
    assert.equal((await connector.change(targetOf(), key)).kind, 'not-sent');
  });
});

// ---------------------------------------------------------------------------------------------

describe('discover', () => {
  test('each privileged row is listed with its reasons; unprivileged rows are not', async () => {
    const superUser = await newAccount('dsuper', { grants: ['SUPER'] });
    const all = await newAccount('dall', { grants: ['ALL PRIVILEGES', 'GRANT OPTION'] });
    const plain = await newAccount('dplain');
    const scanner = await newAccount('dscan', { mysqlSchema: 'SELECT' });
    const split = uniqueUserName('dsplit');
    await server().createAccount(split, initialPassword(), { grants: ['CREATE USER'] });
    await server().createAccount(split, initialPassword(), {
      hosts: ['10.0.%'],
      grants: ['RELOAD'],
    });

    const outcome = await connector.discover(targetOf(), {
      username: scanner.user,
      secret: scanner.password,
    });

    assert.equal(outcome.kind, 'found');
    const found = new Map(
      (outcome.kind === 'found' ? outcome.accounts : []).map((a) => [a.username, a.reasons]),
    );
    assert.deepEqual(found.get(`${superUser.user}@127.0.0.1`), ['SUPER']);
    assert.deepEqual(found.get(`${all.user}@127.0.0.1`), ['ALL PRIVILEGES', 'GRANT OPTION']);
    assert.deepEqual(found.get(`${split}@127.0.0.1`), ['CREATE USER']);
    assert.deepEqual(found.get(`${split}@10.0.%`), ['RELOAD']);
    assert.equal(found.has(`${plain.user}@127.0.0.1`), false);
    assert.equal(found.has(`${scanner.user}@127.0.0.1`), false);
    assertNoSecretIn(outcome, [scanner.password]);
  });

  test('a scanner the server refuses gets a failed outcome without its secret', async () => {
    const outcome = await connector.discover(targetOf(), {
      username: uniqueUserName('nobody'),
      secret: 'Scanner-Secret-1',
    });
    assert.equal(outcome.kind, 'failed');
    assertNoSecretIn(outcome, ['Scanner-Secret-1']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('literals and options', () => {
  test('quoteLiteral round-trips every hostile value in both sql_modes', async (t) => {
    const session = await createConnection({
      host: '127.0.0.1',
      port: server().port,
      user: 'root',
      charset: 'UTF8MB4_GENERAL_CI',
      connectTimeout: 5_000,
    });
    t.after(() => session.end());
    const values = [...HOSTILE_VALUES.map(([, value]) => value), "\\'", "''\\\\", 'a\\'];

    for (const mode of ['STRICT_TRANS_TABLES', 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES']) {
      // A session setting of this connection only; the server's global sql_mode is untouched.
      await session.query(`SET SESSION sql_mode = '${mode}'`);
      for (const value of values) {
        const [rows] = await session.query({
          sql: `SELECT HEX(${quoteLiteral(value, mode)})`,
          rowsAsArray: true,
        });
        const hex = (rows as unknown[][])[0]?.[0];
        assert.equal(hex, Buffer.from(value, 'utf8').toString('hex').toUpperCase(), `${mode}`);
      }
    }
  });

  test('options are strict; the view shows the TLS mode and whether a certificate is set', () => {
    assert.equal(connector.options.safeParse({}).success, true);
    assert.equal(connector.options.safeParse({ sslmode: 'verify-full' }).success, true);
    assert.equal(connector.options.safeParse({ sslmode: 'prefer' }).success, false);
    assert.equal(connector.options.safeParse({ port: 3307 }).success, false);
    assert.deepEqual(connector.viewOptions({}), { sslmode: 'disable', sslrootcertSet: false });
    assert.deepEqual(connector.secretKinds, ['password']);
    assert.deepEqual(connector.secretRules, { maxLength: 64, forbiddenCharacters: '\u0000' });
  });
});
