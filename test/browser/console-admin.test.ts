/**
 * The Audit and Administration screens, and the rotation chart on Home, in a real Chromium
 * against a real server on SQLite: an admin creates a user, a safe with that user as a member,
 * and a group; the audit page finds those events, verifies the chain and exports them; an
 * auditor reads without the forms, and a forced change is refused; the chart shows a failed
 * rotation under the CSP. Last, Home's first render is timed with 1,000 accounts and 10,000
 * audit events in the store (reported, not asserted).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  type ConsoleRig,
  type ConsoleUser,
  createUser,
  NARROW,
  type OpenPage,
  screenshot,
  scrollsSideways,
  signIn,
  startConsoleRig,
} from './support.ts';

interface AuditEvent {
  readonly seq: number;
  readonly action: string;
  readonly actor: string | null;
  readonly object: string | null;
  readonly details: Record<string, unknown> | null;
}

const ACCOUNTS = 1000;
const AUDIT_EVENTS = 10_000;
const SETUP_CONCURRENCY = 8;

/** The trail with the filters the audit page sent, read through the API as the root token. */
async function auditEvents(rig: ConsoleRig, query: string): Promise<AuditEvent[]> {
  const reply = await rig.server.api<{ events: AuditEvent[] }>(
    'GET',
    `/v1/audit/events?${query}&limit=1000`,
  );
  assert.equal(reply.status, 200);
  return reply.body.events;
}

/** A change through the API as the root token, which must succeed. */
async function ok(rig: ConsoleRig, method: string, route: string, body?: unknown) {
  const reply = await rig.server.api(method, route, body === undefined ? {} : { body });
  assert.ok(
    reply.status < 300,
    `${method} ${route}: ${reply.status} ${JSON.stringify(reply.body)}`,
  );
  return reply;
}

/** Messages the page logged about the Content Security Policy refusing something. */
function watchCsp(page: Page): string[] {
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) refused.push(message.text());
  });
  return refused;
}

