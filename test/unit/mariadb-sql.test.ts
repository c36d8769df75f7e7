/**
 * The MariaDB connector's text handling without a server: account names, literals, the
 * authentication clause of SHOW CREATE USER, and the ed25519 arithmetic checked against
 * node:crypto's own Ed25519 verification.
 */
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { test } from 'node:test';
import { ed25519AuthString, ed25519SignNonce } from '../../src/connectors/mariadb-ed25519.ts';
import {
  nativePasswordHash,
  parseAccountName,
  parseAuthMethod,
  quoteLiteral,
  quoteRow,
} from '../../src/connectors/mariadb-sql.ts';

test('account names split at the last @; a bare name means every row', () => {
  assert.deepEqual(parseAccountName('app'), { user: 'app', host: null });
  assert.deepEqual(parseAccountName('app@10.0.%'), { user: 'app', host: '10.0.%' });
  assert.deepEqual(parseAccountName('ops@corp@%'), { user: 'ops@corp', host: '%' });
  for (const bad of ['', '@host', 'app@', 'a\u0000b', '\ud800']) {
    assert.equal(typeof parseAccountName(bad), 'string', JSON.stringify(bad));
  }
});

test('rows are back-quoted with inner back quotes doubled, whatever else they hold', () => {
  assert.equal(quoteRow({ user: "a`b'c\\", host: '%' }), "`a``b'c\\`@`%`");
});

test('literals follow the sql_mode: backslashes double only when they escape', () => {
  const value = `a\\'b`;
  assert.equal(quoteLiteral(value, 'STRICT_TRANS_TABLES'), `'a\\\\''b'`);
  assert.equal(quoteLiteral(value, 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'), `'a\\''b'`);
  assert.equal(quoteLiteral(value, 'no_backslash_escapes'), `'a\\''b'`);
});

test('the native hash covers the exact UTF-8 bytes (no normalisation)', () => {
  // Values from the server: SELECT PASSWORD('secret'), PASSWORD('pw1').
  assert.equal(nativePasswordHash('secret'), '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7');
  assert.equal(nativePasswordHash('pw1'), '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3');
  assert.notEqual(nativePasswordHash('\u00e9'), nativePasswordHash('e\u0301'));
});

test('SHOW CREATE USER: plugin, stored value and alternatives are read', () => {
  const cases: [string, ReturnType<typeof parseAuthMethod>][] = [
    [
      "CREATE USER `u1`@`%` IDENTIFIED BY PASSWORD '*E6CC90B878B948C35E92B003C792C46C58C4AF40'",
      {
        plugin: 'mysql_native_password',
        authString: '*E6CC90B878B948C35E92B003C792C46C58C4AF40',
        alternatives: false,
      },
    ],
    [
      "CREATE USER `u``2`@`h` IDENTIFIED VIA ed25519 USING 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY'",
      {
        plugin: 'ed25519',
        authString: 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY',
        alternatives: false,
      },
    ],
    [
      "CREATE USER `u3`@`%` IDENTIFIED VIA ed25519 USING 'GvRm' OR mysql_native_password USING '*F3'",
      { plugin: 'ed25519', authString: 'GvRm', alternatives: true },
    ],
    [
      "CREATE USER 'm'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x' REQUIRE NONE",
      { plugin: 'caching_sha2_password', authString: '$A$005$x', alternatives: false },
    ],
    [
      'CREATE USER `u5`@`%` IDENTIFIED VIA unix_socket',
      {
        plugin: 'unix_socket',
        authString: '',
        alternatives: false,
      },
    ],
    [
      'CREATE USER `u4`@`%`',
      { plugin: 'mysql_native_password', authString: '', alternatives: false },
    ],
    ["CREATE USER `u6`@`%` IDENTIFIED VIA 'unterminated", undefined],
  ];
  for (const [line, expected] of cases) assert.deepEqual(parseAuthMethod(line), expected, line);
});

test('ed25519: the stored key matches the server, and signatures verify with node:crypto', () => {
  // Value from the server: CREATE USER … IDENTIFIED VIA ed25519 USING PASSWORD('secret').
  assert.equal(ed25519AuthString('secret'), 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY');

  for (const password of ['secret', 'e\u0301', 'x'.repeat(200)]) {
    const x = Buffer.from(ed25519AuthString(password), 'base64').toString('base64url');
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    const nonce = randomBytes(32);
    const signature = ed25519SignNonce(password, nonce);

    assert.equal(signature.length, 64);
    assert.equal(verify(null, nonce, key, signature), true);
    assert.equal(verify(null, randomBytes(32), key, signature), false);
  }
});
