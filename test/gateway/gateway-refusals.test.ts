import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { MAX_AUTH_FAILURES, MAX_KEY_OFFERS } from '../../src/gateway/authenticate.ts';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  keyPair,
  linuxAccount,
  recordingFiles,
  runClient,
  sshOptions,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

const execFileAsync = promisify(execFile);

/** What the client printed, without OpenSSH's own notices. */
const said = (stderr: string) =>
  stderr
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.startsWith('tessera:'))
    .join('\n');

describe('ssh gateway: refusals', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  const passwordAccount = async (
    user: string,
    extra: { hostKey?: string; permissions?: string[] } = {},
  ) => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgr', { password });
    const account = await linuxAccount(h, sshd(), {
      user,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
      ...extra,
    });
    return { ...account, linux: linux.name, password };
  };

  it('refuses a target whose host key changed, before sending the credential', async () => {
    const user = await gatewayUser(h);
    const other = await keyPair(h.dir, unique('other-host-'));
    const { login, linux } = await passwordAccount(user.name, { hostKey: other.publicKey });
    const recordingsBefore = recordingFiles(h);

    const result = await sshThrough(h, user.key.file, login, { command: 'echo should-not-run' });
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.match(said(result.stderr), /tessera: target host key changed/);
    assert.doesNotMatch(sshd().readLog(), new RegExp(`(Accepted|Failed) password for ${linux}`));
    // The recording is opened while the target is reached; a link that fails leaves none behind.
    assert.deepEqual(recordingFiles(h), recordingsBefore);

    const refusals = await auditEvents(h, 'session.refuse');
    const refusal = refusals.find((e) => e.object_name?.endsWith(`/${linux}`));
    assert.equal(refusal?.outcome, 'denied');
    assert.equal(refusal?.details.why, 'host-key-changed');
    assert.equal(refusal?.actor_name, user.name);
  });

  it('answers a user without permission exactly as for an account that does not exist', async () => {
    const user = await gatewayUser(h);
    const { login } = await passwordAccount(user.name, { permissions: ['list'] });

    const forbidden = await sshThrough(h, user.key.file, login, { command: 'true' });
    const missing = await sshThrough(h, user.key.file, `nobody@${unique('nosuch')}`, {
      command: 'true',
    });
    assert.equal(forbidden.code, 1);
    assert.equal(missing.code, 1);
    assert.equal(said(forbidden.stderr), 'tessera: no such account, or you may not connect to it');
    assert.equal(said(forbidden.stderr), said(missing.stderr));

    const refusals = await auditEvents(h, 'session.refuse');
    const whys = refusals.filter((e) => e.actor_name === user.name).map((e) => e.details.why);
    assert.deepEqual(whys, ['no-permission', 'unknown-account']);
  });

  it('refuses a key nobody registered without saying more', async () => {
    const user = await gatewayUser(h);
    const { login } = await passwordAccount(user.name);
    const stranger = await keyPair(h.dir, unique('stranger-'));
    const result = await sshThrough(h, stranger.file, login, { command: 'true' });
    assert.equal(result.code, 255);
    assert.match(result.stderr, /Permission denied \(publickey\)/);
    assert.doesNotMatch(result.stderr, /tessera:/);
    const failed = await eventually(async () => {
      const events = await auditEvents(h, 'auth.ssh');
      return events.find((e) => e.outcome === 'failure' && e.details.login === login);
    });
    assert.equal(failed.details.unknownKeys, 1);
  });

  it('disconnects a client that keeps offering keys, known and unsigned or unknown', async () => {
    const user = await gatewayUser(h);
    const { login } = await passwordAccount(user.name);
    /** How many times the client offered `key` before the gateway closed the connection. */
    const offers = async (key: ssh2.ParsedKey) => {
      let count = 0;
      const client = new ssh2.Client();
      client.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
      client.connect({
        host: '127.0.0.1',
        port: h.gateway.port,
        username: login,
        hostVerifier: () => true,
        authHandler: (_methods, _partial, next) => {
          count += 1;
          // false tells ssh2 there is nothing left to try (its types leave that out).
          if (count > 30) return next(false as unknown as ssh2.AnyAuthMethod);
          next({ type: 'publickey', username: login, key });
        },
      });
      await closed;
      return count;
    };
    const parse = (text: string | Buffer) => {
      const key = ssh2.utils.parseKey(text);
      if (key instanceof Error || Array.isArray(key)) throw new Error('no key');
      return key;
    };

    // The registered key, asked about again and again and never signed with.
    const unsigned = parse(readFileSync(user.key.file));
    // ssh2 moves on to its next offer when signing returns an error.
    const refuseToSign = () => new Error('this client does not sign');
    unsigned.sign = refuseToSign as unknown as typeof unsigned.sign;
    // The client may ask its handler once more before it reads the disconnect.
    assert.ok((await offers(unsigned)) <= MAX_KEY_OFFERS + 2);
    const stranger = await keyPair(h.dir, unique('many-'));
    assert.ok((await offers(parse(stranger.privateKey))) <= MAX_AUTH_FAILURES + 1);
  });

  it('refuses port forwarding by default and audits the attempt', async () => {
    const user = await gatewayUser(h);
    const { login, linux } = await passwordAccount(user.name);
    const args = [
      ...sshOptions(h, user.key.file),
      '-W',
      `127.0.0.1:${sshd().port}`,
      '-p',
      String(h.gateway.port),
      `${login}@127.0.0.1`,
    ];
    const result = await runClient('ssh', args);
    assert.equal(result.code, 255);
    assert.match(result.stderr, /open failed/);

    const refused = await auditEvents(h, 'session.forward.refuse');
    const attempt = refused.find((e) => e.object_name?.endsWith(`/${linux}`));
    assert.equal(attempt?.details.feature, 'local-forwarding');
    assert.equal(attempt?.details.port, sshd().port);
    assert.equal(attempt?.outcome, 'denied');
  });

  it('refuses X11 forwarding, audits the attempt, and still runs the command', async () => {
    const user = await gatewayUser(h);
    const { login, linux } = await passwordAccount(user.name);
    const result = await sshThrough(h, user.key.file, login, {
      args: ['-Y', '-o', 'XAuthLocation=/nonexistent'],
      command: 'echo ran; echo "display=[$DISPLAY]"',
      env: { DISPLAY: ':99' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'ran\ndisplay=[]\n');
    const refused = await eventually(async () => {
      const events = await auditEvents(h, 'session.forward.refuse');
      return events.find((e) => e.object_name?.endsWith(`/${linux}`));
    });
    assert.equal(refused.details.feature, 'x11');
  });

  it('refuses a session when the recordings folder is read-only, and says why', async (t) => {
    const user = await gatewayUser(h);
    const { login, linux } = await passwordAccount(user.name);
    const folder = path.join(h.server.dataDir, 'recordings');
    mkdirSync(folder, { recursive: true });
    try {
      await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', folder]);
    } catch {
      t.skip('cannot mount a read-only folder here');
      return;
    }
    try {
      const result = await sshThrough(h, user.key.file, login, { command: 'echo unrecorded' });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(said(result.stderr), /cannot be recorded.*refused/);
    } finally {
      await execFileAsync('umount', [folder]);
    }
    const refusals = await auditEvents(h, 'session.refuse');
    const refusal = refusals.find((e) => e.object_name?.endsWith(`/${linux}`));
    assert.equal(refusal?.details.why, 'recording-unavailable');
    // Nothing ran unrecorded.
    assert.doesNotMatch(sshd().readLog(), new RegExp(`Starting session: command for ${linux}`));
  });
});
