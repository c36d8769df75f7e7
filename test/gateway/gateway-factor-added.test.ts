/**
 * Regression: confirming a second factor ends the user's other sign-ins, but a gateway
 * connection made earlier with the password alone (keyboard-interactive, no code) kept running
 * and opening channels, and a live-session watch kept streaming after its watcher's token was
 * revoked. A thief who had the password before the factor arrived kept both. Also the watch
 * added a watcher to a session that ended while its audit event was written. A password
 * connection likewise ends once that password is changed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import ssh2 from 'ssh2';
import { useSshd } from '../support/sshd.ts';
import {
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  passwordUser,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

const STEP_MS = 30_000;

interface Open {
  readonly client: ssh2.Client;
  readonly closed: Promise<void>;
  isClosed(): boolean;
  run(command: string): Promise<string>;
}

/** An ssh2 connection to the gateway, with the password (kbd-int) or a console ticket. */
async function connect(
  h: Harness,
  login: string,
  auth: { user: string; password: string; code?: () => string } | { ticket: string },
): Promise<Open> {
  const client = new ssh2.Client();
  let closed = false;
  const closedPromise = new Promise<void>((resolve) =>
    client.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  client.on('error', () => undefined);
  client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => {
    if (!('user' in auth)) return finish([]);
    finish(
      prompts.map((p) => {
        if (/user/i.test(p.prompt)) return auth.user;
        return /code/i.test(p.prompt) ? (auth.code?.() ?? '') : auth.password;
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: h.gateway.port,
      username: login,
      hostVerifier: () => true,
      ...('ticket' in auth ? { password: auth.ticket } : { tryKeyboard: true }),
    });
  });
  const run = (command: string) =>
    new Promise<string>((resolve, reject) => {
      client.exec(command, (error, stream) => {
        if (error) return reject(error);
        const out: Buffer[] = [];
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => out.push(d));
        stream.on('close', () => resolve(Buffer.concat(out).toString()));
      });
    });
  return { client, closed: closedPromise, isClosed: () => closed, run };
}

/** Resolves with the close code of `socket`, or null if it is still open after `ms`. */
function closeCode(socket: WebSocket, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    socket.addEventListener('close', (event) => {
      clearTimeout(timer);
      resolve(event.code);
    });
  });
}

