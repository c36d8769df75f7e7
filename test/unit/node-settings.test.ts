import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  commandOf,
  nodeArguments,
  notGiven,
  SERVER_NODE_FLAGS,
  startableFlags,
} from '../../src/node-settings.ts';

describe('the server Node settings', () => {
  it('are all options this Node starts with', () => {
    assert.deepEqual(startableFlags(SERVER_NODE_FLAGS), SERVER_NODE_FLAGS);
  });

  it('leave out an option this Node does not know, instead of failing to start', () => {
    const flags = ['--max-semi-space-size=8', '--tessera-no-such-v8-option', '--stack-size=900'];
    assert.deepEqual(startableFlags(flags), ['--max-semi-space-size=8', '--stack-size=900']);
  });

  it('are for the server command only, wherever the global options stand', () => {
    const server = [
      ['server', '--dev'],
      ['-o', 'json', 'server'],
      ['--output', 'json', '--addr', 'http://127.0.0.1:1', 'server', '--listen', '127.0.0.1:0'],
      ['--output=json', '--no-input', 'server'],
    ];
    for (const argv of server) assert.equal(commandOf(argv), 'server', argv.join(' '));
    const others = [
      ['target', 'add', 'server'],
      ['--addr', 'server', 'operator', 'status'],
      ['-o', 'server', 'secret', 'get', 'x'],
      ['--version'],
      [],
    ];
    for (const argv of others) assert.notEqual(commandOf(argv), 'server', argv.join(' '));
  });
});

describe('settings given by hand', () => {
  it('win, on the command line or in NODE_OPTIONS, in any spelling V8 reads', () => {
    const own = nodeArguments(
      ['--no-external-memory-accounted-in-global-limit'],
      ' --max_semi_space_size=32 "--stack-size=900"',
    );
    assert.deepEqual(own, [
      '--no-external-memory-accounted-in-global-limit',
      '--max_semi_space_size=32',
      '--stack-size=900',
    ]);
    assert.deepEqual(notGiven(SERVER_NODE_FLAGS, own), ['--initial-old-space-size=128']);
    assert.deepEqual(notGiven(SERVER_NODE_FLAGS, nodeArguments([], undefined)), SERVER_NODE_FLAGS);
  });
});