describe('console audit and administration', () => {
  let rig: ConsoleRig;
  let ada: ConsoleUser;
  let carol: ConsoleUser;

  before(async () => {
    rig = await startConsoleRig();
    ada = await createUser(rig.server, 'ada', 'admin');
    carol = await createUser(rig.server, 'carol', 'auditor');
  });
  after(() => rig?.stop());

  it('lets an admin create a user, a safe with that member, and a group', async () => {
    const { page, problems } = await rig.open();
    const csp = watchCsp(page);
    await signIn(page, ada);
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Admin' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();

    const create = page.getByRole('form', { name: 'Create a user' });
    await create.getByLabel('User name').fill('dora');
    await create.getByLabel('Role').selectOption('user');
    await create.getByLabel('Password (optional)').fill('dora-Initial-pw-1');
    await create.getByRole('button', { name: 'Create user' }).click();
    await create.getByText('Created dora with the role user.').waitFor();
    assert.equal(await create.getByLabel('Password (optional)').inputValue(), '');
    const doraRow = page.getByRole('row', { name: /dora/ });
    await doraRow.waitFor();
    assert.match(await doraRow.innerText(), /user\s+active/);
    await screenshot(page, 'admin-users');

    await page.getByRole('button', { name: 'Disable dora' }).click();
    await page
      .getByText('dora is disabled: no sign-in, and every token of theirs is revoked.')
      .waitFor();
    await doraRow.getByText('disabled').waitFor();
    await page.getByRole('button', { name: 'Enable dora' }).click();
    await page.getByText('dora is enabled and may sign in again.').waitFor();
    await doraRow.getByText('active').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Disable ada' }).count(), 0, 'oneself');

    // A refusal shows the server's answer, code included.
    await create.getByLabel('User name').fill('dora');
    await create.getByRole('button', { name: 'Create user' }).click();
    await create
      .getByRole('alert')
      .getByText(/ALREADY_EXISTS/)
      .waitFor();

    await page.getByRole('link', { name: 'Safes and members' }).click();
    const safeForm = page.getByRole('form', { name: 'Create a safe' });
    await safeForm.getByLabel('Safe name').fill('finance');
    await safeForm.getByLabel('Description (optional)').fill('Ledger databases');
    await safeForm.getByRole('button', { name: 'Create safe' }).click();
    await safeForm.getByText('Created the safe finance.', { exact: false }).waitFor();
    await page.getByRole('link', { name: 'finance' }).click();
    await page.getByRole('heading', { name: 'Safe finance' }).waitFor();

    const add = page.getByRole('form', { name: 'Add a member' });
    await add.getByLabel('User name').fill('dora');
    await add.getByRole('checkbox', { name: /^retrieve/ }).check();
    await add.getByRole('checkbox', { name: /^approve/ }).check();
    await add.getByRole('button', { name: 'Add member' }).click();
    await add.getByText('dora is a member of finance with list, retrieve, approve.').waitFor();
    const memberRow = page.getByRole('row', { name: /dora/ });
    await memberRow.waitFor();
    assert.match(await memberRow.innerText(), /list\s*retrieve\s*approve/);
    await page.getByRole('heading', { name: 'Access policy' }).waitFor();
    await page.getByText('This safe follows the default policy').waitFor();
    await screenshot(page, 'admin-safe-members');

    const safe = await rig.server.api<{ members: { user: string; permissions: string[] }[] }>(
      'GET',
      '/v1/safes/finance',
    );
    assert.deepEqual(
      safe.body.members.map((m) => [m.user, m.permissions]),
      [['dora', ['list', 'retrieve', 'approve']]],
    );

    await page.getByRole('link', { name: 'Groups' }).click();
    const groupForm = page.getByRole('form', { name: 'Create a group' });
    await groupForm.getByLabel('Group name').fill('approvers');
    await groupForm.getByRole('button', { name: 'Create group' }).click();
    await groupForm.getByText('Created the group approvers.', { exact: false }).waitFor();
    const addToGroup = page.getByRole('form', { name: 'Add a member to approvers' });
    await addToGroup.getByLabel('Add a user').fill('dora');
    await addToGroup.getByRole('button', { name: 'Add to approvers' }).click();
    await page.getByText('Added dora. approvers has dora.').waitFor();
    const group = await rig.server.api<{ members: string[] }>('GET', '/v1/groups/approvers');
    assert.deepEqual(group.body.members, ['dora']);
    await screenshot(page, 'admin-groups');

    await page.setViewportSize(NARROW);
    for (const [route, name] of [
      ['/admin', 'admin-users-narrow'],
      ['/admin/safes/finance', 'admin-safe-members-narrow'],
    ] as const) {
      await page.goto(route);
      await page.getByRole('row', { name: /dora/ }).waitFor();
      assert.equal(await scrollsSideways(page), false, `${route} scrolls sideways`);
      await screenshot(page, name);
    }

    assert.deepEqual(problems, []);
    assert.deepEqual(csp, []);
  });

  it("lets an admin add a target and set a new policy's rotation and sessions", async () => {
    const { page, problems } = await rig.open();
    await signIn(page, ada);
    await page.goto('/admin/targets');
    const add = page.getByRole('form', { name: 'Add a target' });
    await add.getByLabel('Target name').fill('reports-db');
    await add.getByLabel('Platform').selectOption('postgresql');
    await add.getByLabel('Host name or address').fill('127.0.0.1');
    await add.getByLabel('Port', { exact: true }).fill('9');
    await add.getByLabel('Database (optional)').fill('reports');
    await add.getByRole('button', { name: 'Add target' }).click();
    await add.getByText('Added reports-db: PostgreSQL at 127.0.0.1:9.').waitFor();
    await page
      .getByRole('row', { name: /reports-db/ })
      .getByText('127.0.0.1:9/reports')
      .waitFor();
    await screenshot(page, 'admin-targets');

    await page.getByRole('link', { name: 'Policies' }).click();
    const create = page.getByRole('form', { name: 'Create a policy' });
    await create.getByLabel('Policy name').fill('quarterly');
    await create.getByRole('button', { name: 'Create and edit' }).click();
    await page.getByText('Created the policy quarterly with the default settings.').waitFor();
    const before = await rig.server.api<Record<string, unknown>>('GET', '/v1/policies/quarterly');

    await page.getByLabel('Rotate every', { exact: true }).fill('90');
    await page.getByLabel('Unit of Rotate every').selectOption('days');
    await page.getByLabel('At (time of day)').fill('03:30');
    await page.getByLabel('Time zone', { exact: true }).fill('Europe/Paris');
    await page.getByRole('checkbox', { name: 'Rotate at check-in' }).uncheck();
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Saved the policy quarterly.').waitFor();
    const saved = await rig.server.api<Record<string, unknown>>('GET', '/v1/policies/quarterly');
    assert.deepEqual(saved.body, {
      ...before.body,
      rotationIntervalS: 90 * 86_400,
      rotateAt: '03:30',
      timeZone: 'Europe/Paris',
      rotateOnCheckin: false,
    });

    await page.getByRole('checkbox', { name: 'Allow SFTP file transfer' }).uncheck();
    await page.getByRole('checkbox', { name: 'Allow port forwarding' }).check();
    await page.getByLabel('End when idle for', { exact: true }).fill('15');
    await page.getByLabel('Unit of End when idle for').selectOption('minutes');
    await page.getByRole('button', { name: 'Save session settings' }).click();
    await page.getByText(/SFTP refused; port forwarding allowed/).waitFor();
    const session = await rig.server.api('GET', '/v1/policies/quarterly/session');
    assert.deepEqual(session.body, {
      recordInput: true,
      recordingRequired: true,
      allowSftp: false,
      allowPortForwarding: true,
      allowAgentForwarding: false,
      allowX11: false,
      idleTimeoutS: 900,
      maxSessionS: null,
      endOnRecordingDrop: false,
      holdForRecording: true,
    });
    await screenshot(page, 'admin-policy');
    assert.deepEqual(problems, []);
  });

  it("sets a safe's access policy, then returns it to the default", async () => {
    const { page, problems } = await rig.open();
    await signIn(page, ada);
    await page.goto('/admin/safes/finance');
    const policy = page.getByRole('form', { name: 'Access policy' });
    await policy.getByText('This safe follows the default policy').waitFor();
    await policy.getByRole('checkbox', { name: 'retrieve', exact: true }).check();
    await policy.getByLabel('Approvals required').fill('2');
    await policy.getByLabel('Approver group').selectOption('approvers');
    await policy.getByRole('checkbox', { name: 'Open only on some days and hours' }).check();
    await policy.getByRole('checkbox', { name: 'fri', exact: true }).uncheck();
    await policy.getByLabel('From', { exact: true }).fill('07:00');
    await policy.getByLabel('Time zone').fill('Europe/Berlin');
    await policy.getByRole('button', { name: 'Save access policy' }).click();
    await page
      .getByText(
        'Saved. retrieve needs 2 approvals from approvers; open mon, tue, wed, thu ' +
          '07:00–18:00 (Europe/Berlin).',
      )
      .waitFor();
    const set = await rig.server.api<Record<string, unknown>>(
      'GET',
      '/v1/safes/finance/access-policy',
    );
    assert.equal(set.body.scope, 'safe');
    assert.deepEqual(set.body.approvalFor, ['retrieve']);
    assert.equal(set.body.approvalsRequired, 2);
    assert.equal(set.body.approverGroup, 'approvers');
    assert.deepEqual(set.body.window, {
      days: ['mon', 'tue', 'wed', 'thu'],
      start: '07:00',
      end: '18:00',
      timeZone: 'Europe/Berlin',
    });
    await policy.getByText('This safe has its own policy').waitFor();
    await screenshot(page, 'admin-access-policy');

    await page.getByRole('button', { name: 'Use the default policy' }).click();
    await page.getByText('The safe follows the default access policy again.').waitFor();
    await policy.getByText('This safe follows the default policy').waitFor();
    const reset = await rig.server.api<{ scope: string }>('GET', '/v1/safes/finance/access-policy');
    assert.equal(reset.body.scope, 'default');
    assert.deepEqual(problems, []);
  });

  it('finds those events by action prefix, shows the chain intact and exports them', async () => {
    const { page, problems } = await rig.open();
    await signIn(page, ada);
    await page.goto('/audit');
    await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
    await page.getByText('Chain not checked.').waitFor();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    const intact = page.getByText('Chain intact.');
    await intact.waitFor();
    const expected = await auditEvents(rig, 'action=safe.');
    assert.deepEqual(
      expected.map((e) => e.action),
      ['safe.create', 'safe.member.set'],
    );

    await page.getByLabel('Action starts with').fill('safe.');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL('**/audit?action=safe.');
    await page.getByText(`${expected.length} events shown`).waitFor();
    const rows = page.locator('.audit-table tbody tr');
    assert.equal(await rows.count(), expected.length);
    assert.match(
      await rows.nth(0).innerText(),
      /ada[\s\S]*safe\.create[\s\S]*finance[\s\S]*success/,
    );
    assert.match(await rows.nth(1).innerText(), /safe\.member\.set/);

    await page.getByRole('button', { name: `Details of event ${expected[1]?.seq}` }).click();
    const details = page.locator(`#event-${expected[1]?.seq}-details`);
    await details.getByText('Event id').waitFor();
    assert.match(await details.innerText(), /permissions\s+list,retrieve,approve/);
    await screenshot(page, 'audit');

    const csvDownload = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csvFile = await (await csvDownload).path();
    const csv = await readFile(csvFile, 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert.match(lines[0] ?? '', /^seq,id,at,actor,actorId,action,/);
    assert.equal(lines.length, expected.length + 1);
    for (const [i, event] of expected.entries()) {
      assert.ok(lines[i + 1]?.startsWith(`${event.seq},`), lines[i + 1]);
      assert.ok(lines[i + 1]?.includes(`,${event.action},`), lines[i + 1]);
    }
    // The member's permissions hold commas: the details cell is quoted, its quotes doubled.
    assert.match(lines[2] ?? '', /"\{""user"":""dora"",""permissions"":""list,retrieve,approve""/);
    await page.getByText(`Exported ${expected.length} events as CSV.`).waitFor();

    const jsonDownload = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export JSON' }).click();
    const json = JSON.parse(await readFile(await (await jsonDownload).path(), 'utf8'));
    assert.deepEqual(json, expected);

    await page.setViewportSize(NARROW);
    assert.equal(await scrollsSideways(page), false, 'the audit page scrolls sideways');
    await screenshot(page, 'audit-narrow');
    assert.deepEqual(problems, []);
  });

  it('exports a cell that would run as a spreadsheet formula as plain text', async () => {
    // A user name cannot start with "=", a reason can: it is typed by whoever gives it.
    await rig.server.services.audit.record({
      action: 'test.formula',
      outcome: 'success',
      actor: { id: null, name: 'tester' },
      reason: '=HYPERLINK("http://127.0.0.1:9/x","click")',
      details: { note: '+1', other: '@SUM(A1)' },
    });
    const { page } = await rig.open();
    await signIn(page, ada);
    await page.goto('/audit?action=test.formula');
    await page.getByText('1 event shown').waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csv = await readFile(await (await download).path(), 'utf8');
    const row = csv.split('\r\n')[1] ?? '';
    assert.ok(row.includes(`"'=HYPERLINK(""http://127.0.0.1:9/x"",""click"")"`), row);
    assert.ok(!/,[=+\-@]/.test(row.replaceAll(/"[^"]*(""[^"]*)*"/g, '')), row);
  });

  it('lets an auditor read the trail and the settings, but not change them', async () => {
    const { page, problems } = await rig.open();
    await signIn(page, carol);
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.getByRole('link', { name: 'Audit' }).count(), 1);
    assert.equal(await nav.getByRole('link', { name: 'Admin' }).count(), 0);

    await nav.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText('Chain intact.').waitFor();
    await page.getByLabel('Action starts with').fill('group.');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('2 events shown').waitFor();

    await page.goto('/admin');
    await page.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();
    await page.getByText('You can read these settings.').waitFor();
    await page.getByRole('row', { name: /dora/ }).waitFor();
    assert.equal(await page.getByRole('form', { name: 'Create a user' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /Disable|Enable/ }).count(), 0);
    await page.goto('/admin/safes/finance');
    await page.getByRole('row', { name: /dora/ }).waitFor();
    assert.equal(await page.getByRole('form', { name: 'Add a member' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /Remove|Change/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Save access policy' }).count(), 0);
    await screenshot(page, 'admin-auditor');
    assert.deepEqual(problems, []);

    // The call a hidden button would make, from the auditor's own session and CSRF token.
    const forced = await page.evaluate(async () => {
      const session = (await (await fetch('/v1/auth/session')).json()) as { csrfToken: string };
      const headers = { 'content-type': 'application/json', 'x-tessera-csrf': session.csrfToken };
      const send = async (method: string, path: string, body: unknown) => {
        const response = await fetch(path, { method, headers, body: JSON.stringify(body) });
        const reply = (await response.json()) as { error?: { code: string } };
        return { status: response.status, code: reply.error?.code ?? null };
      };
      return [
        await send('POST', '/v1/users', { name: 'mallory', role: 'admin', password: 'x' }),
        await send('PUT', '/v1/safes/finance/members/carol', { permissions: ['retrieve'] }),
      ];
    });
    assert.deepEqual(forced, [
      { status: 403, code: 'FORBIDDEN' },
      { status: 403, code: 'FORBIDDEN' },
    ]);
    const users = await rig.server.api<{ users: { name: string }[] }>('GET', '/v1/users');
    assert.ok(!users.body.users.some((u) => u.name === 'mallory'));
    const safe = await rig.server.api<{ members: { user: string }[] }>('GET', '/v1/safes/finance');
    assert.deepEqual(
      safe.body.members.map((m) => m.user),
      ['dora'],
    );
  });

  it('draws the rotation chart on Home after a failed rotation, within the CSP', async () => {
    // Nothing listens on port 9: the rotation fails, and the trail counts it.
    await ok(rig, 'POST', '/v1/targets', {
      name: 'ledger-db',
      platform: 'postgresql',
      host: '127.0.0.1',
      port: 9,
    });
    await ok(rig, 'POST', '/v1/targets/ledger-db/accounts', {
      username: 'ledger',
      safe: 'finance',
      secret: 'initial',
    });
    const rotated = await rig.server.api('POST', '/v1/targets/ledger-db/accounts/ledger/rotate', {
      body: {},
    });
    assert.ok(rotated.status >= 400, `the rotation was expected to fail: ${rotated.status}`);

    for (const [label, viewport] of [
      ['wide', undefined],
      ['narrow', NARROW],
    ] as const) {
      const opened: OpenPage = await rig.open(viewport === undefined ? {} : { viewport });
      const { page, problems } = opened;
      const csp = watchCsp(page);
      await signIn(page, ada);
      const chart = page.getByRole('article', { name: 'Rotations, last 30 days' });
      await chart.locator('svg.recharts-surface').waitFor();
      await chart
        .locator('.recharts-bar-rectangle path, .recharts-bar-rectangle')
        .first()
        .waitFor();
      assert.match(await chart.locator('.legend').innerText(), /0\s*rotated[\s\S]*1\s*failed/);
      await chart.getByText('The numbers per day').click();
      const today = new Date().toISOString().slice(0, 10);
      assert.match(await chart.getByRole('table').innerText(), new RegExp(`${today}\\s+0\\s+1`));
      assert.equal(await scrollsSideways(page), false, `${label} Home scrolls sideways`);
      await screenshot(page, `home-chart-${label}`);
      assert.deepEqual(csp, [], 'the page logged a CSP refusal');
      assert.deepEqual(problems, []);
    }
  });

  it("times Home's first render with 1,000 accounts and 10,000 audit events", async (t) => {
    const { server } = rig;
    await ok(rig, 'POST', '/v1/safes', { name: 'bulk' });
    const names = Array.from({ length: ACCOUNTS }, (_, i) => `acct-${String(i).padStart(4, '0')}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: SETUP_CONCURRENCY }, async () => {
        while (next < names.length) {
          const username = names[next++];
          await ok(rig, 'POST', '/v1/targets/ledger-db/accounts', {
            username,
            safe: 'bulk',
            secret: `initial-${username}`,
          });
        }
      }),
    );
    const stored = await countEvents(rig);
    const seeds = Array.from({ length: Math.max(0, AUDIT_EVENTS - stored) }, (_, i) =>
      server.services.audit.record({
        action: 'test.seed',
        outcome: 'success',
        actor: { id: null, name: 'seed' },
        object: { type: 'account', id: null, name: `ledger-db/acct-${i % ACCOUNTS}` },
        details: { n: i },
      }),
    );
    await Promise.all(seeds);
    const total = await countEvents(rig);
    assert.ok(total >= AUDIT_EVENTS, `${total} events`);

    const { page, problems } = await rig.open();
    await signIn(page, ada);
    const timings: { shell: number; loaded: number }[] = [];
    for (let round = 0; round < 3; round++) {
      // Polling starts as soon as the new document exists, not after its load event.
      await page.goto('/', { waitUntil: 'commit' });
      timings.push(await homeTimings(page));
    }
    await page.getByText(`${ACCOUNTS + 1} accounts`).waitFor();
    assert.deepEqual(problems, []);
    const median = (pick: (x: { shell: number; loaded: number }) => number) =>
      timings.map(pick).sort((a, b) => a - b)[1] ?? Number.NaN;
    t.diagnostic(
      `Home first render with ${ACCOUNTS + 1} accounts and ${total} audit events ` +
        `(3 loads, median): heading visible ${median((x) => x.shell).toFixed(0)} ms, ` +
        `every panel loaded and the chart drawn ${median((x) => x.loaded).toFixed(0)} ms ` +
        `after navigation start; each load: ${JSON.stringify(timings)}`,
    );

    await page.goto('/audit');
    await page.getByText('Page 1 · seq 1 to 100').waitFor();
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    const verdict = page.locator(
      '.chain-intact, .chain-broken, .chain ~ .state-error, .chain .state-error',
    );
    await verdict.waitFor({ timeout: 60_000 });
    // Signing in and reading the trail add events of their own after the count above.
    const checked = /^Chain intact\. (\d+) events/.exec(await verdict.innerText());
    assert.ok(checked !== null && Number(checked[1]) >= total, await verdict.innerText());
  });

  // Last: it breaks the chain for good.
  it('says where the chain breaks once an event was altered in the store', async () => {
    await rig.server.services.store.db
      .updateTable('audit_events')
      .set({ reason: 'rewritten afterwards' })
      .where('seq', '=', 5)
      .execute();
    const { page } = await rig.open();
    await signIn(page, carol);
    await page.goto('/audit');
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    const alert = page.locator('.chain-broken');
    await alert.waitFor({ timeout: 60_000 });
    assert.match(
      await alert.innerText(),
      /^Chain broken at seq 5: its content or hash was changed after it was written\./,
    );
    await screenshot(page, 'audit-broken');
  });
});

async function countEvents(rig: ConsoleRig): Promise<number> {
  const row = await rig.server.services.store.db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The few DOM calls the timing needs; the tests compile without the DOM's types. */
interface PageDocument {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
}

/**
 * Milliseconds from navigation start, measured in the page: to Home's heading, and to every
 * panel having left its loading state with the chart's bars drawn. Polled each frame.
 */
async function homeTimings(page: Page): Promise<{ shell: number; loaded: number }> {
  const shell = await page.waitForFunction(
    () => {
      const doc = (globalThis as unknown as { document: PageDocument }).document;
      return doc.querySelector('main h1')?.textContent === 'Home' && performance.now();
    },
    undefined,
    { polling: 'raf' },
  );
  const loaded = await page.waitForFunction(
    () => {
      const doc = (globalThis as unknown as { document: PageDocument }).document;
      return (
        doc.querySelectorAll('main .panel').length >= 7 &&
        doc.querySelectorAll('main .state-loading').length === 0 &&
        doc.querySelector('main .rotation-chart .recharts-bar-rectangle') !== null &&
        performance.now()
      );
    },
    undefined,
    { polling: 'raf', timeout: 60_000 },
  );
  return {
    shell: (await shell.jsonValue()) as number,
    loaded: (await loaded.jsonValue()) as number,
  };
}
