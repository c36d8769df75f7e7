import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, createConnection, createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Secret, TOTP } from 'otpauth';
import ssh2 from 'ssh2';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  recordingFiles,
  sshThrough,
  startHarness,
} from './support.ts';

const execFileAsync = promisify(execFile);

/** Connects an ssh2 client to the gateway; resolves once authenticated. */
function connect(
  h: Harness,
  config: ssh2.ConnectConfig,
  onPrompt?: (prompts: ssh2.Prompt[]) => string[],
) {
  const client = new ssh2.Client();
  if (onPrompt !== undefined) {
    client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(onPrompt(prompts)));
  }
  return new Promise<ssh2.Client>((resolve, reject) => {
    client.on('ready', () => resolve(client)).on('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: h.gateway.port,
      hostVerifier: () => true,
      ...config,
    });
  });
}

describe('ssh gateway: failures of clients, targets and disks', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness({ passwordLogin: true });
  });
  after(() => h?.stop());

  const account = async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgx', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    return { user, login, linux: linux.name, password };
  };

  for (const leaving of ['closes the channel', 'hangs up'] as const) {
    it(`runs nothing for a user who ${leaving} while the target's login is slow`, async (t) => {
      // A target that answers 1.5 s late: the session channel is accepted, and its recording
      // opened, while the gateway still logs in to it.
      const slow = createServer((user) => {
        user.pause();
        const target = createConnection(sshd().port, '127.0.0.1');
        target.on('error', () => user.destroy());
        user.on('error', () => target.destroy());
        setTimeout(() => {
          user.pipe(target).pipe(user);
          user.resume();
        }, 1_500);
      });
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      t.after(() => slow.close());
      const password = `Pw-${randomBytes(12).toString('base64url')}`;
      const linux = await sshd().createUser('tgl', { password });
      const user = await gatewayUser(h);
      const port = (slow.address() as AddressInfo).port;
      const { login } = await linuxAccount(
        h,
        { ...sshd(), port },
        {
          user: user.name,
          secret: password,
          secretType: 'password',
          linuxUser: linux.name,
        },
      );
      const recordingsBefore = recordingFiles(h);
      const client = await connect(h, { username: login, privateKey: readFileSync(user.key.file) });
      const marker = path.join(linux.home, 'ran');
      await new Promise<void>((resolve, reject) => {
        client.exec(`touch ${marker}`, (error, channel) => {
          if (error !== undefined) return reject(error);
          channel.resume();
          setTimeout(() => (leaving === 'hangs up' ? client.end() : channel.close()), 100);
          resolve();
        });
      });
      // Past the target's late answer, and the time a command would take to run.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      client.end();
      assert.equal(existsSync(marker), false, 'the command ran');
      assert.deepEqual(recordingFiles(h), recordingsBefore, 'a recording was left behind');
      for (const action of ['session.start', 'session.refuse']) {
        const events = await auditEvents(h, action);
        assert.deepEqual(
          events.filter((e) => e.actor_name === user.name),
          [],
          `${action} for a session that never started`,
        );
      }
    });
  }

  it('ends a session whose recording fails midway (disk full) and says why', async (t) => {
    const { user, login } = await account();
    const folder = path.join(h.server.dataDir, 'recordings');
    mkdirSync(folder, { recursive: true });
    try {
      await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', folder]);
    } catch {
      t.skip('cannot mount a small folder here');
      return;
    }
    try {
      const result = await sshThrough(h, user.key.file, login, {
        command: 'head -c 2000000 /dev/urandom | base64; sleep 5; echo survived',
      });
      assert.notEqual(result.code, 0);
      assert.doesNotMatch(result.stdout, /survived/);
      assert.match(result.stderr, /the recording failed, so the session has ended/);
      const end = await eventually(async () => {
        const ends = await auditEvents(h, 'session.end');
        return ends.find((e) => e.actor_name === user.name);
      });
      assert.equal(end.details.reason, 'recording failed');
      assert.equal(end.details.state, 'ended_abnormally');
    } finally {
      await execFileAsync('umount', [folder]);
    }
  });

  it('delivers interleaved stdout and stderr intact to a client that reads slowly', async () => {
    // ssh2 1.17 can resend a stale stdout chunk, or starve stderr, when both wait for the
    // client's window; the gateway writes one chunk at a time to keep clear of that. This pins
    // the outcome: every byte once and in order, and every stderr line.
    const { user, login } = await account();
    const script = [
      'head -c 3000000 /dev/urandom > blob',
      'for i in $(seq 1 100); do dd if=blob bs=30000 skip=$((i-1)) count=1 2>/dev/null; echo "err$i" >&2; done',
      'sha256sum blob >&2; rm blob',
    ].join('; ');
    const result = await sshThrough(h, user.key.file, login, {
      command: script,
      slowReadMs: 2,
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    const digest = createHash('sha256').update(result.stdoutBytes).digest('hex');
    assert.equal(result.stdoutBytes.length, 3_000_000);
    assert.match(result.stderr, new RegExp(`^${digest}  blob$`, 'm'));
    for (let i = 1; i <= 100; i++) assert.match(result.stderr, new RegExp(`^err${i}$`, 'm'));
  });

  it('survives garbage and half-finished handshakes, and keeps serving', async () => {
    const { user, login } = await account();
    for (const bytes of [
      randomBytes(4096),
      Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), randomBytes(8192)]),
    ]) {
      const socket = createConnection({ host: '127.0.0.1', port: h.gateway.port });
      socket.on('error', () => undefined);
      socket.write(bytes);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
    }
    const result = await sshThrough(h, user.key.file, login, { command: 'echo alive' });
    assert.equal(result.stdout, 'alive\n');
  });

  it('ends an sftp session whose stream is not sftp, rather than pass what it cannot log', async () => {
    const { user, login } = await account();
    const client = await connect(h, { username: login, privateKey: readFileSync(user.key.file) });
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.subsys('sftp', (error, opened) => (error ? reject(error) : resolve(opened))),
    );
    channel.on('data', () => undefined);
    channel.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01, 0x02]));
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    const end = await eventually(async () => {
      const ends = await auditEvents(h, 'session.end');
      return ends.find((e) => e.actor_name === user.name);
    });
    assert.match(String(end.details.reason), /^sftp stream not understood: /);
  });

  it('lets a user in with their Tessera password (keyboard-interactive), through the throttle', async () => {
    const { login } = await account();
    const name = `kb-${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    await h.server.api('POST', '/v1/users', { body: { name, role: 'user', password } });
    const safe = (
      await h.server.services.accounts.find({
        target: login.split('@')[1] ?? '',
        username: login.split('@')[0] ?? '',
      })
    ).safe;
    await h.server.api('PUT', `/v1/safes/${safe}/members/${name}`, {
      body: { permissions: ['use'] },
    });

    const answers = (secret: string) => (prompts: ssh2.Prompt[]) =>
      prompts.map((p) => (p.echo === true ? name : secret));
    await assert.rejects(
      connect(
        h,
        { username: login, tryKeyboard: true, authHandler: ['keyboard-interactive'] },
        answers('wrong'),
      ),
    );
    const client = await connect(
      h,
      { username: login, tryKeyboard: true, authHandler: ['keyboard-interactive'] },
      answers(password),
    );
    const output = await new Promise<string>((resolve, reject) => {
      client.exec('echo by-password', (error, channel) => {
        if (error) return reject(error);
        let text = '';
        channel.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        channel.on('close', () => resolve(text));
      });
    });
    client.end();
    assert.equal(output, 'by-password\n');
    const logins = (await auditEvents(h, 'auth.login')).filter((e) => e.actor_name === name);
    assert.deepEqual(
      logins.map((e) => e.outcome),
      ['failure', 'success'],
    );
    // The token a login issues is of no use to the gateway: none is left live.
    const live = await h.server.services.store.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select('tokens.id')
      .where('users.name', '=', name)
      .where('tokens.revoked_at', 'is', null)
      .execute();
    assert.equal(live.length, 0);
    assert.ok(!h.logText().includes(password));
  });

  it('asks a user with a second factor for a code after the password, once each', async () => {
    const { login } = await account();
    const name = `kb2-${randomBytes(4).toString('hex')}`;
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    await h.server.api('POST', '/v1/users', { body: { name, role: 'user', password } });
    const [accountName = '', target = ''] = login.split('@');
    const { safe } = await h.server.services.accounts.find({ target, username: accountName });
    await h.server.api('PUT', `/v1/safes/${safe}/members/${name}`, {
      body: { permissions: ['use'] },
    });
    const signedIn = await h.server.api<{ token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password },
    });
    const token = signedIn.body.token;
    const enrolled = await h.server.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
      token,
    });
    const secret = Secret.fromBase32(enrolled.body.secret);
    const codeAt = (at: number) => TOTP.generate({ secret, timestamp: at });
    // Confirmed with the code of the step before (within the window), so that the current one
    // is still unused for the gateway.
    const confirmed = await h.server.api('POST', '/v1/auth/mfa/confirm', {
      token,
      body: { code: codeAt(Date.now() - 30_000) },
    });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));

    const asked: string[][] = [];
    const answers = (code: string) => (prompts: ssh2.Prompt[]) => {
      asked.push(prompts.map((p) => p.prompt));
      return prompts.map((p) => {
        if (p.prompt.includes('code')) return code;
        return p.echo === true ? name : password;
      });
    };
    const config: ssh2.ConnectConfig = {
      username: login,
      tryKeyboard: true,
      authHandler: ['keyboard-interactive'],
    };
    // The password alone is not enough: a wrong code, or none, is refused.
    await assert.rejects(connect(h, config, answers('000000')));
    await assert.rejects(connect(h, config, answers('')));
    assert.ok(
      asked.some((prompts) => prompts.some((p) => /code/i.test(p))),
      'no code asked',
    );

    const code = codeAt(Date.now());
    const client = await connect(h, config, answers(code));
    const output = await new Promise<string>((resolve, reject) => {
      client.exec('echo with-code', (error, channel) => {
        if (error) return reject(error);
        let text = '';
        channel.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        channel.on('close', () => resolve(text));
      });
    });
    client.end();
    assert.equal(output, 'with-code\n');
    // The same code a second time is refused: it was used up.
    await assert.rejects(connect(h, config, answers(code)));
    const checks = (await auditEvents(h, 'mfa.verify')).filter((e) => e.actor_name === name);
    assert.ok(checks.some((e) => e.outcome === 'success'));
    assert.ok(checks.some((e) => e.outcome === 'failure'));
    assert.ok(!h.logText().includes(password));
  });
});
