import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { useSshd } from '../support/sshd.ts';
import { STORE_KINDS } from '../support/stores.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  sshThrough,
  startHarness,
} from './support.ts';

type Row = Record<string, unknown>;

for (const store of STORE_KINDS)
  describe(`ssh gateway: live sessions, recordings and commands on ${store}`, () => {
    const sshd = useSshd();
    let h: Harness;
    before(async () => {
      h = await startHarness({ store });
    });
    after(() => h?.stop());

    const account = async () => {
      const password = `Pw-${randomBytes(12).toString('base64url')}`;
      const linux = await sshd().createUser('tgl', { password });
      const user = await gatewayUser(h);
      const { login } = await linuxAccount(h, sshd(), {
        user: user.name,
        secret: password,
        secretType: 'password',
        linuxUser: linux.name,
      });
      return { user, login, linux: linux.name };
    };

    const liveSessionOf = (user: string) =>
      eventually(async () => {
        const list = await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?live=true&user=${user}`);
        return list.body.sessions?.[0];
      });

    const endedSession = (id: unknown) =>
      eventually(async () => {
        const found = await h.api<Row>('GET', `/v1/sessions/${String(id)}`);
        return found.body.state !== 'live' ? found.body : undefined;
      });

    const recording = async (id: unknown) => {
      const cast = await h.api('GET', `/v1/sessions/${String(id)}/recording`);
      assert.equal(cast.status, 200, cast.text);
      const [header, ...events] = cast.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      return { header, events: events as Array<[number, string, string]> };
    };

    it('kills a session during output, tells the user why and audits the reason', async () => {
      const { user, login } = await account();
      const running = sshThrough(h, user.key.file, login, {
        command: 'while true; do echo tick; sleep 0.05; done',
      });
      const live = await liveSessionOf(user.name);
      const auditor = await gatewayUser(h, 'auditor');
      const refused = await h.api('POST', `/v1/sessions/${String(live.id)}/kill`, {
        token: auditor.token,
        body: { reason: 'auditors cannot kill' },
      });
      assert.equal(refused.status, 403);

      const killed = await h.api('POST', `/v1/sessions/${String(live.id)}/kill`, {
        body: { reason: 'unapproved change' },
      });
      assert.equal(killed.status, 200, killed.text);
      const result = await running;
      assert.notEqual(result.code, 0);
      assert.match(result.stdout, /tick/);
      assert.match(result.stderr, /ended by an administrator: unapproved change/);

      const ended = await endedSession(live.id);
      assert.equal(ended.endReason, 'killed: unapproved change');
      const kills = await auditEvents(h, 'session.kill');
      const kill = kills.find((e) => e.object_id === live.id);
      assert.equal(kill?.reason, 'unapproved change');
      assert.equal(kill?.actor_name, 'admin');
      const again = await h.api('POST', `/v1/sessions/${String(live.id)}/kill`, {
        body: { reason: 'twice' },
      });
      assert.equal(again.status, 409);
    });

    it('shows a watcher who joins mid-session the screen so far, then live output, read-only', async () => {
      const { user, login } = await account();
      const mark = randomBytes(4).toString('hex');
      let seenBefore: () => void = () => undefined;
      const before = new Promise<void>((resolve) => {
        seenBefore = resolve;
      });
      const running = sshThrough(h, user.key.file, login, {
        command: `echo before-${mark}; sleep 1.5; echo after-${mark}; read -t 1 line; echo "got:[$line]"`,
        onStdout: (text) => {
          if (text.includes(`before-${mark}`)) seenBefore();
        },
        input: '',
      });
      await before;
      const live = await liveSessionOf(user.name);
      // Counted as it runs: the row has the bytes only once the session ends.
      assert.ok(Number(live.bytesOut) >= `before-${mark}\n`.length, JSON.stringify(live));
      const auditor = await gatewayUser(h, 'auditor');
      const url = `${h.apiUrl.replace('http', 'ws')}/v1/sessions/${String(live.id)}/watch`;
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${auditor.token}` } });
      socket.binaryType = 'arraybuffer';
      const texts: Row[] = [];
      let screen = '';
      const closed = new Promise<void>((resolve) =>
        socket.addEventListener('close', () => resolve()),
      );
      socket.addEventListener('message', (message) => {
        if (typeof message.data === 'string') texts.push(JSON.parse(message.data));
        else screen += Buffer.from(message.data as ArrayBuffer).toString('utf8');
      });
      await new Promise((resolve) => socket.addEventListener('open', resolve));
      socket.send('echo injected\n'); // a watcher cannot type: this goes nowhere

      const result = await running;
      await closed;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /got:\[\]/);
      assert.equal(texts[0]?.type, 'hello');
      assert.equal(texts.at(-1)?.type, 'end');
      assert.ok(screen.indexOf(`before-${mark}`) >= 0, screen);
      assert.ok(screen.indexOf(`after-${mark}`) > screen.indexOf(`before-${mark}`), screen);
      assert.doesNotMatch(screen, /injected/);

      const { events } = await recording(live.id);
      assert.ok(!events.some(([, , data]) => data.includes('injected')));
      const watches = await auditEvents(h, 'session.watch');
      assert.ok(watches.some((e) => e.object_id === live.id && e.actor_name === auditor.name));

      const user2 = await gatewayUser(h);
      const denied = new WebSocket(url, { headers: { authorization: `Bearer ${user2.token}` } });
      const outcome = await new Promise<string>((resolve) => {
        denied.addEventListener('open', () => resolve('open'));
        denied.addEventListener('error', () => resolve('refused'));
      });
      assert.equal(outcome, 'refused');
    });

    it('records a character split across two packets whole', async () => {
      const { user, login } = await account();
      const result = await sshThrough(h, user.key.file, login, {
        command: "printf '\\344\\275'; sleep 0.3; printf '\\240\\345\\245\\275\\n'",
      });
      assert.equal(result.stdout, '你好\n');
      const list = await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?user=${user.name}`);
      const session = await endedSession(list.body.sessions?.[0]?.id);
      const { header, events } = await recording(session.id);
      assert.equal(
        header.command,
        "printf '\\344\\275'; sleep 0.3; printf '\\240\\345\\245\\275\\n'",
      );
      const output = events.filter(([, code]) => code === 'o').map(([, , data]) => data);
      assert.equal(output.join(''), '你好\n');
      assert.ok(!output.join('').includes('\uFFFD'));
    });

    it('passes a window change to the target and records it as a resize', async () => {
      const { user, login } = await account();
      const client = new ssh2.Client();
      await new Promise<void>((resolve, reject) => {
        client.on('ready', () => resolve()).on('error', reject);
        client.connect({
          host: '127.0.0.1',
          port: h.gateway.port,
          username: login,
          privateKey: readFileSync(user.key.file),
          hostVerifier: () => true,
        });
      });
      let output = '';
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.shell({ rows: 40, cols: 120, term: 'xterm' }, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      );
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      const waitFor = (text: RegExp) =>
        eventually(() => (text.test(output) ? true : undefined), 5000).catch(() => {
          throw new Error(`no ${text} in ${JSON.stringify(output)}`);
        });
      stream.write('stty size\n');
      await waitFor(/(^|\$ )40 120\r\n/m);
      stream.setWindow(24, 80, 0, 0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      stream.write('stty size\n');
      await waitFor(/(^|\$ )24 80\r\n/m);
      stream.write('exit\n');
      await new Promise((resolve) => stream.on('close', resolve));
      client.end();

      const list = await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?user=${user.name}`);
      const session = await endedSession(list.body.sessions?.[0]?.id);
      const { header, events } = await recording(session.id);
      assert.equal(header.width, 120);
      assert.equal(header.height, 40);
      const resizes = events.filter(([, code]) => code === 'r').map(([, , data]) => data);
      assert.deepEqual(resizes, ['80x24']);
    });

    it('extracts the commands typed at the prompt and finds them across sessions', async () => {
      const { user, login, linux } = await account();
      const mark = randomBytes(4).toString('hex');
      // Typed at the prompt: type-ahead before any prompt is shown is not a command one can
      // tell from the screen (see src/sessions/commands.ts).
      const result = await sshThrough(h, user.key.file, login, {
        args: ['-tt'],
        inputAtPrompt: `echo one-${mark}\nexit\n`,
      });
      assert.equal(result.code, 0, result.stderr);
      await sshThrough(h, user.key.file, login, { command: `echo two-${mark}` });

      const hits = await eventually(async () => {
        const found = await h.api<{ commands: Row[] }>('GET', `/v1/sessions/commands?q=${mark}`);
        return found.body.commands?.length === 2 ? found.body.commands : undefined;
      });
      assert.deepEqual(hits.map((c) => c.command).sort(), [`echo one-${mark}`, `echo two-${mark}`]);
      assert.ok(hits.every((c) => c.user === user.name && c.account === linux));
      const byCommand = await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?command=one-${mark}`);
      assert.equal(byCommand.body.sessions?.length, 1);
      assert.equal(byCommand.body.sessions?.[0]?.kind, 'shell');
    });
  });
