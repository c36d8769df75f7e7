/**
 * Just-in-time access through the SSH gateway, end to end with the real OpenSSH client and a
 * real sshd: `use` behind an approval lets nobody in until an approver says yes, and the grant's
 * end (by the server's clock, or revoked by an admin) ends the live shell it allowed, tells its
 * user why, records why, and refuses the next connection.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/clock.ts';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  eventually,
  gatewayUser,
  type Harness,
  linuxAccount,
  type SshResult,
  sshOptions,
  sshThrough,
  startHarness,
} from './support.ts';

type Row = Record<string, unknown>;

const MINUTE = 60_000;
const GRANT_S = 300;
const WITHDRAWN = 'tessera: your access grant for this account ended, so the connection has ended';
const REFUSED =
  'tessera: this account needs an approved access request: ask with ' +
  '"tessera request create --account TARGET/ACCOUNT"';

/** What the client printed, without OpenSSH's own notices. */
const said = (stderr: string) =>
  stderr
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.startsWith('tessera:'))
    .join('\n');

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/**
 * An interactive shell through the gateway (`ssh -tt`) whose input stays open, as a person's
 * terminal does: lines are typed when the test says, and nothing ends the shell but the server.
 */
function interactiveShell(h: Harness, keyFile: string, login: string) {
  const args = [...sshOptions(h, keyFile), '-tt', '-p', String(h.gateway.port)];
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
  const child = spawn('ssh', [...args, `${login}@127.0.0.1`], { env, stdio: 'pipe' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => undefined);
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exited = new Promise<SshResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const stdoutBytes = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr });
    });
  });
  const shown = () => Buffer.concat(out).toString('utf8');
  return {
    exited,
    shown,
    type: (line: string) => child.stdin.write(`${line}\n`),
    /** Waits until the terminal shows `pattern`. */
    sees: (pattern: RegExp) => eventually(() => (pattern.test(shown()) ? true : undefined)),
    kill: () => child.kill('SIGKILL'),
  };
}

/** Types a sum and waits for the shell's answer: the shell is live and interactive. */
async function provedLive(shell: ReturnType<typeof interactiveShell>) {
  await shell.sees(/\$ $/m);
  const mark = randomBytes(4).toString('hex');
  shell.type(`echo $((6*7))-${mark}`);
  await shell.sees(new RegExp(`^42-${mark}\\r?$`, 'm'));
}

