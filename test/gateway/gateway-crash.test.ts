import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  gatewayUser,
  type Harness,
  linuxAccount,
  recordingFiles,
  runClient,
  sshOptions,
  startHarness,
} from './support.ts';

const CHILD = fileURLToPath(new URL('./gateway-child.ts', import.meta.url));

/** Starts the gateway child and waits for the line saying where it listens. */
async function startChild(dataDir: string, rootToken: string) {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, TESSERA_CHILD_DATA_DIR: dataDir, TESSERA_CHILD_ROOT_TOKEN: rootToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [line] = (await Promise.race([
    once(child.stdout, 'data'),
    once(child, 'exit').then(() => {
      throw new Error(`gateway child exited: ${stderr.slice(-2000)}`);
    }),
  ])) as [Buffer];
  const where = JSON.parse(line.toString()) as { url: string; gatewayPort: number };
  return { child, ...where };
}

describe('ssh gateway: a crash during a session', () => {
  const sshd = useSshd();
  let h: Harness | undefined;
  let first: Harness | undefined;
  after(async () => {
    await h?.stop();
    if (first !== undefined) await rm(first.dir, { recursive: true, force: true });
  });

  it('closes the session as ended abnormally at the next start; its recording still plays', async () => {
    first = await startHarness();
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgc', { password });
    const user = await gatewayUser(first);
    const { login } = await linuxAccount(first, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const { dataDir, rootToken } = first.server;
    const hostKey = first.gateway.hostKey;
    await first.stop({ keepData: true });

    const crashing = await startChild(dataDir, rootToken);
    const mark = randomBytes(4).toString('hex');
    let seen: () => void = () => undefined;
    const printed = new Promise<void>((resolve) => {
      seen = resolve;
    });
    const args = [...sshOptions(first, user.key.file), '-p', String(crashing.gatewayPort)];
    const session = runClient(
      'ssh',
      [...args, `${login}@127.0.0.1`, `echo crash-${mark}; sleep 30`],
      {
        onStdout: (text) => {
          if (text.includes(`crash-${mark}`)) seen();
        },
      },
    );
    await Promise.race([
      printed,
      session.then((result) => {
        throw new Error(`ssh ended early: ${result.stderr}`);
      }),
    ]);
    // The recorder writes at least every second: what was shown by then is on disk.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    crashing.child.kill('SIGKILL');
    await session;

    h = await startHarness({ dataDir, rootToken });
    assert.equal(h.gateway.hostKey, hostKey, 'the gateway keeps its host key across restarts');
    const list = await h.api<{ sessions: Array<Record<string, unknown>> }>(
      'GET',
      `/v1/sessions?user=${user.name}`,
    );
    const found = list.body.sessions?.[0];
    assert.equal(found?.state, 'ended_abnormally');
    assert.equal(found?.endReason, 'tessera stopped during the session');
    assert.match(String(found?.recordingSha256), /^[0-9a-f]{64}$/);
    const cast = await h.api('GET', `/v1/sessions/${String(found?.id)}/recording`);
    assert.equal(cast.status, 200, cast.text);
    assert.match(cast.text, new RegExp(`crash-${mark}`));
    const ends = await auditEvents(h, 'session.end');
    const end = ends.find((e) => e.object_id === found?.id);
    assert.equal(end?.outcome, 'failure');
    assert.equal(end?.actor_name, 'tessera');
  });
});

describe('ssh gateway: a server stopped during a session', () => {
  const sshd = useSshd();
  let h: Harness | undefined;
  after(() => h?.stop());

  it('tells the user, and stores the end with its recording before the store closes', async () => {
    const first = await startHarness();
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgs', { password });
    const user = await gatewayUser(first);
    const { login } = await linuxAccount(first, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const mark = randomBytes(4).toString('hex');
    let seen: () => void = () => undefined;
    const printed = new Promise<void>((resolve) => {
      seen = resolve;
    });
    const args = [...sshOptions(first, user.key.file), '-p', String(first.gateway.port)];
    const session = runClient('ssh', [...args, `${login}@127.0.0.1`, `echo up-${mark}; sleep 30`], {
      onStdout: (text) => {
        if (text.includes(`up-${mark}`)) seen();
      },
    });
    await printed;
    const { dataDir, rootToken } = first.server;
    await first.stop({ keepData: true });
    const result = await session;
    assert.match(result.stderr, /the server is stopping/);

    h = await startHarness({ dataDir, rootToken });
    const list = await h.api<{ sessions: Array<Record<string, unknown>> }>(
      'GET',
      `/v1/sessions?user=${user.name}`,
    );
    const found = list.body.sessions?.[0];
    assert.equal(found?.state, 'ended', JSON.stringify(found));
    assert.equal(found?.endReason, 'killed: the server is stopping');
    assert.match(String(found?.recordingSha256), /^[0-9a-f]{64}$/);
    const cast = await h.api('GET', `/v1/sessions/${String(found?.id)}/recording`);
    assert.equal(cast.status, 200, cast.text);
    assert.match(cast.text, new RegExp(`up-${mark}`));
    const ends = (await auditEvents(h, 'session.end')).filter((e) => e.object_id === found?.id);
    assert.equal(ends.length, 1);
    assert.equal(ends[0]?.outcome, 'success');
    assert.ok(!h.logText().includes('left live by a crash'), 'nothing was left for the restart');

    // A recording removed behind Tessera's back is missing, not an internal error.
    for (const file of recordingFiles(h)) await rm(path.join(h.server.dataDir, 'recordings', file));
    const gone = await h.api<{ error: { code: string; message: string } }>(
      'GET',
      `/v1/sessions/${String(found?.id)}/recording`,
    );
    assert.equal(gone.status, 500);
    assert.deepEqual(gone.body.error.code, 'INTEGRITY_FAILURE');
    assert.equal(gone.body.error.message, 'the recording file is missing');
  });
});