describe('regression: confirming a second factor ends the sign-ins made without it', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness({ passwordLogin: true, recheckIntervalMs: 300 });
  });
  after(() => h?.stop());

  it('ends a console terminal and a password connection opened before the factor', async () => {
    const { name, password, login, linux } = await passwordUser(h, sshd(), {
      linux: 'tmc',
      user: 'mfc-',
    });
    const signIn = () =>
      h.api<{ token: string; tokenId: string; user: { id: string } }>('POST', '/v1/auth/login', {
        token: null,
        body: { user: name, password },
      });

    // The thief, with the password alone, before any factor: a gateway connection by password
    // and a console terminal (a ticket under a login token, as terminal-routes.ts makes one).
    const thief = await signIn();
    assert.equal(thief.status, 200);
    const byPassword = await connect(h, login, { user: name, password });
    assert.equal((await byPassword.run('id -un')).trim(), linux.name);
    const ticket = h.services.consoleTickets.issue(
      {
        id: thief.body.user.id,
        name,
        role: 'user',
        tokenId: thief.body.tokenId,
        source: '127.0.0.1',
      },
      login,
    );
    const byConsole = await connect(h, login, { ticket });
    assert.equal((await byConsole.run('id -un')).trim(), linux.name);

    // The owner enrols and confirms a factor from a sign-in of their own.
    const own = await signIn();
    const enrolled = await h.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
      token: own.body.token,
    });
    const totp = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret), period: 30 });
    const confirmed = await h.api('POST', '/v1/auth/mfa/confirm', {
      token: own.body.token,
      body: { code: totp.generate({ timestamp: Date.now() - STEP_MS }) },
    });
    assert.equal(confirmed.status, 200, confirmed.text);
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const probe = await h.api('GET', '/v1/auth/self', { token: thief.body.token });
    assert.equal(probe.status, 401, 'the token taken with the password alone still works');
    assert.equal(byConsole.isClosed(), true, 'the console terminal outlived the factor');
    const passwordClosed = byPassword.isClosed();
    byPassword.client.end();
    byConsole.client.end();
    assert.equal(passwordClosed, true, 'a connection made with the password alone still runs');
  });

  it('ends a password connection once that password is changed', async () => {
    const { name, password, login, linux } = await passwordUser(h, sshd(), {
      linux: 'tmp',
      user: 'pwc-',
    });
    const byPassword = await connect(h, login, { user: name, password });
    assert.equal((await byPassword.run('id -un')).trim(), linux.name);
    // Several sweeps pass with the password unchanged: the connection stays.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(byPassword.isClosed(), false, 'ended with its password unchanged');

    // The leak is found: an administrator resets the password.
    const reset = await h.api('PUT', `/v1/users/${name}/password`, {
      body: { password: `new-${randomBytes(9).toString('base64url')}` },
    });
    assert.equal(reset.status, 204, reset.text);
    await eventually(async () => (byPassword.isClosed() ? true : undefined));
    const events = await h.server.services.store.db
      .selectFrom('audit_events')
      .select(['action', 'details'])
      .where('actor_name', '=', name)
      .execute();
    assert.match(JSON.stringify(events), /password-changed/, 'the ending is audited with why');
  });

  it('keeps a password connection that gave its code', async () => {
    const { name, password, login, linux } = await passwordUser(h, sshd(), {
      linux: 'tmk',
      user: 'mfk-',
    });
    const own = await h.api<{ token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password },
    });
    const enrolled = await h.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
      token: own.body.token,
    });
    const totp = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret), period: 30 });
    const confirmed = await h.api('POST', '/v1/auth/mfa/confirm', {
      token: own.body.token,
      body: { code: totp.generate({ timestamp: Date.now() - STEP_MS }) },
    });
    assert.equal(confirmed.status, 200, confirmed.text);

    const code = () => totp.generate({ timestamp: Date.now() });
    const withCode = await connect(h, login, { user: name, password, code });
    // Several re-check sweeps (300 ms each) pass: the connection stays and opens channels.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(withCode.isClosed(), false, 'a connection that gave its code was ended');
    assert.equal((await withCode.run('id -un')).trim(), linux.name);
    withCode.client.end();
  });
  it("closes a watch with 4401 once its watcher's token is revoked by a new factor", async () => {
    const linuxPassword = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tmw', { password: linuxPassword });
    const worker = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: worker.name,
      secret: linuxPassword,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const running = sshThrough(h, worker.key.file, login, {
      command: 'for i in $(seq 1 100); do echo tick-$i; sleep 0.1; done',
      timeoutMs: 30_000,
    });
    const live = await eventually(async () => {
      const list = await h.api<{ sessions: Array<{ id: string }> }>(
        'GET',
        `/v1/sessions?live=true&user=${worker.name}`,
      );
      return list.body.sessions?.[0];
    });

    // An auditor whose password was stolen before they had a factor.
    const name = unique('aud-');
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    await h.api('POST', '/v1/users', { body: { name, role: 'auditor', password } });
    const signIn = () =>
      h.api<{ token: string }>('POST', '/v1/auth/login', {
        token: null,
        body: { user: name, password },
      });
    const thief = await signIn();
    const url = `${h.apiUrl.replace('http', 'ws')}/v1/sessions/${live.id}/watch`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${thief.body.token}` } });
    socket.binaryType = 'arraybuffer';
    let received = 0;
    socket.addEventListener('message', (message) => {
      if (typeof message.data !== 'string') received += 1;
    });
    await new Promise((resolve) => socket.addEventListener('open', resolve));
    const closed = closeCode(socket, 5_000);

    const own = await signIn();
    const enrolled = await h.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
      token: own.body.token,
    });
    const totp = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret), period: 30 });
    const confirmed = await h.api('POST', '/v1/auth/mfa/confirm', {
      token: own.body.token,
      body: { code: totp.generate({ timestamp: Date.now() - STEP_MS }) },
    });
    assert.equal(confirmed.status, 200, confirmed.text);
    // The watch checks its watcher's token every 2 s.
    assert.equal(await closed, 4401, 'the watch of a revoked token was not closed');
    const before = received;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(received, before, 'the watch kept streaming after it closed');
    await running;
  });

  it('refuses a watcher whose session ended while the watch was audited', async () => {
    const linuxPassword = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tml', { password: linuxPassword });
    const worker = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: worker.name,
      secret: linuxPassword,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const running = sshThrough(h, worker.key.file, login, {
      command: 'sleep 1',
      timeoutMs: 30_000,
    });
    const live = await eventually(async () => {
      const list = await h.api<{ sessions: Array<{ id: string }> }>(
        'GET',
        `/v1/sessions?live=true&user=${worker.name}`,
      );
      return list.body.sessions?.[0];
    });

    // The audit write of the watch takes until after the session ended.
    const ended = async () => {
      await running;
      await eventually(() =>
        h.services.liveSessions.get(live.id) === undefined ? true : undefined,
      );
    };
    const { audit } = h.server.services;
    const record = audit.record;
    audit.record = async (event) => {
      if (event.action === 'session.watch') await ended();
      return record.call(audit, event);
    };
    try {
      const url = `${h.apiUrl.replace('http', 'ws')}/v1/sessions/${live.id}/watch`;
      const headers = { authorization: `Bearer ${h.server.rootToken}` };
      const socket = new WebSocket(url, { headers });
      assert.equal(await closeCode(socket, 5_000), 4404, 'the late watcher was not refused');
    } finally {
      audit.record = record;
    }
  });
});
