import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SERVER_NODE_FLAGS, startableFlags } from '../../src/node-settings.ts';

describe('the server Node settings', () => {
  it('are all options this Node starts with', () => {
    assert.deepEqual(startableFlags(SERVER_NODE_FLAGS), SERVER_NODE_FLAGS);
  });

  it('leave out an option this Node does not know, instead of failing to start', () => {
    const flags = ['--max-semi-space-size=8', '--tessera-no-such-v8-option', '--stack-size=900'];
    assert.deepEqual(startableFlags(flags), ['--max-semi-space-size=8', '--stack-size=900']);
  });
});
