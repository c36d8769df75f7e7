/**
 * The console's shell in a real Chromium against a real server: sign-in, Home, the session's
 * safety (HttpOnly cookie, CSRF, CSP, nothing in storage or URLs), keyboard focus, sign-out,
 * and the layout at a wide and a narrow window. Screenshots go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { CSRF_HEADER, SESSION_COOKIE } from '../../src/http/browser-session.ts';
import {
  type ConsoleRig,
  type ConsoleUser,
  createUser,
  NARROW,
  screenshot,
  scrollsSideways,
  sessionCookie,
  signIn,
  startConsoleRig,
  submitSignIn,
  WIDE,
} from './support.ts';

describe('console shell', () => {
  let rig: ConsoleRig;
  let ada: ConsoleUser;
  let bob: ConsoleUser;

  before(async () => {
    rig = await startConsoleRig();
    ada = await createUser(rig.server, 'ada', 'admin');
    bob = await createUser(rig.server, 'bob', 'user');
    await seedEstate(rig, bob);
  });
  after(() => rig?.stop());

  it('says clearly when the password is wrong, and signs in to Home', async () => {
    const { page, problems } = await rig.open();
    await page.goto('/');
    await page.waitForURL('**/sign-in');
    await screenshot(page, 'sign-in');

    await submitSignIn(page, 'ada', 'not-the-password');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /user name or password is not right/);
    assert.equal(await page.getByLabel('Password').inputValue(), '');
    await screenshot(page, 'sign-in-error');

    await submitSignIn(page, ada.name, ada.password);
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
    await page.getByText('bob asks for db01/reporting').waitFor();
    await page.getByText('2 accounts').waitFor();
    await screenshot(page, 'home-admin');
    assert.deepEqual(problems, []);
  });

  it('asks a user with a second factor for a code after the password, and keeps it', async () => {
    const mia = await createUser(rig.server, 'mia', 'user');
    const totp = await enrollFactor(rig, mia);
    const { context, page, problems } = await rig.open();
    await page.goto('/sign-in');
    assert.equal(await page.getByLabel('Code from your authenticator app').count(), 0);

    await submitSignIn(page, mia.name, mia.password);
    const code = page.getByLabel('Code from your authenticator app');
    await code.waitFor();
    await page.getByText('Your account has a second factor').waitFor();
    assert.equal(await code.evaluate((field) => field === document.activeElement), true);
    assert.equal(await code.getAttribute('inputmode'), 'numeric');
    assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
    assert.equal(await page.getByLabel('Password').inputValue(), mia.password);
    assert.equal(await sessionCookie(context), undefined, 'a cookie for the password alone');
    await screenshot(page, 'sign-in-code');

    await code.fill(wrongCode(totp.generate()));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /code is not right/);
    assert.equal(await page.getByLabel('Password').inputValue(), mia.password);
    assert.equal(await code.inputValue(), '');
    assert.equal(await sessionCookie(context), undefined);

    await code.fill(totp.generate());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    assert.ok(await sessionCookie(context));
    assert.deepEqual(problems, []);
  });

  it('shows a user their own check-out and pending request on Home', async () => {
    const { page, problems } = await rig.open();
    await signIn(page, bob);
    await page.getByText('db01/app_owner').waitFor();
    await page.getByText(/checked in automatically in (1 h|59 min)/).waitFor();
    await page.getByText('0 of 1 approvals').waitFor();
    // A user's navigation leaves out the screens of admins and auditors.
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allInnerTexts(), ['Home', 'Accounts', 'Requests']);
    await screenshot(page, 'home-user');
    assert.deepEqual(problems, []);
  });

  it('keeps the token out of reach of scripts, storage and URLs, under a strict CSP', async () => {
    const { context, page, problems } = await rig.open();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));
    const index = await page.goto('/');
    assert.ok(index);
    const csp = (await index.allHeaders())['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    // Scripts from this origin only; WebAssembly may be compiled, JavaScript never evaluated.
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    assert.doesNotMatch(csp, /'unsafe-eval'|'unsafe-inline'/);
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await (await fetch(`${rig.url}/`)).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script');
    assert.doesNotMatch(html, /<style|\sstyle=/, 'an inline style');

    await signIn(page, ada);
    const cookie = await sessionCookie(context);
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
    assert.equal(await page.evaluate(() => document.cookie), '');
    const stored = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
    }));
    assert.ok(!stored.local.includes(cookie.value) && !stored.session.includes(cookie.value));
    assert.equal(stored.local, '{}');
    assert.equal(stored.session, '{}');
    for (const url of [...visited, page.url()]) {
      assert.ok(!url.includes(cookie.value), `the token is in ${url}`);
    }
    await page.goto('/accounts');
    await page.locator('main h1').waitFor();
    assert.ok(!page.url().includes(cookie.value));
    assert.deepEqual(problems, []);
  });

  it('refuses a cross-site POST that carries the cookie but not the CSRF token', async () => {
    const { context, page } = await rig.open();
    await signIn(page, ada);
    const cookie = await sessionCookie(context);
    assert.ok(cookie);
    const post = (headers: Record<string, string>) =>
      fetch(`${rig.url}/v1/safes`, {
        method: 'POST',
        headers: {
          cookie: `${SESSION_COOKIE}=${cookie.value}`,
          'content-type': 'application/json',
          origin: 'http://evil.example',
          ...headers,
        },
        body: JSON.stringify({ name: 'forged' }),
      });
    const forged = await post({});
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'CSRF_FAILED');
    // The same request from the console itself, which knows the token, goes through.
    const session = await fetch(`${rig.url}/v1/auth/session`, {
      headers: { cookie: `${SESSION_COOKIE}=${cookie.value}` },
    });
    const { csrfToken } = (await session.json()) as { csrfToken: string };
    assert.equal((await post({ [CSRF_HEADER]: csrfToken })).status, 201);
  });

  it('reaches every navigation link with Tab, with a visible focus ring', async () => {
    const { page } = await rig.open();
    await signIn(page, ada);
    const expected = ['Skip to content', 'Tessera home', 'Home', 'Accounts', 'Requests'];
    expected.push('Sessions', 'Audit', 'Admin');
    const reached: string[] = [];
    for (const _ of expected) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const element = document.activeElement as HTMLElement | null;
        if (element === null) return null;
        const style = getComputedStyle(element);
        return {
          name: element.getAttribute('aria-label') ?? (element.textContent ?? '').trim(),
          outline: `${style.outlineStyle} ${style.outlineWidth}`,
        };
      });
      assert.ok(focused);
      assert.notEqual(focused.outline.split(' ')[0], 'none', `no focus ring on ${focused.name}`);
      assert.ok(Number.parseFloat(focused.outline.split(' ')[1] ?? '0') >= 2, focused.outline);
      reached.push(focused.name);
      if (focused.name === 'Requests') await screenshot(page, 'keyboard-focus');
    }
    assert.deepEqual(reached, expected);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/admin(\/|$)/);
  });

  it('signs out to the sign-in page, and the old cookie no longer works', async () => {
    const { context, page, problems } = await rig.open();
    await signIn(page, ada);
    const cookie = await sessionCookie(context);
    assert.ok(cookie);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in');
    await page.getByText('You have signed out.').waitFor();
    assert.equal(await sessionCookie(context), undefined);
    const reused = await fetch(`${rig.url}/v1/auth/self`, {
      headers: { cookie: `${SESSION_COOKIE}=${cookie.value}` },
    });
    assert.equal(reused.status, 401);
    await screenshot(page, 'signed-out');
    assert.deepEqual(problems, []);
  });

  it('returns to sign-in with a notice when the session ends elsewhere', async () => {
    const { context, page } = await rig.open();
    await signIn(page, bob);
    await page.getByRole('link', { name: 'Accounts', exact: true }).click();
    await page.locator('main h1').waitFor();
    const cookie = await sessionCookie(context);
    assert.ok(cookie);
    // Revoked from another place (an admin, or a sign-out in another tab): the next call fails.
    const self = await fetch(`${rig.url}/v1/auth/session`, {
      headers: { cookie: `${SESSION_COOKIE}=${cookie.value}` },
    });
    const { csrfToken } = (await self.json()) as { csrfToken: string };
    const revoked = await fetch(`${rig.url}/v1/auth/session`, {
      method: 'DELETE',
      headers: { cookie: `${SESSION_COOKIE}=${cookie.value}`, [CSRF_HEADER]: csrfToken },
    });
    assert.equal(revoked.status, 204);
    // The next call to the API ends the session on the page: Home makes some as it opens,
    // unless the screen on show has already called (and left for sign-in) by itself.
    const ended = page.waitForURL('**/sign-in');
    await page
      .getByRole('link', { name: 'Home', exact: true })
      .click({ timeout: 5_000 })
      .catch(() => undefined);
    await ended;
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    await screenshot(page, 'session-ended');
    await submitSignIn(page, bob.name, bob.password);
    // Back where the session ended: Home if the click got there first, else Accounts, whose own
    // call may have met the ended session before the click.
    await page.waitForURL((url) => !url.pathname.endsWith('/sign-in'));
    const back = new URL(page.url()).pathname === '/' ? 'Home' : 'Accounts';
    await page.getByRole('heading', { level: 1, name: back }).waitFor();
  });

  it('returns to sign-in with a notice when the session runs out on the page', async () => {
    const { page } = await rig.open();
    await page.clock.install();
    await signIn(page, bob);
    await page.clock.fastForward('01:00:01');
    await page.waitForURL('**/sign-in');
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
  });

  it('fits a wide and a narrow window without scrolling sideways', async () => {
    for (const [label, viewport] of [
      ['wide', WIDE],
      ['narrow', NARROW],
    ] as const) {
      const { page, problems } = await rig.open({ viewport });
      await signIn(page, ada);
      await page.getByText('bob asks for db01/reporting').waitFor();
      assert.equal(await scrollsSideways(page), false, `${label} Home scrolls sideways`);
      await screenshot(page, `home-${label}`);
      await page.goto('/accounts');
      await page.locator('main h1').waitFor();
      assert.equal(await scrollsSideways(page), false, `${label} Accounts scrolls sideways`);
      await page.goto('/no/such/screen');
      await page.getByRole('heading', { level: 1, name: 'No page here' }).waitFor();
      await screenshot(page, `not-found-${label}`);
      assert.deepEqual(problems, []);
    }
    const { page } = await rig.open({ viewport: NARROW });
    await page.goto('/sign-in');
    await page.getByLabel('User name').waitFor();
    assert.equal(await scrollsSideways(page), false, 'narrow sign-in scrolls sideways');
    await screenshot(page, 'sign-in-narrow');
  });
});

