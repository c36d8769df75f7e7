/**
 * The LDAP connector against a throw-away slapd on 127.0.0.1 (see test/support/slapd.ts). Every
 * password a test sets is checked with ldapwhoami, the reference client, as well as with the
 * connector's own verify; the old one must stop working and the server must keep only a hash.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import {
  type ChangeOutcome,
  type ChangeRequest,
  type DiscoveryOutcome,
  STATEMENT_TIMEOUT_MS,
  type TargetAddress,
  type VerifyOutcome,
} from '../../src/connectors/connector.ts';
import {
  createLdapConnector,
  PASSWORD_MODIFY_OID,
  passwordModifyValue,
} from '../../src/connectors/ldap.ts';
import { freePort } from '../support/pg-cluster.ts';
import {
  type PersonOptions,
  type Slapd,
  startSlapd,
  uniqueLdapName,
  useSlapd,
} from '../support/slapd.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const execFileAsync = promisify(execFile);
const connector = createLdapConnector();
const slapd = useSlapd();

/** Every password any test used; no reason and no line of slapd's log may contain one. */
const secretsUsed: string[] = [];
const reasonsSeen: string[] = [];

interface Person {
  readonly uid: string;
  readonly dn: string;
  readonly password: string;
}

function targetOf(s: Slapd, options: Record<string, string | readonly string[]> = {}) {
  const target: TargetAddress = {
    name: 'test-ldap',
    host: s.host,
    port: s.port,
    options: { baseDn: s.suffix, ...options },
  };
  return target;
}

function initialPassword(): string {
  const password = `Init-${randomBytes(12).toString('base64url')}`;
  secretsUsed.push(password);
  return password;
}

async function newPerson(t: TestContext, prefix: string, options: PersonOptions = {}) {
  const uid = uniqueLdapName(prefix);
  const password = initialPassword();
  const dn = await slapd().addPerson(uid, password, options);
  t.after(() => slapd().remove(dn));
  return { uid, dn, password } satisfies Person;
}

function seen<T extends ChangeOutcome | VerifyOutcome | DiscoveryOutcome>(outcome: T): T {
  if ('reason' in outcome) reasonsSeen.push(outcome.reason);
  return outcome;
}

async function verify(username: string, secret: string, target = targetOf(slapd())) {
  return seen(await connector.verify(target, { username, secret }));
}

async function changeSelf(person: Person, newSecret: string, target = targetOf(slapd())) {
  secretsUsed.push(newSecret);
  const logon = { username: person.uid, secret: person.password };
  return seen(await connector.change(target, selfRequest(person.uid, newSecret, logon)));
}

function selfRequest(account: string, newSecret: string, logon: ChangeRequest['logon']) {
  const request: ChangeRequest = {
    account,
    secretKind: 'password',
    newSecret,
    currentSecret: logon.secret,
    via: 'self',
    logon,
  };
  return request;
}

async function reconcile(account: string, newSecret: string, target = targetOf(slapd())) {
  secretsUsed.push(newSecret);
  const { dn, password } = slapd().reconciler;
  const request: ChangeRequest = {
    account,
    secretKind: 'password',
    newSecret,
    currentSecret: null,
    via: 'reconcile',
    logon: { username: dn, secret: password },
  };
  return seen(await connector.change(target, request));
}

/** The new value works with ldapwhoami and verify, the old one with neither; a hash is kept. */
async function assertRotated(person: Person, newSecret: string) {
  const s = slapd();
  assert.equal(await s.loginWithLdapwhoami(person.dn, newSecret), true, 'new value, ldapwhoami');
  assert.deepEqual(await verify(person.uid, newSecret), { kind: 'valid' });
  assert.equal(await s.loginWithLdapwhoami(person.dn, person.password), false, 'old value');
  assert.equal((await verify(person.uid, person.password)).kind, 'invalid');
  const stored = await s.storedPasswords(person.dn);
  assert.equal(stored.length, 1);
  assert.match(stored[0] ?? '', /^\{SSHA\}[A-Za-z0-9+/=]+$/);
}

