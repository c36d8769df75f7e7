/**
 * The MariaDB connector against a private mariadbd started for this file on a free loopback
 * port: what would change global settings on the machine's shared server runs here, namely
 * ed25519 accounts, a password-validation plugin (which makes the connector send the value as
 * a literal) under both sql_modes, and the general log that must never see a clear value.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChangeRequest, TargetAddress } from '../../src/connectors/connector.ts';
import { createMariadbConnector } from '../../src/connectors/mariadb.ts';
import {
  type AccountSetup,
  initialPassword,
  uniqueUserName,
  usePrivateMariadb,
} from '../support/mariadb.ts';

const connector = createMariadbConnector();
const server = usePrivateMariadb();

/**
 * F01's values, with the two forms of é padded to four characters: simple_password_check never
 * accepts fewer, and the point here is the escaping of the literal.
 */
const HOSTILE_VALUES: readonly string[] = [
  'Ab\\9xY-7q',
  `Ab'9x"Y`,
  'k\\n0',
  "x';DROP USER root;--",
  'pr\u00e9t',
  'pre\u0301t',
  '-n0pe-9',
  ' a b  c ',
];
const SQL_MODES = ['STRICT_TRANS_TABLES', 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'];

interface Account {
  readonly user: string;
  readonly password: string;
}

function target(options: TargetAddress['options'] = {}, host = server().host): TargetAddress {
  return { name: 'private-mariadb', host, port: server().port, options };
}

async function newAccount(prefix: string, setup: AccountSetup = {}): Promise<Account> {
  const user = uniqueUserName(prefix);
  const password = initialPassword();
  await server().createAccount(user, password, setup);
  return { user, password };
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
  return {
    account,
    secretKind: 'password',
    newSecret,
    currentSecret: current,
    via: 'self',
    logon: { username: account, secret: current },
  };
}

/** The new value works with mysql2 (through the connector) and with the `mariadb` client. */
async function assertLogsIn(user: string, value: string): Promise<void> {
  assert.deepEqual(await connector.verify(target(), { username: user, secret: value }), {
    kind: 'valid',
  });
  assert.equal(await server().loginWithCli(user, value), `${user}@127.0.0.1`);
}

async function withGlobals(settings: Record<string, string>, work: () => Promise<void>) {
  // Only this file's own server is changed; the names and values are the test's constants.
  for (const [name, value] of Object.entries(settings)) {
    await server().query(`SET GLOBAL ${name} = ${value}`);
  }
  await work();
}

// ---------------------------------------------------------------------------------------------

describe('ed25519 accounts', () => {
  test('reconcile and self set each value; mysql2 and the mariadb client log in', async () => {
    const reconciler = await newAccount('rec', { grants: ['CREATE USER'], mysqlSchema: 'SELECT' });
    for (const value of HOSTILE_VALUES) {
      const account = await newAccount('ed', { plugin: 'ed25519' });
      const row = `${account.user}@127.0.0.1`;

      const byReconcile = await connector.change(target(), reconcile(row, value, reconciler));
      assert.deepEqual(byReconcile, { kind: 'applied' }, JSON.stringify(value));
      await assertLogsIn(account.user, value);

      const next = `${value}-2`;
      assert.deepEqual(await connector.change(target(), self(row, next, value)), {
        kind: 'applied',
      });
      await assertLogsIn(account.user, next);
      const [plugin] = await server().query('SELECT plugin FROM mysql.user WHERE User = ?', [
        account.user,
      ]);
      assert.deepEqual(plugin, ['ed25519']);
    }
  });
});

describe('the general log', () => {
  test('never sees the clear value when the connector sends a hash', async () => {
    const reconciler = await newAccount('rec', { grants: ['CREATE USER'], mysqlSchema: 'SELECT' });
    const native = await newAccount('lognat');
    const ed = await newAccount('loged', { plugin: 'ed25519' });
    const values = ['Log-Native-Secret-1', 'Log-Ed25519-Secret-2', 'Log-Self-Secret-3'];

    const changes = [
      await connector.change(target(), reconcile(native.user, values[0] ?? '', reconciler)),
      await connector.change(target(), reconcile(ed.user, values[1] ?? '', reconciler)),
      await connector.change(
        target(),
        self(`${native.user}@127.0.0.1`, values[2] ?? '', values[0] ?? ''),
      ),
    ];

    assert.deepEqual(
      changes.map((outcome) => outcome.kind),
      ['applied', 'applied', 'applied'],
    );
    const log = server().readGeneralLog();
    assert.match(log, /ALTER USER/, 'the general log records statements');
    assert.match(log, /SET PASSWORD/, 'the general log records statements');
    for (const value of values) assert.ok(!log.includes(value), 'the log holds a clear value');
  });
});

describe('with a password-validation plugin (the value travels as a literal)', () => {
  test('both sql_modes: every value arrives byte for byte, via reconcile and self', async (t) => {
    await server().query("INSTALL SONAME 'simple_password_check'");
    t.after(async () => {
      await server().query("SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES'");
      await server().query("UNINSTALL SONAME 'simple_password_check'");
    });
    const reconciler = await newAccount('rec', { grants: ['CREATE USER'], mysqlSchema: 'SELECT' });
    const permissive = {
      simple_password_check_digits: '0',
      simple_password_check_letters_same_case: '0',
      simple_password_check_other_characters: '0',
      simple_password_check_minimal_length: '4',
    };

    for (const mode of SQL_MODES) {
      await withGlobals({ ...permissive, sql_mode: `'${mode}'` }, async () => {
        for (const value of HOSTILE_VALUES) {
          const native = await newAccount('litn');
          const ed = await newAccount('lite', { plugin: 'ed25519' });
          const label = `${mode}: ${JSON.stringify(value)}`;

          const outcomes = [
            await connector.change(target(), reconcile(native.user, value, reconciler)),
            await connector.change(target(), self(`${ed.user}@127.0.0.1`, value, ed.password)),
          ];

          assert.deepEqual(outcomes, [{ kind: 'applied' }, { kind: 'applied' }], label);
          await assertLogsIn(native.user, value);
          await assertLogsIn(ed.user, value);
        }
      });
    }
  });

  test('a value the plugin refuses is rejected and the old password stays (F05)', async (t) => {
    await server().query("INSTALL SONAME 'simple_password_check'");
    t.after(() => server().query("UNINSTALL SONAME 'simple_password_check'"));
    const reconciler = await newAccount('rec', { grants: ['CREATE USER'], mysqlSchema: 'SELECT' });
    const account = await newAccount('weak', { hosts: ['127.0.0.1', '10.0.%'] });
    const oneDigit = 'Only-One-Digit-1';

    await withGlobals({ simple_password_check_digits: '2' }, async () => {
      const outcome = await connector.change(
        target(),
        reconcile(account.user, oneDigit, reconciler),
      );

      assert.equal(outcome.kind, 'rejected');
      const reason = outcome.kind === 'rejected' ? outcome.reason : '';
      assert.match(reason, /^no row took the new password; .*1819/);
      assert.ok(!reason.includes(oneDigit), 'the reason quotes the value');
    });
    await server().query('SET GLOBAL simple_password_check_digits = 1');
    assert.equal(
      await server().loginWithCli(account.user, account.password),
      `${account.user}@127.0.0.1`,
    );
  });
});

describe('TLS', () => {
  test('each sslmode checks what it promises', async () => {
    const account = await newAccount('tls');
    const credential = { username: account.user, secret: account.password };
    const { ca, otherCa } = server().tls;
    const verifyWith = (options: TargetAddress['options'], host?: string) =>
      connector.verify(target(options, host), credential);

    assert.deepEqual(await verifyWith({ sslmode: 'require' }), { kind: 'valid' });
    assert.deepEqual(await verifyWith({ sslmode: 'verify-ca', sslrootcert: ca }), {
      kind: 'valid',
    });
    const fullByName = await verifyWith({ sslmode: 'verify-full', sslrootcert: ca }, 'localhost');
    assert.deepEqual(fullByName, { kind: 'valid' });

    const wrongCa = await verifyWith({ sslmode: 'verify-ca', sslrootcert: otherCa });
    const noCa = await verifyWith({ sslmode: 'verify-full' }, 'localhost');
    assert.equal(wrongCa.kind, 'unreachable');
    assert.equal(noCa.kind, 'unreachable');
    assert.deepEqual(await verifyWith({ sslmode: 'verify-full', sslrootcert: ca }), {
      kind: 'unreachable',
      reason: 'login: sslmode verify-full needs a host name; for an IP address use verify-ca',
    });
  });
});
