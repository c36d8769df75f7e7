/** `--node-url`: where the other nodes reach this node's API, as one origin. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNodeUrl, parseServerConfig } from '../../src/cli/server-config.ts';

describe('--node-url', () => {
  it('keeps the origin of an http or https address', () => {
    assert.equal(parseNodeUrl('http://10.0.0.5:7200', '--node-url'), 'http://10.0.0.5:7200');
    assert.equal(parseNodeUrl('http://10.0.0.5:7200/', '--node-url'), 'http://10.0.0.5:7200');
    assert.equal(parseNodeUrl('HTTPS://Node-2.Internal', '--node-url'), 'https://node-2.internal');
    assert.equal(parseNodeUrl('http://[fd00::5]:7200', '--node-url'), 'http://[fd00::5]:7200');
  });

  it('refuses anything after the port, a user, or another scheme', () => {
    for (const text of ['', 'node-2:7200', 'ws://node-2:7200', 'http://u:p@node-2', 'http://n/x']) {
      assert.throws(() => parseNodeUrl(text, 'TESSERA_NODE_URL'), /TESSERA_NODE_URL must be/);
    }
  });
});

describe('tessera server with --node-url', () => {
  const configWith = (nodeUrl: string | undefined, env: Record<string, string> = {}) =>
    parseServerConfig(
      { dataDir: '/tmp/tessera-node-url', listen: '127.0.0.1:7200', sshListen: 'off', nodeUrl },
      env,
      '/',
    );

  it('gives other nodes the address, warning when it is plain http across a network', () => {
    const plain = configWith('http://10.0.0.5:7200');
    assert.equal(plain.config.nodeUrl, 'http://10.0.0.5:7200');
    assert.ok(plain.warnings.some((w) => /--node-url is plain http/.test(w)));
    const tls = configWith(undefined, { TESSERA_NODE_URL: 'https://node-2.internal:7443' });
    assert.equal(tls.config.nodeUrl, 'https://node-2.internal:7443');
    assert.deepEqual(tls.warnings, []);
    assert.deepEqual(configWith('http://127.0.0.1:7300').warnings, [], 'loopback stays here');
    assert.deepEqual(configWith('http://[::1]:7300').warnings, [], 'IPv6 loopback too');
    assert.equal(configWith(undefined).config.nodeUrl, undefined, 'the server decides');
  });
});
