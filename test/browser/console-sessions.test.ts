/**
 * The console's Sessions screens end to end: Chromium driving the built console against a real
 * Tessera with its SSH gateway, in front of a throw-away sshd and Linux account. A user connects
 * in the browser and runs a command; an admin in a second browser context watches the session,
 * cannot type into it, kills it with a reason, then replays it and jumps to the command.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CONSOLE_ROOT } from '../../src/http/console.ts';
import { eventually, type Harness, linuxAccount, startHarness } from '../gateway/support.ts';
import { useSshd } from '../support/sshd.ts';
import {
  CHROMIUM,
  type ConsoleUser,
  NARROW,
  screenshot,
  scrollsSideways,
  signIn,
  WIDE,
} from './support.ts';

interface Session {
  readonly id: string;
  readonly user: string;
  readonly state: string;
  readonly endReason: string | null;
  readonly commands: readonly { offsetMs: number; command: string }[];
}

interface Tab {
  readonly page: Page;
  readonly problems: string[];
}

const COMMAND = 'echo hello-$((6*7))';
const LATER = 'echo live-$((2*3))';
const REASON = 'journey over: maintenance window closed';

describe('console: sessions', { timeout: 240_000 }, () => {
  const sshd = useSshd();
  let h: Harness;
  let browser: Browser;
  let user: ConsoleUser;
  let admin: ConsoleUser;
  let target: string;
  let linuxName: string;
  let sessionId: string | undefined;

  before(async () => {
    if (!existsSync(path.join(CONSOLE_ROOT, 'index.html'))) {
      throw new Error(`${CONSOLE_ROOT} has no index.html: run npm run build first`);
    }
    h = await startHarness({ store: 'sqlite' });
    user = await consoleUser(h, 'user');
    admin = await consoleUser(h, 'admin');
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tcs', { password });
    linuxName = linux.name;
    ({ target } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    }));
    // Tests run as root, where Chromium's sandbox cannot start.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await h?.stop();
  });

  /** A fresh browser context (its own cookies) on the harness's server. */
  const open = async (viewport = WIDE): Promise<Tab> => {
    const context = await browser.newContext({ viewport, baseURL: h.apiUrl });
    const page = await context.newPage();
    return { page, problems: await watchProblems(page) };
  };

  it('connects, watches read-only, kills with a reason, and replays to the command', async () => {
    // The user connects in the browser and runs a command.
    const alice = await open();
    await signIn(alice.page, user);
    await alice.page.goto(
      `/sessions/connect?${new URLSearchParams({ target, account: linuxName })}`,
    );
    await status(alice.page, /Connected to/);
    await screenText(alice.page, '.sess-terminal', '$');
    await alice.page.locator('.sess-terminal').click();
    await alice.page.keyboard.type(COMMAND);
    await alice.page.keyboard.press('Enter');
    await screenText(alice.page, '.sess-terminal', 'hello-42');
    await screenshot(alice.page, 'sessions-terminal');

    // The admin finds it in the live list.
    const ada = await open();
    await signIn(ada.page, admin);
    await ada.page.goto('/sessions');
    const live = ada.page.getByRole('table', { name: 'Live sessions, newest first' });
    const row = live.getByRole('row').filter({ hasText: user.name });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(`${linuxName}@${target}`));
    await screenshot(ada.page, 'sessions-live');

    // Watching shows the screen so far, then what comes; typing there goes nowhere.
    await row.getByRole('link', { name: /^Watch/ }).click();
    await status(ada.page, /Read-only/);
    await screenText(ada.page, '.sess-terminal', 'hello-42');
    await ada.page.locator('.sess-terminal').click();
    await ada.page.keyboard.type('echo watcher-typed');
    await ada.page.keyboard.press('Enter');
    await alice.page.locator('.sess-terminal').click();
    await alice.page.keyboard.type(LATER);
    await alice.page.keyboard.press('Enter');
    await screenText(alice.page, '.sess-terminal', 'live-6');
    await screenText(ada.page, '.sess-terminal', 'live-6');
    for (const tab of [alice, ada]) {
      const shown = await tab.page.locator('.sess-terminal .xterm-rows').textContent();
      assert.doesNotMatch(shown ?? '', /watcher-typed/, 'a watcher cannot type into the session');
    }
    await screenshot(ada.page, 'sessions-watch');
    // Keyboard users leave either terminal: Tab from the watch, Ctrl+Shift+E from the shell.
    await ada.page.locator('.sess-terminal').click();
    await ada.page.keyboard.press('Tab');
    assert.equal(await ada.page.evaluate(() => document.activeElement?.id), 'watch-screen-reader');
    await alice.page.keyboard.press('Control+Shift+KeyE');
    assert.equal(
      await alice.page.evaluate(() => document.activeElement?.textContent),
      'End session',
    );

    // Kill with a reason: the user's page says it ended, and why, in the gateway's words.
    sessionId = new URL(ada.page.url()).pathname.split('/')[2];
    await ada.page.getByLabel(/Reason for killing/).fill(REASON);
    await ada.page.getByRole('button', { name: 'Kill session' }).click();
    await status(alice.page, new RegExp(`Ended:.*ended by an administrator: ${REASON}`));
    await screenText(alice.page, '.sess-terminal', REASON);
    await alice.page.getByRole('button', { name: 'Connect again' }).waitFor();
    await screenshot(alice.page, 'sessions-terminal-ended');
    await status(ada.page, new RegExp(`Ended:.*killed: ${REASON}`));

    // The replay lists the commands; one click puts the player at the command's moment.
    const recorded = await sessionOf(h, String(sessionId));
    assert.equal(recorded.endReason, `killed: ${REASON}`);
    const first = recorded.commands.find((c) => c.command === COMMAND);
    const second = recorded.commands.find((c) => c.command === LATER);
    assert.ok(first && second, JSON.stringify(recorded.commands));
    await ada.page.getByRole('link', { name: 'Replay the recording' }).click();
    await ada.page.getByRole('heading', { level: 1, name: /Replay/ }).waitFor();
    const commands = ada.page.getByRole('region', { name: 'Commands' });
    await commands.getByRole('button', { name: COMMAND }).waitFor();
    assert.deepEqual(
      (await commands.getByRole('listitem').allInnerTexts()).map((t) => t.replace(/\s+/, ' ')),
      recorded.commands.map((c) => `${clock(c.offsetMs)} ${c.command}`),
    );
    const position = ada.page.getByLabel('Position');
    // The player is ready when its controls are; or it says why it could not start.
    await ada.page.locator('#replay-position:enabled, .sess-player-column [role=alert]').waitFor();
    const refusal = ada.page.locator('.sess-player-column [role=alert]');
    assert.equal(await refusal.count(), 0, (await refusal.allTextContents()).join(' '));
    assert.equal(Number(await position.inputValue()), 0);

    await commands.getByRole('button', { name: COMMAND }).click();
    await positionNear(ada.page, first.offsetMs / 1000);
    await commands.getByRole('button', { name: LATER }).click();
    await positionNear(ada.page, second.offsetMs / 1000);
    assert.equal(
      await commands.getByRole('button', { name: LATER }).getAttribute('aria-current'),
      'step',
    );
    // The player draws the recording as it stood then: the first command's output is on it.
    await screenText(ada.page, '.sess-player', 'hello-42');
    await screenshot(ada.page, 'sessions-replay');

    // Play moves the position on; the speed select takes effect without losing the moment.
    await ada.page.getByLabel('Speed').selectOption('2');
    await positionNear(ada.page, second.offsetMs / 1000);
    await ada.page.getByRole('button', { name: 'Play' }).click();
    await ada.page.getByRole('button', { name: 'Pause' }).waitFor();

    for (const tab of [alice, ada]) assert.deepEqual(tab.problems, []);
  });

  it('finds recorded sessions by user, target and command text', async () => {
    assert.ok(sessionId, 'the journey above made a session');
    const ada = await open();
    await signIn(ada.page, admin);
    await ada.page.goto('/sessions');
    await ada.page.getByText(/No one is connected through the gateway now/).waitFor();
    const search = ada.page.getByRole('form', { name: 'Search sessions' });
    await search.getByLabel('User').fill(user.name);
    await search.getByLabel('Target').fill(target);
    await search.getByLabel('Command contains').fill('hello-');
    await search.getByRole('button', { name: 'Search' }).click();
    const rows = ada.page
      .getByRole('table', { name: 'Sessions, newest first' })
      .locator('tbody tr');
    // The search is a navigation: the rows of all sessions go, this one's come.
    await ada.page.waitForURL(/command=hello-/);
    await ada.page.waitForFunction(
      () => document.querySelectorAll('table.sess-table tbody tr').length === 1,
    );
    assert.match((await rows.first().textContent()) ?? '', new RegExp(`killed: ${REASON}`));
    assert.match(ada.page.url(), /command=hello-/);
    await screenshot(ada.page, 'sessions-recorded');

    await search.getByLabel('Command contains').fill('no-such-command-ran');
    await search.getByRole('button', { name: 'Search' }).click();
    await ada.page.getByText(/No session matches this search/).waitFor();

    await search.getByRole('button', { name: 'Clear' }).click();
    await rows
      .first()
      .getByRole('link', { name: /^Replay/ })
      .click();
    await ada.page.getByRole('heading', { level: 1, name: /Replay/ }).waitFor();
    assert.deepEqual(ada.problems, []);
  });

  it('reads at a narrow window, and keeps the lists from a user', async () => {
    assert.ok(sessionId, 'the journey above made a session');
    const ada = await open(NARROW);
    await signIn(ada.page, admin);
    await ada.page.goto('/sessions');
    await ada.page
      .getByRole('link', { name: /^Replay/ })
      .first()
      .waitFor();
    assert.equal(await scrollsSideways(ada.page), false);
    await screenshot(ada.page, 'sessions-list-narrow');
    await ada.page.goto(`/sessions/${sessionId}`);
    await ada.page.getByRole('button', { name: LATER }).click();
    await screenText(ada.page, '.sess-player', 'hello-42');
    assert.equal(await scrollsSideways(ada.page), false);
    await screenshot(ada.page, 'sessions-replay-narrow');

    const bob = await open(NARROW);
    await signIn(bob.page, user);
    await bob.page.goto('/sessions');
    await bob.page.getByText(/open to auditors and administrators/).waitFor();
    assert.equal(await bob.page.getByRole('table').count(), 0);
    await bob.page.goto(`/sessions/${sessionId}`);
    await bob.page
      .getByRole('alert')
      .filter({ hasText: /Could not load the session/ })
      .waitFor();
    await screenshot(bob.page, 'sessions-user-refused');
    assert.equal(await scrollsSideways(bob.page), false);

    // The user's own terminal fits the narrow window, and ends from its button.
    await bob.page.goto(`/sessions/connect?${new URLSearchParams({ target, account: linuxName })}`);
    await status(bob.page, /Connected to/);
    await screenText(bob.page, '.sess-terminal', '$');
    assert.equal(await scrollsSideways(bob.page), false);
    await screenshot(bob.page, 'sessions-terminal-narrow');
    await bob.page.getByRole('button', { name: 'End session' }).click();
    await status(bob.page, /Ended: you ended the session/);
    // The gateway ends the session too: nothing of this user is left running.
    await eventually(async () => {
      const live = await h.api<{ sessions: Session[] }>(
        'GET',
        `/v1/sessions?live=true&user=${user.name}`,
      );
      return live.body.sessions.length === 0 ? true : undefined;
    });
    for (const tab of [ada, bob]) assert.deepEqual(tab.problems, []);
  });
});

