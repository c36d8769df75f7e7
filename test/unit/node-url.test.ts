/** `--node-url`: where the other nodes reach this node's API, as one origin. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNodeUrl } from '../../src/cli/server-config.ts';

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
