/**
 * The console's safes and accounts screens, end to end: Chromium driving the built console
 * against a real Tessera server, which manages a role on a throw-away SCRAM PostgreSQL cluster.
 * Every claim about a secret is checked on the cluster itself, by logging in with it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn } from '../support/pg-login.ts';
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
  WIDE,
} from './support.ts';

const TARGET = 'pg';
/** A Linux target the test never connects to: only its accounts' pages are read. */
const LINUX_TARGET = 'web';
const SAFE = 'ops';
const ALL_PERMISSIONS = ['list', 'use', 'retrieve', 'checkout', 'manage'];
/** How long the page keeps a revealed value (SecretValue.tsx), plus a margin. */
const PAST_REVEAL_MS = 31_000;

interface Rig {
  readonly app: ConsoleRig;
  readonly admin: ConsoleUser;
  /** Member of the safe with list and use only; the second account needs approval to reveal. */
  readonly bob: ConsoleUser;
  /** Member with list and retrieve, which the test takes away while the page is open. */
  readonly carol: ConsoleUser;
  /** Onboarded through the form by the admin. */
  readonly role: string;
  readonly initialPassword: string;
  /** Onboarded through the API, behind an approval for retrieve. */
  readonly gatedRole: string;
}

let cluster: () => PgCluster;
let rig: Rig | undefined;
const rigOf = (): Rig => {
  if (rig === undefined) throw new Error('the rig did not start');
  return rig;
};