/** A Tessera user who signs in to the console with a password. */
async function consoleUser(h: Harness, role: ConsoleUser['role']): Promise<ConsoleUser> {
  const name = `cs-${role}-${randomBytes(3).toString('hex')}`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const created = await h.api('POST', '/v1/users', { body: { name, role, password } });
  if (created.status !== 201) throw new Error(`user ${name}: ${created.text}`);
  return { name, password, role };
}

async function sessionOf(h: Harness, id: string): Promise<Session> {
  const found = await h.api<Session>('GET', `/v1/sessions/${id}`);
  assert.equal(found.status, 200, found.text);
  return found.body;
}

/** Waits until the page's status line reads `text`. */
async function status(page: Page, text: RegExp): Promise<void> {
  await page.locator('.sess-status').filter({ hasText: text }).waitFor();
}

/** Waits until the terminal or player inside `selector` shows `text`. */
async function screenText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([css, wanted]) => document.querySelector(css ?? '')?.textContent?.includes(wanted ?? ''),
    [selector, text],
  );
}

/** Waits until the seek bar stands within a quarter second of `seconds`. */
async function positionNear(page: Page, seconds: number): Promise<void> {
  await page.waitForFunction(
    (wanted) =>
      Math.abs(
        Number(document.querySelector<HTMLInputElement>('#replay-position')?.value) - wanted,
      ) < 0.25,
    seconds,
  );
}