describe('ssh gateway: a grant opens the account, and its end closes the session', () => {
  const sshd = useSshd();
  /** Real time moved on by the test: the server's timers still run, its grants end on cue. */
  let offset = 0;
  const clock: Clock = { now: () => Date.now() + offset };
  let h: Harness;

  before(async () => {
    // No periodic re-check: each end below comes from the grant's own end.
    h = await startHarness({ recheckIntervalMs: 3_600_000, clock });
  });
  after(() => h?.stop());

  /** A safe whose `use` waits for one approval, a member who may use it, and an approver. */
  const gated = async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tgg', { password });
    const user = await gatewayUser(h);
    const account = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const approver = await gatewayUser(h);
    const member = await h.api('PUT', `/v1/safes/${account.safe}/members/${approver.name}`, {
      body: { permissions: ['list', 'approve'] },
    });
    assert.equal(member.status, 200, member.text);
    const policy = await h.api('PUT', `/v1/safes/${account.safe}/access-policy`, {
      body: { approvalFor: ['use'], approvalsRequired: 1, maxDurationS: 3600 },
    });
    assert.equal(policy.status, 200, policy.text);
    return { user, approver, linux: linux.name, ...account };
  };

  /** Asks for `use` on the account and has the approver say yes; returns the grant's id. */
  const granted = async (setup: Awaited<ReturnType<typeof gated>>) => {
    const asked = await h.api<Row>('POST', '/v1/requests', {
      token: setup.user.token,
      body: {
        account: `${setup.target}/${setup.linux}`,
        permissions: ['use'],
        durationS: GRANT_S,
        reason: 'disk full on the web host',
      },
    });
    assert.equal(asked.status, 201, asked.text);
    const approved = await h.api<Row>('POST', `/v1/requests/${asked.body.id}/approve`, {
      token: setup.approver.token,
      body: { comment: 'go ahead' },
    });
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.body.status, 'approved');
    return String(approved.body.grantId);
  };

  const refusedNow = async (setup: Awaited<ReturnType<typeof gated>>) => {
    const result = await sshThrough(h, setup.user.key.file, setup.login, {
      command: 'echo should-not-run',
    });
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.equal(said(result.stderr), REFUSED);
    const refusals = await auditEvents(h, 'session.refuse');
    return refusals.filter((e) => e.actor_name === setup.user.name);
  };

  /** The session row of the user's one shell, once it is closed. */
  const endedSession = (user: string) =>
    eventually(async () => {
      const list = await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?user=${user}`);
      const found = list.body.sessions?.filter((s) => s.kind === 'shell') ?? [];
      assert.ok(found.length <= 1);
      return found[0]?.state === 'ended' ? found[0] : undefined;
    });

  const connectionEnd = (user: string) =>
    eventually(async () => {
      const events = await auditEvents(h, 'gateway.connection.end');
      return events.find((e) => e.actor_name === user);
    });

  it('lets the user in only once approved, and ends the shell when the grant expires', async () => {
    const setup = await gated();
    const before = await refusedNow(setup);
    assert.equal(before.length, 1);
    assert.equal(before[0]?.details.why, 'approval-required');
    assert.equal(before[0]?.outcome, 'denied');

    const grantId = await granted(setup);
    const shell = interactiveShell(h, setup.user.key.file, setup.login);
    try {
      await provedLive(shell);
      const live = await h.api<{ sessions: Row[] }>('GET', `/v1/sessions?user=${setup.user.name}`);
      assert.equal(live.body.sessions?.[0]?.state, 'live');

      offset += GRANT_S * 1000 + MINUTE;
      const endedAt = Date.now();
      await h.server.services.accessTicker.tickNow();
      const result = await within(shell.exited, 5_000, 'the shell ends');
      assert.ok(Date.now() - endedAt < 5_000);
      assert.notEqual(result.code, 0);
      assert.equal(said(result.stderr), WITHDRAWN);
    } finally {
      shell.kill();
    }

    const session = await endedSession(setup.user.name);
    assert.equal(session.endReason, 'connection ended: approval-required');
    const end = await connectionEnd(setup.user.name);
    assert.equal(end.details.why, 'approval-required');
    assert.equal(end.outcome, 'denied');
    const sessionEnds = await auditEvents(h, 'session.end');
    const sessionEnd = sessionEnds.find((e) => e.object_id === session.id);
    assert.equal(sessionEnd?.details.reason, 'connection ended: approval-required');
    const expired = await auditEvents(h, 'grant.expire');
    assert.deepEqual(
      expired.filter((e) => e.object_id === grantId).map((e) => e.details.why),
      ['expired'],
    );
    const grant = await h.api<Row>('GET', `/v1/grants/${grantId}`);
    assert.equal(grant.body.active, false);

    const afterwards = await refusedNow(setup);
    assert.equal(afterwards.length, 2, 'the new connection is refused and audited');
    assert.equal(afterwards[1]?.details.why, 'approval-required');
  });

  it('ends the shell at once when an admin revokes the grant', async () => {
    const setup = await gated();
    const grantId = await granted(setup);
    const shell = interactiveShell(h, setup.user.key.file, setup.login);
    let result: SshResult;
    try {
      await provedLive(shell);
      const revokedAt = Date.now();
      const revoked = await h.api<Row>('POST', `/v1/grants/${grantId}/revoke`, {
        body: { reason: 'incident closed' },
      });
      assert.equal(revoked.status, 200, revoked.text);
      assert.equal(revoked.body.active, false);
      assert.equal(revoked.body.revokedBy, 'admin');
      // The grant's own time is far from over, and no tick is awaited: the revocation ends it.
      result = await within(shell.exited, 5_000, 'the shell ends');
      assert.ok(Date.now() - revokedAt < 5_000);
    } finally {
      shell.kill();
    }
    assert.notEqual(result.code, 0);
    assert.equal(said(result.stderr), WITHDRAWN);

    const session = await endedSession(setup.user.name);
    assert.equal(session.endReason, 'connection ended: approval-required');
    assert.equal((await connectionEnd(setup.user.name)).details.why, 'approval-required');
    const revocations = await auditEvents(h, 'grant.revoke');
    const revocation = revocations.find((e) => e.object_id === grantId);
    assert.equal(revocation?.reason, 'incident closed');
    const ends = await auditEvents(h, 'grant.end');
    assert.equal(ends.find((e) => e.object_id === grantId)?.details.why, 'revoked');

    const afterwards = await refusedNow(setup);
    assert.equal(afterwards.at(-1)?.details.why, 'approval-required');
  });
});