describe('console: safes and accounts', { timeout: 300_000 }, () => {
  cluster = usePgCluster();
  before(async () => {
    rig = await setUp();
  });
  // The roles go with the cluster, which is thrown away.
  after(async () => {
    await rig?.app.stop();
  });

  let admin: OpenPage;
  before(async () => {
    admin = await rigOf().app.open();
    // Playwright's clock, so the test can move past the 30 s a revealed value stays.
    await admin.page.clock.install();
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await signIn(admin.page, rigOf().admin);
  });

  it('onboards an account on the cluster through the form, with its refusals', async () => {
    const { role, initialPassword } = rigOf();
    const { page } = admin;
    await mainNav(page).getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('link', { name: 'Onboard an account' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Onboard an account' }).waitFor();

    await page.getByLabel('Target', { exact: true }).selectOption(TARGET);
    await page.getByLabel('Safe', { exact: true }).selectOption(SAFE);
    await screenshot(page, 'accounts-onboard-wide');
    await page.setViewportSize(NARROW);
    assert.equal(await scrollsSideways(page), false, 'the onboarding form fits 420 px');
    await screenshot(page, 'accounts-onboard-narrow');
    await page.setViewportSize(WIDE);

    // A name the API refuses: the message stands next to the field it is about.
    await page.getByLabel('User name on the target').fill('.');
    await page.getByLabel('Current password').fill(initialPassword);
    await page.getByRole('button', { name: 'Onboard' }).click();
    const fieldError = page.locator('[data-field="username"]');
    await fieldError.waitFor();
    assert.match((await fieldError.textContent()) ?? '', /not \. or \.\./);
    assert.equal(
      await page.getByLabel('User name on the target').getAttribute('aria-invalid'),
      'true',
    );
    await screenshot(page, 'accounts-onboard-refused');

    // A refusal of the whole form: PostgreSQL roles have no SSH keys.
    await page.getByLabel('User name on the target').fill(role);
    await page.getByLabel('SSH private key').check();
    await page.getByLabel('Current private key').fill('not a key');
    await page.getByRole('button', { name: 'Onboard' }).click();
    const formError = page.getByRole('alert').filter({ hasText: 'Could not onboard' });
    await formError.waitFor();
    assert.match((await formError.textContent()) ?? '', /does not rotate ssh-key secrets/);
    assert.match((await formError.textContent()) ?? '', /VALIDATION_FAILED/);

    await page.getByLabel('Password', { exact: true }).check();
    await page.getByLabel('Current password').fill(initialPassword);
    await page.getByRole('button', { name: 'Onboard' }).click();
    await page.getByRole('heading', { level: 1, name: `${TARGET}/${role}` }).waitFor();
    await page.getByText('Onboarded.').waitFor();
    assert.match(page.url(), new RegExp(`/accounts/${TARGET}/${role}$`));

    const stored = await rigOf().app.server.api<{ safe: string; state: string }>(
      'GET',
      `/v1/targets/${TARGET}/accounts/${role}`,
    );
    assert.equal(stored.status, 200);
    assert.equal(stored.body.safe, SAFE);
    assert.equal(stored.body.state, 'unverified');
  });

  it('verifies and rotates from the account page: the state and the history follow', async () => {
    const { role, initialPassword } = rigOf();
    const { page } = admin;
    const title = page.locator('.acct-title');
    const badge = (label: string) => title.locator('.acct-badge', { hasText: label });
    await badge('Not verified').waitFor();

    await page.getByRole('button', { name: 'Verify now' }).click();
    await page.getByText('Valid.', { exact: false }).waitFor();
    await title.locator('.acct-badge', { hasText: /^\W*Verified$/ }).waitFor();

    // The reply is held back in the browser a little, so the progress can be seen.
    await page.route('**/rotate', async (route) => {
      await delay(1_000);
      await route.continue();
    });
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByRole('button', { name: 'Rotating…' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Rotating…' }).isDisabled(), true);
    await page.getByRole('status').filter({ hasText: 'Rotating: Tessera sets' }).waitFor();
    await page.getByText('Version 2 is current and verified').waitFor();
    await badge('Rotated and verified').waitFor();
    await page.unroute('**/rotate');

    const history = page.locator('.acct-history tbody tr');
    await history.first().getByText('current').waitFor();
    assert.deepEqual(await historyRows(page), [
      ['2', 'current'],
      ['1', 'previous'],
    ]);
    assert.equal(await logsIn(cluster(), role, initialPassword), false, 'the old password died');

    await screenshot(page, 'accounts-detail-wide');
    await page.setViewportSize(NARROW);
    assert.equal(await scrollsSideways(page), false, 'the account page fits 420 px');
    await screenshot(page, 'accounts-detail-narrow');
    await page.setViewportSize(WIDE);
  });

  it('reveals with a reason: masked, the real password once, gone after leaving', async () => {
    const { role, initialPassword, app } = rigOf();
    const { page } = admin;
    const reason = `console test ${randomBytes(4).toString('hex')}`;

    await page.getByRole('button', { name: 'Reveal…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill(reason);
    await dialog.getByRole('button', { name: 'Reveal', exact: true }).click();
    const field = dialog.getByTestId('secret-value');
    await field.waitFor();
    assert.match((await field.textContent()) ?? '', /^•+hidden/);
    await screenshot(page, 'accounts-reveal-dialog');
    await page.setViewportSize(NARROW);
    await screenshot(page, 'accounts-reveal-dialog-narrow');
    await page.setViewportSize(WIDE);

    await dialog.getByRole('button', { name: 'Show' }).click();
    const value = (await field.textContent()) ?? '';
    assert.notEqual(value, '');
    assert.notEqual(value, initialPassword);
    assert.equal(await logsIn(cluster(), role, value), true, 'the shown value is the password');

    await dialog.getByRole('button', { name: 'Copy to clipboard' }).click();
    await dialog.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), value);

    await dialog.getByRole('button', { name: 'Hide' }).click();
    assert.equal(await pageHolds(page, value), false, 'hidden means not in the page');

    // Shown again, then the page is left (the browser's Back, as the modal dialog covers the
    // page's own links): the value leaves the page with it.
    await dialog.getByRole('button', { name: 'Show' }).click();
    assert.equal(await pageHolds(page, value), true);
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Onboard an account' }).waitFor();
    assert.equal(await page.getByRole('dialog').count(), 0);
    assert.equal(await pageHolds(page, value), false, 'gone after leaving the page');

    const audit = await app.server.api<{ events: { reason: string; object: string }[] }>(
      'GET',
      '/v1/audit/events?action=secret.reveal',
    );
    assert.ok(
      audit.body.events.some((e) => e.reason === reason && e.object === `${TARGET}/${role}`),
      'the reveal is in the audit trail with its reason',
    );
  });

  it('hides a revealed value again after 30 seconds', async () => {
    const { role } = rigOf();
    const { page } = admin;
    await mainNav(page).getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('link', { name: `${TARGET}/${role}` }).click();
    await page.getByRole('button', { name: 'Reveal…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('checking the 30 s limit');
    await dialog.getByRole('button', { name: 'Reveal', exact: true }).click();
    await dialog.getByRole('button', { name: 'Show' }).click();
    const value = (await dialog.getByTestId('secret-value').textContent()) ?? '';
    assert.equal(await logsIn(cluster(), role, value), true);

    await page.clock.fastForward(PAST_REVEAL_MS);
    await dialog.getByText('is now cleared from this page').waitFor();
    assert.equal(await dialog.getByTestId('secret-value').count(), 0);
    assert.equal(await pageHolds(page, value), false);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.locator('dialog').waitFor({ state: 'detached' });
  });

  it('checks out with a reason and a duration, and checks in, which rotates', async () => {
    const { role, admin: adminUser } = rigOf();
    const { page } = admin;
    await page.getByRole('button', { name: 'Check out…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('maintenance window');
    await dialog.getByLabel('For how long').selectOption({ label: '30 min' });
    await dialog.getByRole('button', { name: 'Check out', exact: true }).click();
    await dialog.getByText('Checked out').first().waitFor();
    await dialog.getByRole('button', { name: 'Show' }).click();
    const checkedOut = (await dialog.getByTestId('secret-value').textContent()) ?? '';
    assert.equal(await logsIn(cluster(), role, checkedOut), true);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.locator('dialog').waitFor({ state: 'detached' });
    assert.equal(await pageHolds(page, checkedOut), false, 'closing clears it');

    const status = page.locator('.acct-facts').first();
    await status.getByText(`by ${adminUser.name}`, { exact: false }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Check out…' }).count(), 0);

    await page.getByRole('button', { name: 'Check in' }).click();
    await page.getByText('Checked in.').waitFor();
    await page.getByText('The secret was rotated').waitFor();
    // The facts are fetched again after the check-in: the holder goes once they are.
    await status.getByText(`by ${adminUser.name}`, { exact: false }).waitFor({ state: 'detached' });
    assert.match((await status.textContent()) ?? '', /Checked outno/);
    await page.locator('.acct-history td[data-label="Version"]', { hasText: /^3$/ }).waitFor();
    assert.deepEqual((await historyRows(page))[0], ['3', 'current']);
    assert.equal(await logsIn(cluster(), role, checkedOut), false, 'check-in rotated it');
  });

  it('lists safes and accounts, filters by safe, searches, says states in words', async () => {
    const { role, gatedRole } = rigOf();
    const { page, problems } = admin;
    await page.goto('/accounts');
    const rows = page.locator('.acct-list tbody tr');
    await page.getByText('3 accounts', { exact: true }).waitFor();
    const row = rows.filter({ hasText: role });
    assert.match((await row.textContent()) ?? '', /Rotated and verified/);
    assert.match((await rows.filter({ hasText: gatedRole }).textContent()) ?? '', /Not verified/);
    await screenshot(page, 'accounts-list-wide');
    await page.setViewportSize(NARROW);
    assert.equal(await scrollsSideways(page), false, 'the list fits 420 px');
    await screenshot(page, 'accounts-list-narrow');
    await page.setViewportSize(WIDE);

    // The safe filter is the API's: the list is read again for that safe.
    const reread = page.waitForRequest((r) => r.url().endsWith(`/v1/accounts?safe=${SAFE}`));
    await page.getByRole('button', { name: new RegExp(`^${SAFE}`) }).click();
    await reread;
    await page.getByText('2 accounts', { exact: true }).waitFor();
    assert.equal(
      await page.getByRole('button', { name: new RegExp(`^${SAFE}`) }).getAttribute('aria-pressed'),
      'true',
    );
    assert.equal(new URL(page.url()).searchParams.get('safe'), SAFE);

    await page.getByLabel('Search').fill(gatedRole.slice(0, -2));
    await page.getByText('1 of 2 accounts').waitFor();
    assert.equal(await rows.count(), 1);
    await page.getByLabel('Search').fill('no-such-account');
    await page.getByText('No account matches these filters.').waitFor();
    await page.getByRole('button', { name: 'Clear the filters' }).click();
    await page.getByText('3 accounts', { exact: true }).waitFor();

    await page.getByLabel('Rotation state').selectOption({ label: 'Not verified' });
    await page.getByText('2 of 3 accounts').waitFor();
    assert.equal(await rows.filter({ hasText: role }).count(), 0);

    assert.deepEqual(problems, [], `no script, CSP or network error: ${problems.join('; ')}`);
  });

  it('offers Connect on a Linux account only, as a link to the browser terminal', async () => {
    const { page } = admin;
    await page.goto(`/accounts/${LINUX_TARGET}/deploy`);
    const connect = page.getByRole('link', { name: 'Connect' });
    await connect.waitFor();
    const href = new URL((await connect.getAttribute('href')) ?? '', rigOf().app.url);
    assert.equal(href.pathname, '/sessions/connect');
    assert.equal(href.searchParams.get('target'), LINUX_TARGET);
    assert.equal(href.searchParams.get('account'), 'deploy');

    await page.goto(`/accounts/${TARGET}/${rigOf().role}`);
    await page.getByRole('button', { name: 'Verify now' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Connect' }).count(), 0);
  });

  it('says plainly when reveal needs an approval, and offers to ask', async () => {
    const { bob, gatedRole, app } = rigOf();
    const { page, problems } = await app.open();
    await signIn(page, bob);
    await page.goto(`/accounts/${TARGET}/${gatedRole}`);
    await page.getByRole('heading', { level: 1, name: `${TARGET}/${gatedRole}` }).waitFor();
    await page.getByRole('button', { name: 'Verify now' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Rotate now' }).count(), 0);
    await page.getByText('The access policy asks for an approved request').waitFor();

    await page.getByRole('button', { name: 'Reveal…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('need to look');
    await dialog.getByRole('button', { name: 'Reveal', exact: true }).click();
    const refusal = dialog.getByRole('alert');
    await refusal.getByText('Approval required.').waitFor();
    assert.equal(await refusal.getAttribute('data-code'), 'APPROVAL_REQUIRED');
    const ask = refusal.getByRole('link', { name: /Ask for access/ });
    const href = new URL((await ask.getAttribute('href')) ?? '', app.url);
    assert.equal(href.pathname, '/requests/new');
    assert.equal(href.searchParams.get('account'), `${TARGET}/${gatedRole}`);
    assert.equal(await dialog.getByTestId('secret-value').count(), 0);
    await screenshot(page, 'accounts-approval-required');
    assert.deepEqual(problems, [], `a refusal is no failure of the page: ${problems.join('; ')}`);
  });

  it('says plainly when reveal is forbidden, and no longer offers it', async () => {
    const { carol, role, app } = rigOf();
    const { page } = await app.open();
    await signIn(page, carol);
    await page.goto(`/accounts/${TARGET}/${role}`);
    await page.getByRole('button', { name: 'Reveal…' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Check out…' }).count(), 0);

    // The safe's manager takes retrieve away while carol's page is open.
    const change = await app.server.api('PUT', `/v1/safes/${SAFE}/members/${carol.name}`, {
      body: { permissions: ['list'] },
    });
    assert.equal(change.status, 200);
    await page.getByRole('button', { name: 'Reveal…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('need to look');
    await dialog.getByRole('button', { name: 'Reveal', exact: true }).click();
    const refusal = dialog.getByRole('alert');
    await refusal.getByText('Not allowed.').waitFor();
    assert.equal(await refusal.getAttribute('data-code'), 'FORBIDDEN');
    await dialog.getByRole('button', { name: 'Close' }).click();

    await page.reload();
    await page.getByRole('heading', { level: 1, name: `${TARGET}/${role}` }).waitFor();
    await page.getByRole('heading', { name: 'Actions' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Reveal…' }).count(), 0);
  });
});

/** A server, the users, the safe, the PostgreSQL target, and one account behind an approval. */
async function setUp(): Promise<Rig> {
  const consoleRig = await startConsoleRig();
  const { server } = consoleRig;
  const call = async (method: string, path: string, body: unknown, status: number) => {
    const reply = await server.api(method, path, { body });
    assert.equal(reply.status, status, `${method} ${path}: ${JSON.stringify(reply.body)}`);
  };
  const admin = await createUser(server, 'ada', 'admin');
  const bob = await createUser(server, 'bob', 'user');
  const carol = await createUser(server, 'carol', 'user');
  await call('POST', '/v1/safes', { name: SAFE, description: 'Production databases' }, 201);
  await call('POST', '/v1/safes', { name: 'lab', description: 'Test systems' }, 201);
  // An admin's role lets it onboard and rotate; revealing takes a membership, as for anyone.
  await call('PUT', `/v1/safes/${SAFE}/members/ada`, { permissions: ALL_PERMISSIONS }, 200);
  await call('PUT', `/v1/safes/${SAFE}/members/bob`, { permissions: ['list', 'use'] }, 200);
  await call('PUT', `/v1/safes/${SAFE}/members/carol`, { permissions: ['list', 'retrieve'] }, 200);
  const c = cluster();
  await call('POST', '/v1/targets', { name: TARGET, platform: 'postgresql', ...at(c) }, 201);

  const role = uniqueRoleName('console');
  const initialPassword = `Init-${randomBytes(12).toString('base64url')}`;
  await c.createRole(role, initialPassword);
  const gatedRole = uniqueRoleName('gated');
  const gatedPassword = `Init-${randomBytes(12).toString('base64url')}`;
  await c.createRole(gatedRole, gatedPassword);
  await call('PUT', '/v1/safes/lab/members/ada', { permissions: ['list', 'use'] }, 200);
  const linux = {
    name: LINUX_TARGET,
    platform: 'linux',
    ...at(c),
    options: { hostKey: keyLine() },
  };
  await call('POST', '/v1/targets', linux, 201);
  const deploy = { username: 'deploy', safe: 'lab', secret: randomBytes(12).toString('hex') };
  await call('POST', `/v1/targets/${LINUX_TARGET}/accounts`, deploy, 201);

  const gated = { username: gatedRole, safe: SAFE, secret: gatedPassword };
  await call('POST', `/v1/targets/${TARGET}/accounts`, gated, 201);
  const policyPath = `/v1/targets/${TARGET}/accounts/${gatedRole}/access-policy`;
  await call('PUT', policyPath, { approvalFor: ['retrieve'] }, 200);
  return { app: consoleRig, admin, bob, carol, role, initialPassword, gatedRole };
}

function at(c: PgCluster) {
  return { host: c.host, port: c.port };
}

/** An SSH host key to pin, so that adding the Linux target reads nothing from the network. */
function keyLine(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')}`;
}

/** The history table's version and status columns, top to bottom. */
async function historyRows(page: Page): Promise<string[][]> {
  return page
    .locator('.acct-history tbody tr')
    .evaluateAll((rows) =>
      rows.map((row) => [
        row.querySelector('td[data-label="Version"]')?.textContent ?? '',
        (row.querySelector('td[data-label="Status"]')?.textContent ?? '').replace(/^\W+/, ''),
      ]),
    );
}

function mainNav(page: Page) {
  return page.getByRole('navigation', { name: 'Main' });
}

/**
 * Whether a value is anywhere in the page: a text node, an attribute, or a field's value. The
 * page's HTML would not do: it escapes the symbols a generated password is full of.
 */
async function pageHolds(page: Page, value: string): Promise<boolean> {
  const found = await page.evaluate(`(() => {
    const value = ${JSON.stringify(value)};
    if ((document.documentElement.textContent ?? '').includes(value)) return true;
    for (const element of document.querySelectorAll('*')) {
      for (const attribute of element.attributes) {
        if (attribute.value.includes(value)) return true;
      }
      if (typeof element.value === 'string' && element.value.includes(value)) return true;
    }
    return false;
  })()`);
  return found === true;
}
