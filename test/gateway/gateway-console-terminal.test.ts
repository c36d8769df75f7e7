import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  startHarness,
} from './support.ts';

type Row = Record<string, unknown>;

/**
 * The web console's terminal is a WebSocket that the server turns into a session through its own
 * SSH gateway: same access decision, recording, live list and kill as an OpenSSH client's.
 */
describe('ssh gateway: the console terminal over a WebSocket', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness({ store: 'sqlite' });
  });
  after(() => h?.stop());

  const account = async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgc', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const [account, target] = splitLogin(login);
    return { user, login, account, target, password };
  };

  const open = (token: string, target: string, accountName: string) => {
    const url =
      `${h.apiUrl.replace('http', 'ws')}/v1/terminal?target=${encodeURIComponent(target)}` +
      `&account=${encodeURIComponent(accountName)}&cols=100&rows=30`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } } as never);
    socket.binaryType = 'arraybuffer';
    let text = '';
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      socket.addEventListener('close', (event) =>
        resolve({ code: event.code, reason: event.reason }),
      );
    });
    socket.addEventListener('message', (event) => {
      if (event.data instanceof ArrayBuffer) text += Buffer.from(event.data).toString('utf8');
    });
    const opened = new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve());
      socket.addEventListener('error', () => reject(new Error('websocket failed')));
    });
    return {
      socket,
      opened,
      closed,
      output: () => text,
      type: (input: string) => socket.send(new TextEncoder().encode(input)),
    };
  };

  it('runs a shell as the user, recorded and listed like any gateway session', async () => {
    const { user, account: name, target, password } = await account();
    const term = open(user.token, target, name);
    await term.opened;
    const mark = randomBytes(4).toString('hex');
    await eventually(async () => (term.output().length > 0 ? true : undefined));
    term.type(`echo console-$((40+2))-${mark}\r`);
    await eventually(async () => (term.output().includes(`console-42-${mark}`) ? true : undefined));
    assert.ok(!term.output().includes(password), 'the injected password never reaches the page');

    const live = await eventually(async () => {
      const list = await h.api<{ sessions: Row[] }>(
        'GET',
        `/v1/sessions?live=true&user=${user.name}`,
      );
      return list.body.sessions?.[0];
    });
    assert.equal(live.account, name);
    term.socket.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));

    const killed = await h.api('POST', `/v1/sessions/${String(live.id)}/kill`, {
      body: { reason: 'console test over' },
    });
    assert.equal(killed.status, 200, killed.text);
    await term.closed;
    assert.match(term.output(), /console test over/);

    const ended = await eventually(async () => {
      const found = await h.api<Row>('GET', `/v1/sessions/${String(live.id)}`);
      return found.body.state !== 'live' ? found.body : undefined;
    });
    assert.equal(ended.endReason, 'killed: console test over');
    const cast = await h.api('GET', `/v1/sessions/${String(live.id)}/recording`);
    assert.match(cast.text, new RegExp(`console-42-${mark}`), 'recorded as any session');
    const logins = await auditEvents(h, 'auth.ssh');
    assert.ok(logins.some((e) => e.actor_name === user.name && e.object_type === 'console-ticket'));
  });

  it('ends the terminal when the sign-in it was opened under ends', async () => {
    const { user, account: name, target } = await account();
    const term = open(user.token, target, name);
    await term.opened;
    await eventually(async () => (term.output().length > 0 ? true : undefined));
    const out = await h.api('POST', '/v1/auth/logout', { token: user.token });
    assert.ok(out.status < 300, out.text);
    // The sweep would find it within its interval; here it is asked at once.
    await h.services.connections.recheck();
    await term.closed;
    assert.match(term.output(), /your console sign-in ended/);
  });

  it('refuses a user without use on the account, as the gateway refuses any client', async () => {
    const { target, account: name } = await account();
    const stranger = await gatewayUser(h);
    const term = open(stranger.token, target, name);
    await term.opened.catch(() => undefined);
    await term.closed;
    assert.match(term.output(), /no such account, or you may not connect to it/);
    assert.equal((await h.api('GET', `/v1/sessions?live=true&user=${stranger.name}`)).status, 200);
  });

  it('refuses a socket without a login', async () => {
    const { target, account: name } = await account();
    const url = `${h.apiUrl.replace('http', 'ws')}/v1/terminal?target=${target}&account=${name}`;
    const socket = new WebSocket(url);
    const outcome = await new Promise<string>((resolve) => {
      socket.addEventListener('open', () => resolve('open'));
      socket.addEventListener('error', () => resolve('refused'));
    });
    assert.equal(outcome, 'refused');
  });
});

function splitLogin(login: string): [string, string] {
  const at = login.lastIndexOf('@');
  return [login.slice(0, at), login.slice(at + 1)];
}