/**
 * Enrols and confirms a TOTP factor for `user` through the API, with a token taken before it
 * existed. Confirmed with the code of the step before (still within the window), so the current
 * code stays unused for the sign-in.
 */
async function enrollFactor(rig: ConsoleRig, user: ConsoleUser): Promise<TOTP> {
  const { server } = rig;
  const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
    token: null,
    body: { user: user.name, password: user.password },
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const token = login.body.token;
  const enrolled = await server.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', { token });
  const totp = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret), period: 30 });
  const code = totp.generate({ timestamp: Date.now() - 30_000 });
  const confirmed = await server.api('POST', '/v1/auth/mfa/confirm', { token, body: { code } });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return totp;
}

/** A six-digit code that is not `code` (nor, with near certainty, a neighbouring step's). */
function wrongCode(code: string): string {
  return code
    .split('')
    .map((d) => String((Number(d) + 5) % 10))
    .join('');
}

/**
 * A small estate: two accounts in the safe prod, bob holding one checked out and asking for the
 * other, which ada (approve on prod) is to answer.
 */
async function seedEstate(rig: ConsoleRig, bob: ConsoleUser): Promise<void> {
  const { server } = rig;
  const ok = async (method: string, route: string, body: unknown, token?: string) => {
    const reply = await server.api(method, route, { body, ...(token ? { token } : {}) });
    assert.ok(reply.status < 300, `${method} ${route}: ${JSON.stringify(reply.body)}`);
  };
  await ok('POST', '/v1/safes', { name: 'prod' });
  await ok('PUT', '/v1/safes/prod/members/bob', {
    permissions: ['list', 'use', 'retrieve', 'checkout'],
  });
  await ok('PUT', '/v1/safes/prod/members/ada', { permissions: ['list', 'approve'] });
  // Nothing listens on port 9: no rotation reaches it, and none is due within the test.
  await ok('POST', '/v1/targets', {
    name: 'db01',
    platform: 'postgresql',
    host: '127.0.0.1',
    port: 9,
  });
  for (const username of ['app_owner', 'reporting']) {
    await ok('POST', '/v1/targets/db01/accounts', { username, safe: 'prod', secret: 'initial' });
  }
  const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
    token: null,
    body: { user: bob.name, password: bob.password },
  });
  const token = login.body.token;
  await ok(
    'POST',
    '/v1/targets/db01/accounts/app_owner/checkout',
    { reason: 'schema migration', durationS: 3600 },
    token,
  );
  await ok(
    'POST',
    '/v1/requests',
    { account: 'db01/reporting', durationS: 7200, reason: 'quarterly report' },
    token,
  );
}