/** "0:07": a command's moment as the list shows it. */
function clock(offsetMs: number): string {
  const s = Math.floor(offsetMs / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * What went wrong in a page: script errors, console errors, failed requests and server errors,
 * as support.ts counts them; and every Content-Security-Policy refusal, by its directive and
 * where it happened, less one known and harmless kind: xterm 6 writes its styles into <style>
 * elements inside the terminal, which the console's CSP refuses (the console applies the same
 * rules through CSSOM instead: console/src/pages/sessions/xtermStyles.ts).
 */
async function watchProblems(page: Page): Promise<string[]> {
  const problems: string[] = [];
  await page.exposeFunction('reportCspRefusal', (refusal: string) => {
    if (refusal !== 'style-src-elem inline in xterm') problems.push(`CSP refused: ${refusal}`);
  });
  await page.addInitScript(() => {
    const report = (window as unknown as { reportCspRefusal(refusal: string): void })
      .reportCspRefusal;
    document.addEventListener(
      'securitypolicyviolation',
      (event) => {
        const where = event.target instanceof Element ? event.target : null;
        const inXterm = where?.tagName === 'STYLE' && where.closest('.xterm') !== null;
        report(`${event.effectiveDirective} ${event.blockedURI}${inXterm ? ' in xterm' : ''}`);
      },
      true,
    );
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith('Failed to load resource: the server responded')) return;
    // Each refusal is judged above, by where it happened.
    if (text.startsWith('Applying inline style violates')) return;
    if (message.type() === 'error') problems.push(`console: ${text}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`${response.status()}: ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  return problems;
}
