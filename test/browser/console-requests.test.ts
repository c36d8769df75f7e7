/**
 * The console's access request screens in a real Chromium against a real server: asking,
 * answering in other people's browsers, grants with their time left, revocation, and an
 * ephemeral account's login shown once (on a throw-away PostgreSQL cluster). Screenshots go to
 * test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { freePort, type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import type { TestServer } from '../support/test-server.ts';
import {
  type ConsoleRig,
  type ConsoleUser,
  createUser,
  NARROW,
  screenshot,
  scrollsSideways,
  signIn,
  startConsoleRig,
  WIDE,
} from './support.ts';

// pg fills missing connection settings from PG* variables, then localhost:5432; should a guard
// ever regress, the fallback lands on a closed loopback port instead.
process.env.PGHOST = '127.0.0.1';
process.env.PGPORT = String(await freePort());

type Reply = {
  error?: { code: string };
  id?: string;
  status?: string;
  value?: string;
  requests?: Array<{ id: string; status: string }>;
};

/**
 * Dual control in the console, end to end against a real server: a requester asks through the
 * form (a ticket in the wrong format is refused next to its field), two approvers answer from
 * their queues in their own browsers, the requester can never answer their own request (no
 * button, and a call forced with the page's own session is refused), the grant shows with its
 * time left, and an admin revokes it from the grants view with a reason.
 */