/** F03's shell-hostile values, F04's two forms of é, and quoting characters. */
const HOSTILE_PASSWORDS = [
  "ab'cd",
  'x`id`y',
  '$(touch /tmp/pwned)',
  '-n0pe-9',
  'a b c',
  'a:b:c',
  '\u00e9',
  '"quoted"',
  'back\\slash',
];

/** F03: a password is data; if any of them reached a shell, this file would appear. */
const PWNED = '/tmp/pwned';
const pwnedBefore = existsSync(PWNED);
after(() => {
  if (!pwnedBefore) assert.equal(existsSync(PWNED), false, `${PWNED} was created`);
});

// ---------------------------------------------------------------------------------------------

describe('verify', () => {
  test('a password is valid by uid, by DN and by template; a wrong one is invalid', async (t) => {
    const person = await newPerson(t, 'verify');
    const template = { userDnTemplate: `uid={username},${slapd().peopleDn}` };

    assert.deepEqual(await verify(person.uid, person.password), { kind: 'valid' });
    assert.deepEqual(await verify(person.dn, person.password), { kind: 'valid' });
    const byTemplate = targetOf(slapd(), template);
    assert.deepEqual(await verify(person.uid, person.password, byTemplate), { kind: 'valid' });

    const wrong = await verify(person.uid, `${person.password}x`);
    assert.equal(wrong.kind, 'invalid');
    assert.match('reason' in wrong ? wrong.reason : '', /invalidCredentials/);
    const unknown = await verify(uniqueLdapName('nobody'), person.password);
    assert.equal(unknown.kind, 'invalid');
    assert.match('reason' in unknown ? unknown.reason : '', /found no entry/);
  });

  test('an empty password is invalid, never an unauthenticated bind that passes', async (t) => {
    const person = await newPerson(t, 'empty');
    assert.equal((await verify(person.dn, '')).kind, 'invalid');
    assert.equal((await verify(person.uid, '')).kind, 'invalid');
  });

  test('a closed port is unreachable and the reason names the target', async () => {
    const target = { ...targetOf(slapd()), port: await freePort() };
    const outcome = await verify('anyone', 'irrelevant-secret', target);
    assert.equal(outcome.kind, 'unreachable');
    assert.match('reason' in outcome ? outcome.reason : '', /test-ldap \(ldap:\/\/127\.0\.0\.1:/);
  });

  test('a server that accepts but never answers is unreachable after the timeout', async (t) => {
    const proxy = await startTcpProxy({ host: slapd().host, port: slapd().port });
    t.after(() => proxy.close());
    proxy.setPlan(() => 'hold');
    const target = { ...targetOf(slapd()), port: proxy.port };
    const started = Date.now();
    const outcome = await verify('uid=someone,dc=tessera,dc=test', 'irrelevant-secret', target);
    assert.equal(outcome.kind, 'unreachable');
    assert.match('reason' in outcome ? outcome.reason : '', /no answer within/);
    assert.ok(Date.now() - started < STATEMENT_TIMEOUT_MS + 3_000, 'bounded by the timeout');
  });

  test('an entry hidden from anonymous clients needs a template; the reason says so', async (t) => {
    const person = await newPerson(t, 'hidden', { ou: 'hidden' });
    const outcome = await verify(person.uid, person.password);
    assert.equal(outcome.kind, 'invalid');
    assert.match('reason' in outcome ? outcome.reason : '', /anonymous.*userDnTemplate/);

    const template = { userDnTemplate: `uid={username},${slapd().hiddenDn}` };
    const byTemplate = targetOf(slapd(), template);
    assert.deepEqual(await verify(person.uid, person.password, byTemplate), { kind: 'valid' });
  });

  test('filter metacharacters in a user name match that name only', async (t) => {
    const other = await newPerson(t, 'plain');
    const meta = await newPerson(t, `${randomBytes(3).toString('hex')}*)(uid=*`);

    // Spliced into a filter text, the name would match every entry and be refused as ambiguous.
    assert.deepEqual(await verify(meta.uid, meta.password), { kind: 'valid' });
    const star = await verify('*', other.password);
    assert.equal(star.kind, 'invalid');
    assert.match('reason' in star ? star.reason : '', /found no entry/);
    const injected = await verify('*)(uid=*', other.password);
    assert.equal(injected.kind, 'invalid');
  });

  test('the template escapes the name: DN specials stay part of the value', async (t) => {
    const other = await newPerson(t, 'tmpl');
    const odd = await newPerson(t, `#${randomBytes(3).toString('hex')},p+q"r\\s;t<u>v=w`);
    const target = targetOf(slapd(), { userDnTemplate: `uid={username},${slapd().peopleDn}` });

    assert.deepEqual(await verify(odd.uid, odd.password, target), { kind: 'valid' });
    // Unescaped, this name would add an RDN and name the other entry's parent instead.
    const sneaky = `x,uid=${other.uid}`;
    assert.equal((await verify(sneaky, other.password, target)).kind, 'invalid');
  });
});

// ---------------------------------------------------------------------------------------------

describe('change via self', () => {
  for (const password of HOSTILE_PASSWORDS) {
    test(`rotates to ${JSON.stringify(password)}`, async (t) => {
      const person = await newPerson(t, 'self');
      assert.deepEqual(await changeSelf(person, password), { kind: 'applied' });
      await assertRotated(person, password);
    });
  }

  test('a wrong current password is refused at logon: not-sent, nothing changed', async (t) => {
    const person = await newPerson(t, 'wrongcur');
    const logon = { username: person.uid, secret: `${person.password}-wrong` };
    const outcome = seen(
      await connector.change(targetOf(slapd()), selfRequest(person.uid, 'Next-1', logon)),
    );
    assert.equal(outcome.kind, 'not-sent');
    assert.match(
      'reason' in outcome ? outcome.reason : '',
      /invalidCredentials.*nothing was changed/,
    );
    assert.equal(await slapd().loginWithLdapwhoami(person.dn, person.password), true);
  });

  test('a value the password policy refuses is rejected; a good one then applies', async (t) => {
    const person = await newPerson(t, 'policy', { strictPolicy: true });
    const outcome = await changeSelf(person, 'short-1');
    assert.equal(outcome.kind, 'rejected');
    assert.match('reason' in outcome ? outcome.reason : '', /constraintViolation/);
    assert.equal(await slapd().loginWithLdapwhoami(person.dn, person.password), true);

    const good = `Long-enough-${randomBytes(6).toString('hex')}`;
    assert.deepEqual(await changeSelf(person, good), { kind: 'applied' });
    await assertRotated(person, good);
  });

  test('é as U+00E9 and as e + U+0301 are two passwords', async (t) => {
    const person = await newPerson(t, 'nfc');
    const nfc = '\u00e9';
    const nfd = 'e\u0301';
    assert.deepEqual(await changeSelf(person, nfc), { kind: 'applied' });
    assert.equal(await slapd().loginWithLdapwhoami(person.dn, nfc), true);
    assert.equal(await slapd().loginWithLdapwhoami(person.dn, nfd), false);
    assert.equal((await verify(person.uid, nfd)).kind, 'invalid');

    assert.deepEqual(await reconcile(person.uid, nfd), { kind: 'applied' });
    assert.equal(await slapd().loginWithLdapwhoami(person.dn, nfd), true);
    assert.equal(await slapd().loginWithLdapwhoami(person.dn, nfc), false);
    assert.deepEqual(await verify(person.uid, nfd), { kind: 'valid' });
  });

  test('an unreachable target is not-sent', async () => {
    const target = { ...targetOf(slapd()), port: await freePort() };
    const logon = { username: 'someone', secret: 'irrelevant-1' };
    const outcome = seen(await connector.change(target, selfRequest('someone', 'Next-2', logon)));
    assert.equal(outcome.kind, 'not-sent');
  });

  test('a connection dropped after the request went out is unknown', async (t) => {
    const person = await newPerson(t, 'cut');
    const proxy = await startTcpProxy({ host: slapd().host, port: slapd().port });
    t.after(() => proxy.close());
    const oid = Buffer.from(PASSWORD_MODIFY_OID);
    proxy.setPlan(() => ({
      cut: 'reply',
      when: (sent) => Buffer.concat(sent).includes(oid),
    }));

    const next = `Cut-${randomBytes(6).toString('hex')}`;
    const outcome = await changeSelf(person, next, { ...targetOf(slapd()), port: proxy.port });
    assert.equal(outcome.kind, 'unknown');
    // The server acted before the reply was lost: the new value is the one that works.
    await assertRotated(person, next);
  });
});

// ---------------------------------------------------------------------------------------------

describe('change via reconcile', () => {
  for (const password of HOSTILE_PASSWORDS) {
    test(`sets ${JSON.stringify(password)} without the current password`, async (t) => {
      const person = await newPerson(t, 'rec');
      assert.deepEqual(await reconcile(person.uid, password), { kind: 'applied' });
      await assertRotated(person, password);
    });
  }

  test('the account may be named by DN; a name matching nothing is not-sent', async (t) => {
    const person = await newPerson(t, 'recdn');
    const next = `ByDn-${randomBytes(6).toString('hex')}`;
    assert.deepEqual(await reconcile(person.dn, next), { kind: 'applied' });
    await assertRotated(person, next);

    const other = await newPerson(t, 'bystander');
    const outcome = await reconcile('*', `Star-${randomBytes(6).toString('hex')}`);
    assert.equal(outcome.kind, 'not-sent');
    assert.equal(await slapd().loginWithLdapwhoami(other.dn, other.password), true);
  });

  test('a logon without write access to userPassword is not-sent', async (t) => {
    const victim = await newPerson(t, 'victim');
    const intruder = await newPerson(t, 'intruder');
    const request: ChangeRequest = {
      account: victim.uid,
      secretKind: 'password',
      newSecret: 'Taken-over-1',
      currentSecret: null,
      via: 'reconcile',
      logon: { username: intruder.uid, secret: intruder.password },
    };
    const outcome = seen(await connector.change(targetOf(slapd()), request));
    assert.equal(outcome.kind, 'not-sent');
    assert.match('reason' in outcome ? outcome.reason : '', /insufficientAccessRights/);
    assert.equal(await slapd().loginWithLdapwhoami(victim.dn, victim.password), true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('discover', () => {
  test('lists the members of two groups, by uid under baseDn and by DN elsewhere', async (t) => {
    const s = slapd();
    const alice = await newPerson(t, 'alice');
    const bob = await newPerson(t, 'bob');
    const carol = await newPerson(t, 'carol');
    const robot = await newPerson(t, 'robot', { cn: uniqueLdapName('Robot') });
    const outsider = `uid=${uniqueLdapName('ext')},dc=elsewhere,dc=test`;
    const admins = uniqueLdapName('admins');
    const ops = uniqueLdapName('ops');
    const adminsDn = await s.addGroup(admins, [alice.dn, bob.dn, robot.dn, outsider]);
    t.after(() => s.remove(adminsDn));
    const opsDn = await s.addPosixGroup(ops, [alice.uid, carol.uid]);
    t.after(() => s.remove(opsDn));

    const target = targetOf(s, { privilegedGroups: [adminsDn, opsDn] });
    const outcome = seen(await connector.discover(target, scanner(s)));
    assert.equal(outcome.kind, 'found');
    const found = outcome.kind === 'found' ? outcome.accounts : [];
    const byName = Object.fromEntries(found.map((a) => [a.username, a.reasons]));
    assert.deepEqual(byName, {
      [alice.uid]: [`member of ${admins}`, `member of ${ops}`],
      [bob.uid]: [`member of ${admins}`],
      [carol.uid]: [`member of ${ops}`],
      [robot.uid]: [`member of ${admins}`],
      [outsider]: [`member of ${admins}`],
    });
  });

  test('a wrong scanner password or a missing group fails with a reason', async () => {
    const s = slapd();
    const missing = `cn=${uniqueLdapName('gone')},${s.groupsDn}`;
    const target = targetOf(s, { privilegedGroups: [missing] });
    const badScanner = { username: s.reconciler.dn, secret: `${s.reconciler.password}x` };
    const refused = seen(await connector.discover(target, badScanner));
    assert.equal(refused.kind, 'failed');
    assert.match('reason' in refused ? refused.reason : '', /invalidCredentials/);

    const absent = seen(await connector.discover(target, scanner(s)));
    assert.equal(absent.kind, 'failed');
    assert.ok('reason' in absent && absent.reason.includes(missing), 'names the group');
  });
});

function scanner(s: Slapd) {
  return { username: s.reconciler.dn, secret: s.reconciler.password };
}

// ---------------------------------------------------------------------------------------------

describe('options', () => {
  const parse = (options: unknown) => connector.options.safeParse(options);

  test('baseDn is required; unknown options and bad DNs are refused', () => {
    assert.equal(parse({ baseDn: 'dc=tessera,dc=test' }).success, true);
    assert.equal(parse({}).success, false);
    assert.equal(parse({ baseDn: 'dc=tessera,dc=test', colour: 'red' }).success, false);
    for (const baseDn of ['tessera', 'dc=a;dc=b', 'dc=a,', '=x', 'dc="q"']) {
      assert.equal(parse({ baseDn }).success, false, baseDn);
    }
    assert.equal(parse({ baseDn: 'dc=a', privilegedGroups: ['cn=x,dc=a', 'nope'] }).success, false);
  });

  test('a template holds {username} once, as the value of its first RDN', () => {
    const base = { baseDn: 'dc=a' };
    assert.equal(parse({ ...base, userDnTemplate: 'uid={username},ou=people,dc=a' }).success, true);
    for (const userDnTemplate of [
      'uid=x,ou=people,dc=a',
      '{username},ou=people,dc=a',
      'uid={username}',
      'uid={username},cn={username},dc=a',
      'ou=people,uid={username},dc=a',
    ]) {
      assert.equal(parse({ ...base, userDnTemplate }).success, false, userDnTemplate);
    }
  });

  test('ldaps needs a TLS mode; a root certificate needs a verifying mode', () => {
    assert.equal(parse({ baseDn: 'dc=a', scheme: 'ldaps' }).success, false);
    assert.equal(parse({ baseDn: 'dc=a', scheme: 'ldaps', sslmode: 'require' }).success, true);
    const ca = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    assert.equal(parse({ baseDn: 'dc=a', sslmode: 'require', sslrootcert: ca }).success, false);
  });

  test('viewOptions shows scalars only, never the certificate', () => {
    const view = connector.viewOptions({
      baseDn: 'dc=a',
      privilegedGroups: ['cn=x,dc=a', 'cn=y,dc=a'],
      sslmode: 'verify-full',
      sslrootcert: '-----BEGIN CERTIFICATE-----',
    });
    assert.deepEqual(view, {
      baseDn: 'dc=a',
      userAttribute: 'uid',
      userDnTemplate: null,
      scheme: 'ldap',
      sslmode: 'verify-full',
      sslrootcertSet: true,
      privilegedGroups: 'cn=x,dc=a; cn=y,dc=a',
      privilegedGroupCount: 2,
    });
  });

  test('secret rules cap the length and forbid NUL', () => {
    assert.equal(connector.secretRules.maxLength, 64);
    assert.ok(connector.secretRules.forbiddenCharacters.includes('\u0000'));
    assert.deepEqual(connector.secretKinds, ['password']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TLS', () => {
  let server: Slapd | undefined;
  let certificates: Certificates | undefined;
  let certDir = '';
  const tlsServer = () => {
    if (server === undefined || certificates === undefined) throw new Error('no TLS slapd');
    return { server, certificates };
  };

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'tessera-ldap-certs-'));
    certificates = await makeCertificates(certDir);
    const tls = { certificate: certificates.serverCert, key: certificates.serverKey };
    server = await startSlapd({ tls });
  });
  after(async () => {
    await server?.stop();
    await rm(certDir, { recursive: true, force: true });
  });

  async function tlsPerson(t: TestContext, s: Slapd): Promise<Person> {
    const uid = uniqueLdapName('tls');
    const password = initialPassword();
    const dn = await s.addPerson(uid, password);
    t.after(() => s.remove(dn));
    return { uid, dn, password };
  }

  test('StartTLS with verify-full: verify and a self change work', async (t) => {
    const { server: s, certificates: c } = tlsServer();
    const person = await tlsPerson(t, s);
    const target = targetOf(s, { sslmode: 'verify-full', sslrootcert: c.ca });

    assert.deepEqual(await verify(person.uid, person.password, target), { kind: 'valid' });
    const next = `Tls-${randomBytes(6).toString('hex')}`;
    assert.deepEqual(await changeSelf(person, next, target), { kind: 'applied' });
    assert.equal(await s.loginWithLdapwhoami(person.dn, next), true);
  });

  test('ldaps with verify-full works', async (t) => {
    const { server: s, certificates: c } = tlsServer();
    const person = await tlsPerson(t, s);
    const options = { scheme: 'ldaps', sslmode: 'verify-full', sslrootcert: c.ca };
    const target = { ...targetOf(s, options), port: s.ldapsPort ?? 0 };
    assert.deepEqual(await verify(person.uid, person.password, target), { kind: 'valid' });
  });

  test('a certificate from another CA is refused before any bind', async (t) => {
    const { server: s, certificates: c } = tlsServer();
    const person = await tlsPerson(t, s);
    const target = targetOf(s, { sslmode: 'verify-full', sslrootcert: c.otherCa });

    const checked = await verify(person.uid, person.password, target);
    assert.equal(checked.kind, 'unreachable');
    assert.match('reason' in checked ? checked.reason : '', /StartTLS failed/);
    const changed = await changeSelf(person, `Never-${randomBytes(6).toString('hex')}`, target);
    assert.equal(changed.kind, 'not-sent');
    assert.equal(await s.loginWithLdapwhoami(person.dn, person.password), true);
  });

  test('sslmode require against a server without TLS fails at StartTLS', async (t) => {
    const person = await newPerson(t, 'notls');
    const target = targetOf(slapd(), { sslmode: 'require' });
    const outcome = await verify(person.uid, person.password, target);
    assert.equal(outcome.kind, 'unreachable');
    assert.match('reason' in outcome ? outcome.reason : '', /StartTLS failed/);
  });
});

interface Certificates {
  readonly ca: string;
  readonly otherCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

/** A CA, a second unrelated CA, and a server certificate for 127.0.0.1 signed by the first. */
async function makeCertificates(dir: string): Promise<Certificates> {
  const file = (name: string) => join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  for (const ca of ['ca', 'other-ca']) {
    const out = ['-keyout', file(`${ca}.key`), '-out', file(`${ca}.crt`)];
    await openssl(['req', '-x509', ...newKey, ...out, '-subj', `/CN=Tessera LDAP test ${ca}`]);
  }
  await openssl([
    ...['req', '-x509', ...newKey, '-keyout', file('server.key'), '-out', file('server.crt')],
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

// ---------------------------------------------------------------------------------------------

describe('secrets stay out', () => {
  test('the Password Modify value never serialises its passwords', () => {
    const value = passwordModifyValue({
      userIdentity: 'uid=a,dc=b',
      oldPassword: 'old-secret-1',
      newPassword: 'new-secret-2',
    });
    const json = JSON.stringify({ value });
    assert.ok(!json.includes('old-secret-1') && !json.includes('new-secret-2'));
    assert.ok(value.includes(Buffer.from('new-secret-2')), 'the wire value carries it');
  });

  test('no reason and no line of the server log quotes a password', () => {
    assert.ok(reasonsSeen.length > 5, 'the other tests produced reasons');
    const log = slapd().readLog();
    assert.ok(log.includes('PASSMOD'), 'the log records the operations');
    for (const secret of secretsUsed) {
      for (const reason of reasonsSeen)
        assert.ok(!reason.includes(secret), 'a reason quotes a secret');
      assert.ok(!log.includes(secret), 'the server log quotes a secret');
    }
  });
});
