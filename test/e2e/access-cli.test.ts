/**
 * Just-in-time access through the real `tessera` command line, against a real Tessera server on
 * 127.0.0.1: an access policy behind two approvals, a request answered by distinct people (and
 * refused to its requester under any login of theirs), the grant it opens and its revocation,
 * denials and cancellations, break-glass with and without a second factor, and its CSV report.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';
import { parseCsv } from '../../src/cli/csv.ts';
import { createUserWithToken, startTestServer, type TestServer } from '../support/test-server.ts';

const BIN = fileURLToPath(new URL('../../bin/tessera', import.meta.url));
/** The stored secret: the account is never verified or rotated here, so any value will do. */
const SECRET = 'Pg-secret-4411';
/** How long a run on a terminal may take before it is killed. */
const TERMINAL_TIMEOUT_MS = 20_000;
/** A reason a spreadsheet would run as a formula, if the report let it through as is. */
const FORMULA_REASON = '=HYPERLINK("http://127.0.0.1:9/x","primary down")';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface RequestView {
  readonly id: string;
  readonly status: string;
  readonly requester: string;
  readonly approvals: readonly { approver: string; decision: string }[];
  readonly grantId: string | null;
}

describe('tessera request, grant, access, breakglass and report', () => {
  let server: TestServer;
  let dir: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    server = await startTestServer();
    dir = await mkdtemp(path.join(tmpdir(), 'tessera-access-cli-'));
    for (const name of ['alice', 'alice2', 'bob', 'carol', 'dave', 'erin']) {
      tokens[name] = await createUserWithToken(server, name, 'user');
    }
    tokens.audrey = await createUserWithToken(server, 'audrey', 'auditor');
    tokens.admin = server.rootToken;

    assertOk(await as('admin', ['safe', 'create', 'prod']));
    const members: Record<string, string> = {
      alice: 'list,use,retrieve',
      bob: 'list,approve',
      carol: 'list,approve',
      dave: 'list,use,retrieve',
      erin: 'list,use',
    };
    for (const [user, permissions] of Object.entries(members)) {
      assertOk(
        await as('admin', ['safe', 'member', 'add', 'prod', user, '--permissions', permissions]),
      );
    }
    // Nothing listens on port 9: the account is onboarded with its secret, never verified.
    const where = ['--platform', 'postgresql', '--host', '127.0.0.1', '--port', '9'];
    assertOk(await as('admin', ['target', 'add', 'db01', ...where]));
    for (const username of ['postgres', 'app']) {
      const add = ['account', 'add', `db01/${username}`, '--safe', 'prod', '--secret-stdin'];
      assertOk(await as('admin', add, SECRET));
    }
  });
  after(async () => {
    await server?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const as = (user: string, args: readonly string[], stdin = '') =>
    runCli(server, dir, tokens[user] ?? '', args, stdin);
  const reveal = (user: string, account = 'db01/postgres') =>
    as(user, ['secret', 'show', account, '--reason', 'looking']);
  const ask = async (extra: readonly string[] = []) => {
    const args = ['request', 'create', '--account', 'db01/postgres', '--for', '2h'];
    const reason = ['--reason', 'INC-4411 disk full'];
    return parseJson<RequestView>(await as('alice', [...args, ...reason, ...extra, '-o', 'json']));
  };
  const requestOf = (id: string) =>
    as('admin', ['request', 'show', id, '-o', 'json']).then((r) => parseJson<RequestView>(r));

  it('access policy set puts use and retrieve behind two approvals', async () => {
    const set = await as('admin', [
      ...['access', 'policy', 'set', '--safe', 'prod', '--approval-for', 'use,retrieve'],
      ...['--approvals', '2', '--max-duration', '4h', '--request-ttl', '12h'],
    ]);
    assertOk(set);
    assert.match(set.stdout, /^Created the access policy of safe prod:/m);
    assert.match(set.stdout, /Needs approval:\s+use, retrieve$/m);
    assert.match(set.stdout, /Approvals:\s+2 distinct people$/m);

    // A second change keeps what the first one set.
    assertOk(
      await as('admin', ['access', 'policy', 'set', '--safe', 'prod', '--no-require-reason']),
    );
    const policy = parseJson<Record<string, unknown>>(
      await as('admin', ['access', 'policy', 'show', '--safe', 'prod', '-o', 'json']),
    );
    assert.deepEqual(
      [policy.scope, policy.approvalFor, policy.approvalsRequired, policy.maxDurationS],
      ['safe', ['use', 'retrieve'], 2, 4 * 3600],
    );
    assert.deepEqual([policy.requestTtlS, policy.requireReason], [12 * 3600, false]);

    const inherited = await as('alice', ['access', 'policy', 'show', '--account', 'db01/postgres']);
    assertOk(inherited);
    assert.match(inherited.stdout, /Policy:\s+none on the account: its safe's policy applies/);
  });

  it('access policy set reads windows and switches settings off; remove undoes it', async () => {
    assertOk(await as('admin', ['safe', 'create', 'lab']));
    assertOk(await as('admin', ['group', 'create', 'dba', '--description', 'database admins']));
    const set = await as('admin', [
      ...['access', 'policy', 'set', '--safe', 'lab', '--approver-group', 'dba'],
      ...['--window', 'fri-mon 22:00-6:00 Europe/Berlin', '--escalate-after', '30m'],
      ...['--escalation-group', 'dba', '--require-ticket', '--ticket-pattern', 'INC-[0-9]+'],
    ]);
    assertOk(set);
    assert.match(set.stdout, /Access window:\s+mon,fri-sun 22:00-06:00 Europe\/Berlin$/m);
    assert.match(set.stdout, /Escalation:\s+after 30m to group dba$/m);
    assert.match(set.stdout, /Ticket:\s+required, matching INC-\[0-9\]\+$/m);

    const off = await as('admin', [
      ...['access', 'policy', 'set', '--safe', 'lab', '--no-approver-group', '--window', 'none'],
      ...['--escalate-after', 'none', '--no-ticket-pattern', '-o', 'json'],
    ]);
    const policy = parseJson<Record<string, unknown>>(off);
    assert.deepEqual(
      [policy.approverGroup, policy.window, policy.escalateAfterS, policy.escalationGroup],
      [null, null, null, null],
    );
    assert.deepEqual([policy.ticketPattern, policy.requireTicket], [null, true]);

    assertOk(await as('admin', ['access', 'policy', 'remove', '--safe', 'lab']));
    const shown = await as('admin', ['access', 'policy', 'show', '--safe', 'lab']);
    assert.match(shown.stdout, /Policy:\s+none set: the defaults apply/);

    const usage: Array<readonly string[]> = [
      ['access', 'policy', 'show'],
      ['access', 'policy', 'show', '--safe', 'lab', '--account', 'db01/postgres'],
      ['access', 'policy', 'set', '--safe', 'lab', '--window', 'mon-xyz 08:00-19:00'],
      ['access', 'policy', 'set', '--safe', 'lab', '--window', 'mon-fri 08:00-24:00'],
      ['access', 'policy', 'set', '--safe', 'lab', '--approval-for', 'fly'],
      ['access', 'policy', 'set', '--safe', 'lab', '--approvals', '11'],
    ];
    for (const args of usage) assertFails(await as('admin', args), 'USAGE', 2);
    const zone = [
      'access',
      'policy',
      'set',
      '--safe',
      'lab',
      '--window',
      'mon 08:00-09:00 Mars/Base',
    ];
    assertFails(await as('admin', zone), 'VALIDATION_FAILED');
  });

  it('group add, show and list', async () => {
    assertOk(await as('admin', ['group', 'add', 'dba', 'bob']));
    const added = await as('admin', ['group', 'add', 'dba', 'carol']);
    assert.match(added.stdout, /Added carol to group dba; 2 members\./);
    const shown = await as('admin', ['group', 'show', 'dba']);
    assert.match(shown.stdout, /Members:\s+bob, carol$/m);
    assertOk(await as('admin', ['group', 'remove', 'dba', 'carol']));
    const list = await as('admin', ['group', 'list']);
    assert.match(list.stdout, /^dba\s+1\s+database admins$/m);
    assertFails(await as('alice', ['group', 'create', 'mine']), 'FORBIDDEN');
    assertFails(await as('admin', ['group', 'show', 'nope']), 'NOT_FOUND');
  });

  let requestId = '';

  it('refuses the standing reveal and takes a request instead', async () => {
    assertFails(await reveal('alice'), 'APPROVAL_REQUIRED');

    const created = await ask(['--ticket', 'INC-4411', '--permissions', 'use,retrieve']);
    assert.equal(created.status, 'pending');
    requestId = created.id;
    const shown = await as('alice', ['request', 'show', requestId]);
    assertOk(shown);
    assert.match(shown.stdout, /Status:\s+pending, 0\/2 approvals$/m);
    assert.match(shown.stdout, /Access:\s+db01\/postgres: use,retrieve$/m);
    assert.match(shown.stdout, /Ticket:\s+INC-4411$/m);

    const text = await as('alice', [
      ...['request', 'create', '--account', 'db01/postgres', '--for', '8h', '--reason', 'x'],
    ]);
    assertFails(text, 'DURATION_TOO_LONG');
    assertFails(await as('alice', ['request', 'create', '--for', '1h']), 'USAGE', 2);
    const bad = ['request', 'create', '--safe', 'prod', '--for', '1 hour'];
    assertFails(await as('alice', bad), 'USAGE', 2);
    assertFails(await as('alice', ['request', 'show', 'not-an-id']), 'USAGE', 2);
  });

  it('access ephemeral asks for an account made for the requester alone', async () => {
    const ask = ['access', 'ephemeral', 'db01', '--role', 'readonly', '--for', '1h'];
    const none = await as('alice', [...ask, '--reason', 'INC-4412']);
    assertFails(none, 'NOT_FOUND');
    assert.match(none.stderr, /no ephemeral accounts/);
    const config = ['--admin-account', 'db01/postgres', '--roles', 'readonly'];
    assertOk(await as('admin', ['ephemeral', 'config', 'db01', ...config]));

    const pending = await as('alice', [...ask, '--reason', 'INC-4412 replication lag']);
    assertOk(pending);
    const id = /^Request (\S+) is pending: 0\/2 approvals so far\.$/m.exec(pending.stdout)?.[1];
    assert.ok(id !== undefined, pending.stdout);
    assert.match(pending.stderr, /tessera ephemeral credential GRANT_ID/);
    const shown = await as('alice', ['request', 'show', id]);
    assert.match(shown.stdout, /Access:\s+ephemeral account on db01 as readonly$/m);
    assertOk(await as('alice', ['request', 'cancel', id]));
    assertFails(await as('alice', ['access', 'ephemeral', 'db01', '--for', '1h']), 'USAGE', 2);
  });

  it('never lets the requester answer, by any login of theirs', async () => {
    assertFails(await as('alice', ['request', 'approve', requestId]), 'SELF_APPROVAL');

    const linked = await as('admin', ['user', 'link', 'alice2', '--same-as', 'alice']);
    assertOk(linked);
    assert.equal(linked.stdout, 'alice2 is the same person as alice.\n');
    const approve = ['safe', 'member', 'add', 'prod', 'alice2', '--permissions', 'list,approve'];
    assertOk(await as('admin', approve));
    assertFails(await as('alice2', ['request', 'approve', requestId]), 'SELF_APPROVAL');
    const queue = await as('alice2', ['request', 'list', '--pending-for-me']);
    assert.equal(queue.stdout, 'Nothing waits for you.\n');

    assertFails(await as('admin', ['user', 'link', 'alice2']), 'USAGE', 2);
    assertFails(await as('alice', ['user', 'link', 'alice', '--same-as', 'bob']), 'FORBIDDEN');
  });

  it("shows the approver's queue and counts one person once", async () => {
    const queue = await as('bob', ['request', 'list', '--pending-for-me']);
    assertOk(queue);
    const row = queue.stdout.split('\n').find((line) => line.startsWith(requestId)) ?? '';
    assert.match(
      row,
      /alice\s+db01\/postgres: use,retrieve\s+0\/2\s+2h\s+\S+\s+INC-4411\s+INC-4411 disk full$/,
    );
    assert.match(queue.stdout, /^ID\s+REQUESTER\s+WHAT\s+APPROVALS\s+FOR\s+AGE\s+TICKET\s+WHY$/m);

    const first = await as('bob', ['request', 'approve', requestId, '--comment', 'looks fine']);
    assertOk(first);
    assert.match(first.stdout, /Approved request .*: 1\/2, waiting for 1 more\./);
    assertFails(await as('bob', ['request', 'approve', requestId]), 'ALREADY_DECIDED');
    const shown = await as('alice', ['request', 'show', requestId]);
    assert.match(shown.stdout, /Status:\s+pending, 1\/2 approvals$/m);
    assert.match(shown.stdout, /^bob\s+approve\s+\S+ \S+\s+looks fine$/m);
    const pending = await requestOf(requestId);
    assert.equal(pending.status, 'pending');
    assert.deepEqual(
      pending.approvals.map((a) => a.approver),
      ['bob'],
    );
    assertFails(await reveal('alice'), 'APPROVAL_REQUIRED');
  });

  let grantId = '';

  it("opens a grant at the second person's approval; the reveal works while it lasts", async () => {
    const done = await as('carol', ['request', 'approve', requestId]);
    assertOk(done);
    assert.match(done.stdout, /Approved request .* \(2\/2\): grant \S+ for alice, db01\/postgres/);
    const approved = await requestOf(requestId);
    assert.equal(approved.status, 'approved');
    grantId = approved.grantId ?? '';

    const grants = await as('admin', ['grant', 'list', '--active']);
    assertOk(grants);
    const row = grants.stdout.split('\n').find((line) => line.startsWith(grantId)) ?? '';
    assert.match(
      row,
      /alice\s+request\s+db01\/postgres\s+use,retrieve\s+\S+ \S+\s+(1h 59m|2h) left$/,
    );
    const mine = await as('alice', ['grant', 'show', grantId]);
    assert.match(mine.stdout, /State:\s+(1h 59m|2h) left$/m);

    const revealed = await reveal('alice');
    assertOk(revealed);
    assert.equal(revealed.stdout, `${SECRET}\n`);
    // The grant names one account: the other one in the safe stays closed.
    assertFails(await reveal('alice', 'db01/app'), 'APPROVAL_REQUIRED');
  });

  it('grant revoke by an admin ends it at once', async () => {
    const byOther = await as('dave', ['grant', 'revoke', grantId, '--reason', 'not mine']);
    assertFails(byOther, 'NOT_FOUND');
    const revoked = await as('admin', ['grant', 'revoke', grantId, '--reason', 'incident over']);
    assertOk(revoked);
    assert.match(revoked.stdout, /^Revoked grant \S+ of alice \(db01\/postgres\)\.$/m);
    assertFails(await reveal('alice'), 'APPROVAL_REQUIRED');

    const active = await as('admin', ['grant', 'list', '--active', '--user', 'alice']);
    assert.equal(active.stdout, 'No active grants.\n');
    const shown = await as('admin', ['grant', 'show', grantId]);
    assert.match(shown.stdout, /State:\s+revoked$/m);
    assert.match(shown.stdout, /Revoke reason:\s+incident over$/m);
  });

  it('request deny ends a request with one answer', async () => {
    const created = await ask();
    assertFails(await as('bob', ['request', 'deny', created.id]), 'USAGE', 2);
    const denied = await as('bob', ['request', 'deny', created.id, '--reason', 'use the replica']);
    assertOk(denied);
    assert.equal(denied.stdout, `Denied request ${created.id} of alice.\n`);
    assert.equal((await requestOf(created.id)).status, 'denied');
    assertFails(await as('carol', ['request', 'approve', created.id]), 'REQUEST_NOT_PENDING');

    const mine = await as('alice', ['request', 'list', '--mine', '--status', 'denied']);
    assert.match(mine.stdout, new RegExp(`^${created.id}\\s+alice\\s+.*\\s+denied\\s+0/2`, 'm'));
    assertFails(await reveal('alice'), 'APPROVAL_REQUIRED');
  });

  it('request cancel withdraws a pending request; nobody can approve it after', async () => {
    const created = await ask();
    assertFails(await as('bob', ['request', 'cancel', created.id]), 'FORBIDDEN');
    const cancelled = await as('alice', ['request', 'cancel', created.id]);
    assertOk(cancelled);
    assert.equal(cancelled.stdout, `Cancelled request ${created.id}.\n`);
    assert.equal((await requestOf(created.id)).status, 'cancelled');
    assertFails(await as('bob', ['request', 'approve', created.id]), 'REQUEST_NOT_PENDING');
    const queue = await as('bob', ['request', 'list', '--pending-for-me', '-o', 'json']);
    assert.deepEqual(parseJson<{ requests: unknown[] }>(queue).requests, []);
  });

  let breakglassId = '';

  it('breakglass opens a marked account without an approver, and only a marked one', async () => {
    const open = ['breakglass', 'open', 'db01/postgres', '--reason', FORMULA_REASON];
    assertFails(await as('alice', open), 'FORBIDDEN');
    const marked = await as('admin', ['breakglass', 'mark', 'db01/postgres']);
    assertOk(marked);
    assert.match(marked.stdout, /db01\/postgres is marked for break-glass/);

    const opened = await as('alice', open);
    assertOk(opened);
    assert.match(opened.stdout, /^Break-glass \S+ open on db01\/postgres until .*\(in (59m|1h)/);
    breakglassId = /^Break-glass (\S+) open/.exec(opened.stdout)?.[1] ?? '';
    const revealed = await reveal('alice');
    assertOk(revealed);
    assert.equal(revealed.stdout, `${SECRET}\n`);

    const list = await as('admin', ['breakglass', 'list', '--open']);
    assert.match(
      list.stdout,
      new RegExp(`^${breakglassId}\\s+.*db01/postgres\\s+alice\\s+open until`, 'm'),
    );
    assert.match(list.stdout, /to review/);
  });

  it('report breakglass writes CSV with a header and formula-safe cells', async () => {
    const csv = await as('admin', ['report', 'breakglass', '--from', '1h', '-o', 'csv']);
    assertOk(csv);
    const records = parseCsv(csv.stdout).map((record) => record.fields);
    assert.deepEqual(records[0]?.slice(0, 7), [
      'id',
      'opened_at',
      'ends_at',
      'closed_at',
      'account',
      'user',
      'reason',
    ]);
    const row = records.find((fields) => fields[0] === breakglassId);
    assert.ok(row !== undefined, csv.stdout);
    assert.deepEqual(row.slice(4, 7), ['db01/postgres', 'alice', `'${FORMULA_REASON}`]);
    assert.equal(row[10], 'open');

    const table = await as('audrey', ['report', 'breakglass']);
    assertOk(table);
    assert.match(table.stdout, /^1 opening, 1 not reviewed yet\.$/m);
    const before = await as('admin', ['report', 'breakglass', '--to', '2020-01-01', '-o', 'json']);
    assert.equal(parseJson<{ total: number }>(before).total, 0);
    assertFails(await as('alice', ['report', 'breakglass']), 'FORBIDDEN');
  });

  it('breakglass review closes the review, for auditors only', async () => {
    const review = ['breakglass', 'review', breakglassId, '--outcome', 'justified'];
    assertFails(await as('audrey', review), 'USAGE', 2);
    assertFails(await as('admin', [...review, '--notes', 'INC-4413']), 'FORBIDDEN');
    assertFails(await as('audrey', [...review, '--notes', 'too early']), 'CONFLICT');

    // Ending its grant closes the window, and the review can close after it.
    const event = parseJson<{ grantId: string }>(
      await as('admin', ['breakglass', 'show', breakglassId, '-o', 'json']),
    );
    assertOk(await as('admin', ['grant', 'revoke', event.grantId, '--reason', 'primary back']));
    const closed = await as('audrey', ['breakglass', 'show', breakglassId]);
    assert.match(closed.stdout, /Window:\s+closed \d{4}-/);
    const done = await as('audrey', [...review, '--notes', 'INC-4413 primary was down']);
    assertOk(done);
    assert.equal(done.stdout, `Reviewed break-glass ${breakglassId}: justified.\n`);
    const shown = await as('admin', ['breakglass', 'show', breakglassId]);
    assert.match(shown.stdout, /Review:\s+justified \(audrey\)$/m);
    const open = await as('admin', ['breakglass', 'list', '--open']);
    assert.equal(open.stdout, 'Nothing to review.\n');
    const outcome = [...review.slice(0, 3), '--outcome', 'fine', '--notes', 'x'];
    assertFails(await as('audrey', outcome), 'USAGE', 2);
  });

  it('breakglass open needs the second factor a user has; off a terminal, says how', async () => {
    assertOk(await as('admin', ['breakglass', 'mark', 'db01/app']));
    const totp = await enrollTotp(server, tokens.dave ?? '');
    const open = ['breakglass', 'open', 'db01/app', '--reason', 'pager, approvers asleep'];

    const without = await as('dave', open);
    assertFails(without, 'MFA_REQUIRED');
    assert.match(without.stderr, /--code-stdin/);
    assertFails(await as('dave', [...open, '--code', 'abc']), 'USAGE', 2);

    const code = totp.generate({ timestamp: Date.now() + 30_000 });
    const opened = await as('dave', [...open, '--code-stdin', '-o', 'json'], `${code}\n`);
    const event = parseJson<{ account: string; secondFactor: boolean; user: string }>(opened);
    assert.deepEqual([event.account, event.user, event.secondFactor], ['db01/app', 'dave', true]);
  });

  it('breakglass open prompts for the code on a terminal, never under --no-input', async (t) => {
    if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.skip('no script(1)');
    const totp = await enrollTotp(server, tokens.erin ?? '');
    const open = ['breakglass', 'open', 'db01/app', '--reason', 'pager at night'];

    const refused = await onTerminal(server, tokens.erin ?? '', [...open, '--no-input']);
    assert.equal(refused.code, 1, refused.output);
    assert.match(refused.output, /error: MFA_REQUIRED: .*--code-stdin/);
    assert.doesNotMatch(refused.output, /Code from your second factor/);

    const code = totp.generate({ timestamp: Date.now() + 30_000 });
    const prompted = await onTerminal(server, tokens.erin ?? '', open, {
      prompt: /Code from your second factor/,
      typed: `${code}\r`,
    });
    assert.equal(prompted.code, 0, prompted.output);
    assert.match(prompted.output, /Break-glass \S+ open on db01\/app until/);
    assert.ok(!prompted.output.includes(code), 'the code is not echoed');

    assertOk(await as('admin', ['breakglass', 'mark', 'db01/app', '--off']));
    assertFails(
      await as('alice', ['breakglass', 'open', 'db01/app', '--reason', 'x']),
      'FORBIDDEN',
    );
  });
});

/** Enrolls a TOTP second factor for the token's user and confirms it with the current code. */
async function enrollTotp(server: TestServer, token: string): Promise<TOTP> {
  const enrolled = await server.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', { token });
  assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
  const totp = new TOTP({
    secret: Secret.fromBase32(enrolled.body.secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  });
  const confirmed = await server.api('POST', '/v1/auth/mfa/confirm', {
    token,
    body: { code: totp.generate() },
  });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return totp;
}

/**
 * Runs tessera on a terminal that script(1) provides; when `prompt` shows up in what it wrote,
 * types `typed`. The output is the terminal's, prompts and escapes included.
 */
async function onTerminal(
  server: TestServer,
  token: string,
  args: readonly string[],
  answer?: { prompt: RegExp; typed: string },
): Promise<{ code: number | null; output: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TZ: 'UTC',
    TESSERA_ADDR: server.url,
    TESSERA_TOKEN: token,
  };
  const argv = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  // The terminal script(1) makes has no size: prompts need columns to draw in.
  const shell = `stty cols 100 rows 30; ${argv}`;
  const child = spawn('script', ['-qec', shell, '/dev/null'], { env, stdio: 'pipe' });
  let output = '';
  let typed = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    if (answer !== undefined && !typed && answer.prompt.test(output)) {
      typed = true;
      child.stdin.write(answer.typed);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), TERMINAL_TIMEOUT_MS);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function runCli(
  server: TestServer,
  cwd: string,
  token: string,
  args: readonly string[],
  stdin: string,
): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TZ: 'UTC',
    TESSERA_ADDR: server.url,
    TESSERA_TOKEN: token,
  };
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function parseJson<T>(result: CliResult): T {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

function assertOk(result: CliResult): void {
  assert.equal(result.code, 0, result.stderr);
}

function assertFails(result: CliResult, code: string, exitCode = 1): void {
  assert.equal(
    result.code,
    exitCode,
    `exit status; stdout: ${result.stdout}; stderr: ${result.stderr}`,
  );
  assert.match(result.stderr, new RegExp(`^error: ${code}: `, 'm'));
}