describe('console: access requests and grants', () => {
  let estate: Estate;
  let server: TestServer;
  let tokens: Record<string, string>;

  before(async () => {
    estate = await startEstate();
    ({ server, tokens } = estate);
  });
  after(() => estate?.rig.stop());

  const signInAs = (name: string) => openAs(estate, name);

  let alice: Page;
  let requestId: string;

  it('asks through the form, which shows the policy and a bad ticket at its field', async () => {
    alice = await signInAs('alice');
    await alice.goto(`${server.url}/requests/new?account=db01/postgres`);
    assert.equal(await alice.getByLabel('Account', { exact: true }).inputValue(), 'db01/postgres');

    const policy = alice.getByRole('complementary', { name: 'What this request needs' });
    await policy.getByText('2 approvals', { exact: false }).waitFor();
    assert.match(await shown(policy.locator('[data-policy="ticket"]')), /required.*INC-/);
    assert.equal(await shown(policy.locator('[data-policy="max-duration"]')), '4 h');
    assert.ok(await alice.getByLabel('Ticket (required)').isVisible(), 'the field says so');
    assert.ok(await alice.getByRole('radio', { name: '8 h' }).isDisabled(), 'over the max');

    await alice.getByRole('radio', { name: '2 h' }).check();
    await alice.getByLabel('Reason (required)').fill('INC-4411 disk full on db01');
    await alice.getByLabel('Ticket (required)').fill('CHG-1');
    await alice.getByRole('button', { name: 'Send request' }).click();

    const ticketError = alice.locator('#ask-ticket-error');
    await ticketError.waitFor();
    assert.match(await shown(ticketError), /TICKET_INVALID/);
    const ticket = alice.getByLabel('Ticket (required)');
    assert.equal(await ticket.getAttribute('aria-invalid'), 'true');
    assert.match((await ticket.getAttribute('aria-describedby')) ?? '', /ask-ticket-error/);
    assert.equal(await ticket.evaluate((el) => el === document.activeElement), true);
    await shoot(alice, 'requests-form');

    const none = await server.api<Reply>('GET', '/v1/requests?mine=true', {
      token: tokens.alice,
    });
    assert.deepEqual(none.body.requests, [], 'the refused request left nothing behind');

    await ticket.fill('INC-4411');
    assert.equal(await ticketError.count(), 0, 'the error goes once the field changes');
    await alice.getByRole('button', { name: 'Send request' }).click();
    await alice.waitForURL(`${server.url}/requests`);
    await alice.getByText('Your request for db01/postgres is sent').waitFor();
    const card = alice.locator('[data-request]').first();
    assert.match(await shown(card), /Waiting for approval/);
    assert.match(await shown(card), /Approvals 0 of 2/);
    requestId = (await card.getAttribute('data-request')) as string;

    const mine = await server.api<{ permissions: string[]; durationS: number; ticket: string }>(
      'GET',
      `/v1/requests/${requestId}`,
      { token: tokens.alice },
    );
    assert.equal(mine.body.durationS, 7200);
    assert.equal(mine.body.ticket, 'INC-4411');
    assert.deepEqual(mine.body.permissions, ['use', 'retrieve', 'checkout']);
  });

  it('never offers the requester their own request, and refuses it when forced', async () => {
    await alice.goto(`${server.url}/requests/approvals`);
    await alice.getByText('Nothing is waiting for your answer').waitFor();
    assert.equal(await alice.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await alice.getByTestId('pending-count').count(), 0);

    await alice.goto(`${server.url}/requests/${requestId}`);
    await alice.getByText('Tessera never lets you answer your own request').waitFor();
    assert.equal(await alice.getByRole('button', { name: 'Approve' }).count(), 0);
    assert.equal(await alice.getByRole('button', { name: 'Deny' }).count(), 0);

    // The same call the button would make, from the page's own session and CSRF token.
    const forced = await alice.evaluate(async (id) => {
      const session = await (await fetch('/v1/auth/session')).json();
      const response = await fetch(`/v1/requests/${id}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tessera-csrf': session.csrfToken },
        body: JSON.stringify({ comment: 'me' }),
      });
      return { status: response.status, body: await response.json() };
    }, requestId);
    assert.equal(forced.status, 403);
    assert.equal(forced.body.error.code, 'SELF_APPROVAL');
    const byToken = await server.api<Reply>('POST', `/v1/requests/${requestId}/approve`, {
      token: tokens.alice,
      body: { comment: 'me' },
    });
    assert.equal(byToken.body.error?.code, 'SELF_APPROVAL');
  });

  it('lets the first approver approve from the queue in another browser', async () => {
    const bob = await signInAs('bob');
    await bob.goto(`${server.url}/requests/approvals`);
    const count = await bob.getByTestId('pending-count').textContent();
    assert.equal(count?.replace(/\s+/g, ' ').trim(), '1 waiting');
    const card = bob.locator(`[data-request="${requestId}"]`);
    const text = await shown(card);
    for (const expected of [/alice asks for db01\/postgres/, /INC-4411 disk full/, /2 h/]) {
      assert.match(text, expected);
    }
    assert.match(text, /Ticket\s+INC-4411/);
    assert.match(text, /Waiting for\s+under a minute/);
    await shoot(bob, 'requests-approvals');

    await card.getByRole('button', { name: 'Approve' }).click();
    const dialog = bob.getByRole('dialog', { name: 'Approve this request?' });
    await dialog.getByLabel('Comment (optional)').fill('disk full confirmed');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await bob.getByText('is recorded (1 of 2); it waits for 1 more').waitFor();
    await bob.getByText('Nothing is waiting for your answer').waitFor();
    assert.equal(await bob.getByTestId('pending-count').count(), 0);

    await alice.goto(`${server.url}/requests`);
    const mine = alice.locator(`[data-request="${requestId}"]`);
    await mine.getByText('Approvals 1 of 2').waitFor();
    assert.match(await shown(mine), /bob.*disk full confirmed/);
    await shoot(alice, 'requests-mine');
  });

  it('grants at the second approver, after a denial without a reason was stopped', async () => {
    const carol = await signInAs('carol');
    await carol.goto(`${server.url}/requests/approvals`);
    const card = carol.locator(`[data-request="${requestId}"]`);
    await card.getByRole('button', { name: 'Deny' }).click();
    const deny = carol.getByRole('dialog', { name: 'Deny this request?' });
    await deny.getByRole('button', { name: 'Deny' }).click();
    await deny.getByText('Say why you deny it').waitFor();
    await deny.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await deny.count(), 0);

    await card.getByRole('button', { name: 'Approve' }).click();
    const approve = carol.getByRole('dialog', { name: 'Approve this request?' });
    await approve.getByRole('button', { name: 'Approve' }).click();
    await carol.getByText('Approved: alice now holds').waitFor();
    const answered = await server.api<Reply>('GET', `/v1/requests/${requestId}`);
    assert.equal(answered.body.status, 'approved');
  });

  it('shows the grant with its time left, and the grant opens the account', async () => {
    await alice.goto(`${server.url}/requests/grants`);
    const grant = alice.locator('[data-grant]').first();
    await grant.waitFor();
    const text = await shown(grant);
    assert.match(text, /db01\/postgres/);
    assert.match(text, /Approved request/);
    assert.match(text, /use, retrieve and checkout/);
    assert.match(text, /(1 h 59 min|2 h 00 min) left/);
    assert.equal(await grant.locator('progress').count(), 1);
    assert.equal(await grant.getByRole('button', { name: 'Give back now' }).count(), 1);
    assert.equal(await grant.getByRole('button', { name: /Revoke/ }).count(), 0);
    await shoot(alice, 'requests-grants');

    const revealed = await server.api<Reply>('POST', '/v1/targets/db01/accounts/postgres/reveal', {
      token: tokens.alice,
      body: { reason: 'INC-4411 disk full' },
    });
    assert.equal(revealed.status, 200, JSON.stringify(revealed.body));
    assert.equal(revealed.body.value, 'pw-postgres');
  });

  it('lets an admin revoke the grant with a reason, and it leaves the active list', async () => {
    const ada = await signInAs('ada');
    await ada.goto(`${server.url}/requests/grants`);
    const grant = ada.locator('[data-grant]').filter({ hasText: 'db01/postgres' });
    await grant.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = ada.getByRole('dialog', { name: 'Revoke this grant?' });
    await dialog.getByRole('button', { name: 'Revoke now' }).click();
    await dialog.getByText('Say why').waitFor();
    await dialog.getByLabel('Reason (required)').fill('INC-4411 resolved, access no longer needed');
    await shoot(ada, 'requests-revoke-dialog');
    await dialog.getByRole('button', { name: 'Revoke now' }).click();

    await ada.getByText('Revoked: alice no longer holds db01/postgres').waitFor();
    await ada.getByText('No grant is active now').waitFor();
    await ada.getByLabel('All, with ended ones').check();
    const ended = ada.locator('[data-grant]').filter({ hasText: 'db01/postgres' });
    await ended.locator('.rq-badge', { hasText: 'Revoked' }).waitFor();
    assert.match(await shown(ended), /Revoked by ada: “INC-4411 resolved/);

    const refused = await server.api<Reply>('POST', '/v1/targets/db01/accounts/postgres/reveal', {
      token: tokens.alice,
      body: { reason: 'again' },
    });
    assert.equal(refused.body.error?.code, 'APPROVAL_REQUIRED');
  });

  it('broke no Content Security Policy rule and failed no request on any page', () => {
    assert.deepEqual(estate.problems(), [], estate.problems().join('; '));
  });
});

/**
 * Zero standing privilege in the console, against a real PostgreSQL: an approved request for an
 * ephemeral account shows its login once to its holder, who can use it; the page clears it,
 * the server will not give it again, and giving the grant back drops the account.
 */
describe('console: an ephemeral grant shows its credential once', () => {
  const cluster = usePgCluster();
  let estate: Estate;
  let server: TestServer;
  let tokens: Record<string, string>;
  let grantId: string;

  before(async () => {
    estate = await startEstate();
    ({ server, tokens } = estate);
    await setUpEphemeralTarget(server, cluster());
    const asked = await server.api<Reply>('POST', '/v1/requests', {
      token: tokens.alice,
      body: {
        ephemeral: { target: 'db02', role: EPHEMERAL_ROLE },
        durationS: 3600,
        reason: 'INC-5001 read the billing tables',
        ticket: 'INC-5001',
      },
    });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    for (const approver of ['bob', 'carol']) {
      const answered = await server.api<Reply & { grantId: string | null }>(
        'POST',
        `/v1/requests/${asked.body.id}/approve`,
        { token: tokens[approver], body: { comment: '' } },
      );
      assert.equal(answered.status, 200, JSON.stringify(answered.body));
      grantId = answered.body.grantId ?? '';
    }
    assert.notEqual(grantId, '', 'the second approval made a grant');
  });
  after(() => estate?.rig.stop());

  it('shows the login once, clears it, and the login works', async () => {
    const alice = await openAs(estate, 'alice');
    await alice.goto(`${server.url}/requests/grants`);
    const card = alice.locator(`[data-grant="${grantId}"]`);
    await card.getByRole('heading', { name: 'A temporary account on db02' }).waitFor();
    assert.match(await shown(card), /Temporary account/);
    await shoot(alice, 'requests-grant-ephemeral');

    await card.getByRole('button', { name: 'Show credential once' }).click();
    const shownCredential = card.getByRole('region', { name: 'Temporary credential' });
    await shownCredential.waitFor();
    const username = (await shownCredential.locator('dd code').nth(0).textContent()) ?? '';
    const password = (await shownCredential.locator('dd code').nth(1).textContent()) ?? '';
    assert.ok(username.length > 0 && password.length > 0);
    assert.equal(await cluster().loginWithPsql(username, password), true, 'the login works');

    await shownCredential.getByRole('button', { name: 'Hide and clear' }).click();
    await card.getByText('It cannot be shown again').waitFor();
    assert.equal((await alice.content()).includes(password), false, 'gone from the page');
    assert.equal(await card.getByRole('button', { name: 'Show credential once' }).count(), 0);

    const again = await server.api<Reply>('POST', `/v1/grants/${grantId}/credential`, {
      token: tokens.alice,
      body: {},
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error?.code, 'CONFLICT');

    await card.getByRole('button', { name: 'Give back now' }).click();
    const dialog = alice.getByRole('dialog', { name: 'Give this access back now?' });
    await dialog.getByRole('button', { name: 'Give back now' }).click();
    await alice.getByText('You gave back a temporary account on db02').waitFor();
    const grant = await server.api<{ active: boolean; revokeReason: string }>(
      'GET',
      `/v1/grants/${grantId}`,
      { token: tokens.alice },
    );
    assert.equal(grant.body.active, false);
    assert.equal(grant.body.revokeReason, 'Given back early by the holder');
    assert.equal(await cluster().loginWithPsql(username, password), false, 'dropped');
    assert.deepEqual(estate.problems(), [], estate.problems().join('; '));
  });
});

const EPHEMERAL_ROLE = 'eph_reader';

/** Target db02 on the test cluster, with an admin account in `prod` that makes accounts. */
async function setUpEphemeralTarget(server: TestServer, cluster: PgCluster): Promise<void> {
  const admin = {
    username: uniqueRoleName('eph_admin'),
    password: randomBytes(18).toString('hex'),
  };
  // CREATEROLE makes and drops roles; pg_signal_backend ends their sessions.
  await cluster.createRole(admin.username, admin.password, { createRole: true });
  await cluster.query(`GRANT pg_signal_backend TO ${admin.username}`);
  await cluster.createRole(EPHEMERAL_ROLE, null, { login: false });
  const target = { name: 'db02', platform: 'postgresql', host: cluster.host, port: cluster.port };
  assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
  const account = {
    username: admin.username,
    safe: 'prod',
    policy: 'keep',
    secret: admin.password,
  };
  const onboarded = await server.api('POST', '/v1/targets/db02/accounts', { body: account });
  assert.equal(onboarded.status, 201, JSON.stringify(onboarded.body));
  const configured = await server.api('PUT', '/v1/targets/db02/ephemeral', {
    body: { adminAccount: `db02/${admin.username}`, roles: [EPHEMERAL_ROLE] },
  });
  assert.equal(configured.status, 200, JSON.stringify(configured.body));
}

interface Estate {
  readonly rig: ConsoleRig;
  readonly server: TestServer;
  readonly users: Record<string, ConsoleUser>;
  /** API tokens of the same users, for what the test checks or forces outside the page. */
  readonly tokens: Record<string, string>;
  /** What went wrong in every page opened so far (support.ts): script, CSP, network errors. */
  problems(): string[];
  /** Each page's own list of problems, as support.ts keeps it. */
  readonly watched: string[][];
}

/**
 * A server and a browser with a safe `prod` holding one PostgreSQL account behind a policy of
 * two approvals and a ticket in the form INC-nnn. alice may use it and also approves in the safe,
 * so only the self-approval rule keeps her from her own request; bob and carol approve; ada is
 * an admin.
 */
async function startEstate(): Promise<Estate> {
  const rig = await startConsoleRig({ store: 'sqlite' });
  const { server } = rig;
  const users: Record<string, ConsoleUser> = {};
  const tokens: Record<string, string> = {};
  const people: Array<[string, ConsoleUser['role']]> = [
    ['alice', 'user'],
    ['bob', 'user'],
    ['carol', 'user'],
    ['ada', 'admin'],
  ];
  for (const [name, role] of people) {
    const user = await createUser(server, name, role);
    const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user: name, password: user.password },
    });
    users[name] = user;
    tokens[name] = login.body.token;
  }
  await setUpSafe(server);
  const watched: string[][] = [];
  return { rig, server, users, tokens, watched, problems: () => watched.flat() };
}

/** A browser context of its own for the person, signed in through the console's form. */
async function openAs(estate: Estate, name: string): Promise<Page> {
  const { page, problems } = await estate.rig.open();
  estate.watched.push(problems);
  await signIn(page, estate.users[name] as ConsoleUser);
  return page;
}

/** The page at 1280×800 and at 420 wide, whole; at 420 nothing may scroll sideways. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.setViewportSize(WIDE);
  await screenshot(page, name);
  await page.setViewportSize(NARROW);
  assert.equal(await scrollsSideways(page), false, `${name} fits a narrow window`);
  await screenshot(page, `${name}-narrow`);
  await page.setViewportSize(WIDE);
}

/** The text as the reader sees it laid out: a term and its value apart, hidden parts left out. */
function shown(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
  return locator.innerText();
}

/** The safe `prod`, its members, the account db01/postgres and the safe's access policy. */
async function setUpSafe(server: TestServer): Promise<void> {
  await server.api('POST', '/v1/safes', { body: { name: 'prod' } });
  const members: Record<string, string[]> = {
    alice: ['list', 'use', 'retrieve', 'checkout', 'approve'],
    bob: ['list', 'approve'],
    carol: ['list', 'approve'],
  };
  for (const [user, permissions] of Object.entries(members)) {
    const added = await server.api('PUT', `/v1/safes/prod/members/${user}`, {
      body: { permissions },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
  }
  const target = { name: 'db01', platform: 'postgresql', host: '127.0.0.1', port: 9 };
  assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
  await server.api('PUT', '/v1/policies/keep', {
    body: { rotateOnCheckin: false, rotateOnCheckoutExpiry: false },
  });
  const account = { username: 'postgres', safe: 'prod', policy: 'keep', secret: 'pw-postgres' };
  const onboarded = await server.api('POST', '/v1/targets/db01/accounts', { body: account });
  assert.equal(onboarded.status, 201, JSON.stringify(onboarded.body));
  const policy = await server.api('PUT', '/v1/safes/prod/access-policy', {
    body: {
      approvalFor: ['use', 'retrieve', 'checkout'],
      approvalsRequired: 2,
      requireTicket: true,
      ticketPattern: 'INC-[0-9]{3,6}',
      maxDurationS: 4 * 3600,
      requestTtlS: 3600,
    },
  });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
}
