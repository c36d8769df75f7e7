/**
 * Agent and X11 forwarding through the gateway, with the real OpenSSH client (`ssh -A`, `ssh -Y`)
 * and a throw-away sshd that allows both: granted only as the account's session policy says,
 * and every grant, refusal and forwarded connection on the record. The user's agent is a
 * throw-away `ssh-agent`; their X server is a listener on a loopback port that reads the X11
 * connection setup and refuses it with a reason of its own, which the X client on the target
 * (`xdpyinfo`) then shows.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { X11Info } from 'ssh2';
import { AgentRelay } from '../../src/gateway/agent-forwarding.ts';
import { x11Request } from '../../src/gateway/x11-forwarding.ts';
import { type Sshd, useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  keyPair,
  linuxAccount,
  sshThrough,
  startHarness,
  unique,
} from './support.ts';

const execFileAsync = promisify(execFile);
const CLIENT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/** What the fake X server answers every connection with; the X client prints it. */
const X_REFUSAL = 'tessera test display says no';
/** OpenSSH's client makes up a cookie when it has no xauth: no X server is asked for one. */
const X11_ARGS = ['-Y', '-o', 'XAuthLocation=/nonexistent'];

describe('ssh gateway: agent and X11 forwarding', () => {
  const sshd = useSshd({ x11Forwarding: true });
  let h: Harness;
  let agent: UserAgent;
  let display: FakeDisplay;
  before(async () => {
    h = await startHarness();
    agent = await startAgent(h.dir);
    display = await startFakeDisplay();
  });
  after(async () => {
    agent?.stop();
    await display?.close();
    await h?.stop();
  });

  const policyWith = (settings: Record<string, unknown>) => sessionPolicy(h, settings);
  const account = (policy?: string) => linuxLogin(h, sshd(), policy, [agent.publicKey]);
  const ofAccount = async (action: string, linux: string) =>
    (await auditEvents(h, action)).filter((e) => e.object_name?.endsWith(`/${linux}`));

  it('forwards the user agent when the policy allows it, and audits every use', async () => {
    const policy = await policyWith({ allowAgentForwarding: true });
    const { user, login, linux } = await account(policy);
    const env = { SSH_AUTH_SOCK: agent.socket };

    const listed = await sshThrough(h, user.key.file, login, {
      args: ['-A'],
      command: 'ssh-add -l',
      env,
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(literal(agent.fingerprint)));

    const granted = await ofAccount('session.forward', linux);
    assert.deepEqual(
      granted.map((e) => [e.details.feature, e.outcome, e.actor_name]),
      [['agent-forwarding', 'success', user.name]],
    );
    const used = await ofAccount('session.forward.channel', linux);
    assert.ok(used.length >= 1);
    assert.ok(used.every((e) => e.details.feature === 'agent-forwarding'));
    assert.equal(used[0]?.details.connection, granted[0]?.details.connection);

    // The gateway logged in with the stored password, not with the key the agent holds,
    // although the target would have taken that key.
    const log = sshd().readLog();
    assert.match(log, new RegExp(`Accepted password for ${linux} `));
    assert.doesNotMatch(log, new RegExp(`Accepted publickey for ${linux} `));
  });

  it('does not forward the agent to a session whose client did not ask for it', async () => {
    const policy = await policyWith({ allowAgentForwarding: true });
    const { user, login, linux } = await account(policy);
    const result = await sshThrough(h, user.key.file, login, {
      command: 'echo "sock=[$SSH_AUTH_SOCK]"; ssh-add -l',
      env: { SSH_AUTH_SOCK: agent.socket },
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stdout, /^sock=\[\]$/m);
    assert.doesNotMatch(result.stdout, new RegExp(literal(agent.fingerprint)));
    assert.deepEqual(await ofAccount('session.forward', linux), []);
  });

  it('refuses agent forwarding under the default policy and audits the attempt', async () => {
    const { user, login, linux } = await account();
    const result = await sshThrough(h, user.key.file, login, {
      args: ['-A'],
      command: 'echo "sock=[$SSH_AUTH_SOCK]"; ssh-add -l',
      env: { SSH_AUTH_SOCK: agent.socket },
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stdout, /^sock=\[\]$/m);
    assert.doesNotMatch(result.stdout, new RegExp(literal(agent.fingerprint)));
    const refused = await eventually(async () => {
      const events = await ofAccount('session.forward.refuse', linux);
      return events.length > 0 ? events : undefined;
    });
    assert.deepEqual(
      refused.map((e) => [e.details.feature, e.outcome]),
      [['agent-forwarding', 'denied']],
    );
    assert.deepEqual(await ofAccount('session.forward.channel', linux), []);
  });

  it('forwards X11 when the policy allows it: a target X client reaches the user', async () => {
    const policy = await policyWith({ allowX11: true });
    const { user, login, linux } = await account(policy);
    const before = display.setups.length;

    const result = await sshThrough(h, user.key.file, login, {
      args: X11_ARGS,
      command: 'echo "display=[$DISPLAY]"; xdpyinfo >/dev/null; echo "xdpyinfo=$?"',
      env: { DISPLAY: display.name },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^display=\[localhost:\d+\.0\]$/m);
    // The X client on the target was answered by the fake X server on the user's side.
    assert.match(result.stdout, /^xdpyinfo=1$/m);
    assert.match(result.stderr, new RegExp(X_REFUSAL));
    const setup = display.setups[before];
    assert.equal(setup?.major, 11);
    assert.equal(setup?.authName, 'MIT-MAGIC-COOKIE-1');

    const granted = await ofAccount('session.forward', linux);
    assert.deepEqual(
      granted.map((e) => [e.details.feature, e.outcome]),
      [['x11', 'success']],
    );
    const used = await ofAccount('session.forward.channel', linux);
    assert.deepEqual(
      used.map((e) => [e.details.feature, e.outcome]),
      [['x11', 'success']],
    );
  });

  it('refuses X11 under the default policy, though the target allows it', async () => {
    const { user, login, linux } = await account();
    const before = display.connections;
    const result = await sshThrough(h, user.key.file, login, {
      args: X11_ARGS,
      command: 'echo "display=[$DISPLAY]"',
      env: { DISPLAY: display.name },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'display=[]\n');
    assert.equal(display.connections, before);
    const refused = await eventually(async () => {
      const events = await ofAccount('session.forward.refuse', linux);
      return events.length > 0 ? events : undefined;
    });
    assert.deepEqual(
      refused.map((e) => [e.details.feature, e.outcome]),
      [['x11', 'denied']],
    );
  });
});

describe('ssh gateway: forwarding a target refuses', () => {
  // This target keeps sshd's default: no X11 forwarding.
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  it('goes on without X11 when the policy allows it but the target refuses it', async () => {
    const policy = await sessionPolicy(h, { allowX11: true });
    const { user, login } = await linuxLogin(h, sshd(), policy, []);
    const result = await sshThrough(h, user.key.file, login, {
      args: X11_ARGS,
      command: 'echo "ran display=[$DISPLAY]"',
      env: { DISPLAY: '127.0.0.1:99' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'ran display=[]\n');
    assert.match(result.stderr, /tessera: the target refused X11 forwarding/);
  });
});

describe('gateway forwarding units', () => {
  it('never lets the relayed agent list keys or sign', async () => {
    const relay = new AgentRelay();
    const identities = await new Promise<Error | null>((resolve) =>
      relay.getIdentities((error) => resolve(error)),
    );
    assert.match(String(identities), /not used to log in/);
    const signed = await new Promise<unknown>((resolve) =>
      relay.sign(Buffer.alloc(1), Buffer.alloc(1), {}, (error?: Error | null) => resolve(error)),
    );
    assert.match(String(signed), /not used to log in/);
    // Before a grant, the target gets no channel to the user's agent, even once served.
    let opened = false;
    relay.serve(() => {
      opened = true;
    });
    const refused = await new Promise<unknown>((resolve) => relay.getStream((e) => resolve(e)));
    assert.match(String(refused), /not granted/);
    assert.equal(opened, false);
  });

  it('passes on a well-formed X11 request with the cookie as OpenSSH sent it', () => {
    const cookie = randomBytes(16).toString('hex');
    const info = (over: Record<string, unknown>) =>
      ({
        single: false,
        protocol: 'MIT-MAGIC-COOKIE-1',
        cookie: Buffer.from(cookie, 'latin1'),
        screen: 0,
        ...over,
      }) as unknown as X11Info;
    assert.deepEqual(x11Request(info({})), {
      single: false,
      protocol: 'MIT-MAGIC-COOKIE-1',
      cookie,
      screen: 0,
    });
    for (const bad of [
      { protocol: '' },
      { protocol: 'MIT MAGIC' },
      { protocol: 'x'.repeat(65) },
      { cookie: Buffer.from('zz') },
      { cookie: Buffer.from('ab\ncd') },
      { cookie: Buffer.alloc(0) },
      { cookie: 'a'.repeat(513) },
      { screen: -1 },
      { screen: 1.5 },
      { screen: 70_000 },
    ]) {
      assert.equal(x11Request(info(bad)), null, JSON.stringify(bad));
    }
  });
});

/** A named policy with these session settings, through the API. */
async function sessionPolicy(h: Harness, settings: Record<string, unknown>): Promise<string> {
  const name = unique('sp');
  assert.equal((await h.server.api('PUT', `/v1/policies/${name}`, { body: {} })).status, 200);
  const set = await h.api('PUT', `/v1/policies/${name}/session`, { body: settings });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.body.allowAgentForwarding, settings.allowAgentForwarding ?? false);
  assert.equal(set.body.allowX11, settings.allowX11 ?? false);
  return name;
}

/** A gateway user and a password account of theirs on the target, under `policy`. */
async function linuxLogin(h: Harness, sshd: Sshd, policy: string | undefined, keys: string[]) {
  const password = `Pw-${randomBytes(12).toString('base64url')}`;
  const linux = await sshd.createUser('tfw', { password, authorizedKeys: keys });
  const user = await gatewayUser(h);
  const { login } = await linuxAccount(h, sshd, {
    user: user.name,
    secret: password,
    secretType: 'password',
    linuxUser: linux.name,
    ...(policy === undefined ? {} : { policy }),
  });
  return { user, login, linux: linux.name };
}

interface UserAgent {
  readonly socket: string;
  readonly publicKey: string;
  /** The key's SHA256 fingerprint, as `ssh-add -l` prints it. */
  readonly fingerprint: string;
  stop(): void;
}

/** A throw-away ssh-agent on a socket in the test folder, holding one new key. */
async function startAgent(dir: string): Promise<UserAgent> {
  const socket = path.join(dir, unique('agent-'));
  const child: ChildProcess = spawn('ssh-agent', ['-D', '-a', socket], {
    env: CLIENT_ENV,
    stdio: 'ignore',
  });
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  try {
    await eventually(() => (existsSync(socket) ? true : undefined));
    const key = await keyPair(dir, unique('agent-key-'));
    const env = { ...CLIENT_ENV, SSH_AUTH_SOCK: socket };
    await execFileAsync('ssh-add', ['-q', key.file], { env });
    const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-f', `${key.file}.pub`], {
      env: CLIENT_ENV,
    });
    const fingerprint = /SHA256:\S+/.exec(stdout)?.[0];
    if (fingerprint === undefined) throw new Error(`no fingerprint in ${stdout}`);
    return { socket, publicKey: key.publicKey, fingerprint, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

interface FakeDisplay {
  /** The DISPLAY that reaches it over TCP, such as `127.0.0.1:612`. */
  readonly name: string;
  /** Connections taken so far. */
  readonly connections: number;
  /** The connection setups read so far: protocol version and authorisation protocol name. */
  readonly setups: Array<{ major: number; authName: string }>;
  close(): Promise<void>;
}

/**
 * An "X server" on 127.0.0.1, port 6000 + a display number picked from a high range: it reads
 * each connection's setup request and answers that the connection is refused, with X_REFUSAL as
 * the reason (X11 protocol, connection setup).
 */
async function startFakeDisplay(): Promise<FakeDisplay> {
  let connections = 0;
  const setups: FakeDisplay['setups'] = [];
  const server = createServer((socket) => {
    connections += 1;
    let seen = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const setup = readSetup(seen);
      if (setup === null) return;
      setups.push(setup.fields);
      socket.end(refusal(setup.littleEndian));
    });
  });
  const number = await listenOnDisplay(server);
  return {
    name: `127.0.0.1:${number}`,
    get connections() {
      return connections;
    },
    setups,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Listens on the first free port of 6500-6899 (display 500-899) tried in a random order. */
async function listenOnDisplay(server: Server): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const number = 500 + Math.floor(Math.random() * 400);
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(6000 + number, '127.0.0.1', () => resolve(true));
    });
    if (listening) return number;
  }
  throw new Error('no free X display port');
}

/** The setup request once whole: byte order, version, and the authorisation name and data. */
function readSetup(
  data: Buffer,
): { littleEndian: boolean; fields: { major: number; authName: string } } | null {
  if (data.length < 12) return null;
  const littleEndian = data[0] === 0x6c;
  const u16 = (at: number) => (littleEndian ? data.readUInt16LE(at) : data.readUInt16BE(at));
  const nameLength = u16(6);
  const dataLength = u16(8);
  const padded = (n: number) => Math.ceil(n / 4) * 4;
  if (data.length < 12 + padded(nameLength) + padded(dataLength)) return null;
  const authName = data.subarray(12, 12 + nameLength).toString('latin1');
  return { littleEndian, fields: { major: u16(2), authName } };
}

/** "Failed", with X_REFUSAL as the reason, in the client's byte order. */
function refusal(littleEndian: boolean): Buffer {
  const reason = Buffer.from(X_REFUSAL, 'latin1');
  const padded = Buffer.alloc(Math.ceil(reason.length / 4) * 4);
  reason.copy(padded);
  const head = Buffer.alloc(8);
  head[0] = 0;
  head[1] = reason.length;
  const u16 = (value: number, at: number) =>
    littleEndian ? head.writeUInt16LE(value, at) : head.writeUInt16BE(value, at);
  u16(11, 2);
  u16(0, 4);
  u16(padded.length / 4, 6);
  return Buffer.concat([head, padded]);
}

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
