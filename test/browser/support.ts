import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { Clock } from '../../src/clock.ts';
import { SESSION_COOKIE } from '../../src/http/browser-session.ts';
import { CONSOLE_ROOT } from '../../src/http/console.ts';
import type { StoreKind } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

/**
 * Browser tests drive Debian's Chromium (installed by .ci/run) with playwright-core, against a
 * real Tessera server serving the built console. Nothing is downloaded: no browser of
 * Playwright's own.
 */
export const CHROMIUM = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Kept out of git (.gitignore); CI keeps them as the run's artefacts. */
export const SCREENSHOTS = path.join(REPO, 'test-output', 'screenshots');

export interface Viewport {
  readonly width: number;
  readonly height: number;
}
/** The window sizes the console must read well at. */
export const WIDE: Viewport = { width: 1280, height: 800 };
export const NARROW: Viewport = { width: 420, height: 800 };

export interface ConsoleUser {
  readonly name: string;
  readonly password: string;
  readonly role: 'admin' | 'auditor' | 'user';
}

export interface OpenPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /**
   * What went wrong in the page: script errors, console errors (a CSP refusal is one), failed
   * requests and server errors. A 4xx answer is not counted: the console handles those (a 401
   * before sign-in is how it learns there is no session), and each test checks what it shows.
   */
  readonly problems: string[];
}

export interface ConsoleRig {
  readonly server: TestServer;
  readonly browser: Browser;
  /** The console's address: the server's own, as a browser reaches it. */
  readonly url: string;
  /** A fresh browser context (its own cookies) with one page. */
  open(options?: { viewport?: Viewport }): Promise<OpenPage>;
  stop(): Promise<void>;
}

/** Starts a Tessera server and Chromium; the console must have been built (npm run build). */
export async function startConsoleRig(
  options: { store?: StoreKind; clock?: Clock } = {},
): Promise<ConsoleRig> {
  if (!existsSync(path.join(CONSOLE_ROOT, 'index.html'))) {
    throw new Error(`${CONSOLE_ROOT} has no index.html: run npm run build first`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (see .ci/run)`);
  }
  const server = await startTestServer(options);
  const browser = await chromium
    .launch({
      executablePath: CHROMIUM,
      // Tests run as root, where Chromium's sandbox cannot start.
      args: ['--no-sandbox'],
    })
    .catch(async (error: unknown) => {
      await server.stop();
      throw error;
    });
  const contexts: BrowserContext[] = [];

  return {
    server,
    browser,
    url: server.url,
    async open({ viewport = WIDE } = {}) {
      const context = await browser.newContext({ viewport, baseURL: server.url });
      contexts.push(context);
      const page = await context.newPage();
      return { context, page, problems: watchProblems(page) };
    },
    async stop() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await server.stop();
    },
  };
}

function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Chromium logs every 4xx and 5xx of a fetch this way; responses are judged below instead.
    if (message.text().startsWith('Failed to load resource: the server responded')) return;
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`${response.status()}: ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    // Leaving a page cancels its requests in flight; that is no failure of the console.
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  return problems;
}

/** Creates a user with a random password through the API, as the dev root token. */
export async function createUser(
  server: TestServer,
  name: string,
  role: ConsoleUser['role'],
): Promise<ConsoleUser> {
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const created = await server.api('POST', '/v1/users', { body: { name, role, password } });
  if (created.status !== 201) {
    throw new Error(`creating ${name} failed: ${created.status} ${JSON.stringify(created.body)}`);
  }
  return { name, password, role };
}

/** Fills the sign-in form as a person would and submits it; does not wait for what follows. */
export async function submitSignIn(page: Page, user: string, password: string): Promise<void> {
  if (!page.url().includes('/sign-in')) await page.goto('/sign-in');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in through the page and waits for the Home screen. */
export async function signIn(page: Page, user: ConsoleUser): Promise<void> {
  await page.goto('/');
  await page.waitForURL('**/sign-in');
  await submitSignIn(page, user.name, user.password);
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
}

/** The session cookie of a browser context, if it has one. */
export async function sessionCookie(context: BrowserContext) {
  return (await context.cookies()).find((cookie) => cookie.name === SESSION_COOKIE);
}

/** Saves a full-page screenshot as test-output/screenshots/NAME.png; answers its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Whether the page scrolls sideways: wider content than its window. */
export async function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(
    () => document.documentElement.scrollWidth > document.documentElement.clientWidth,
  );
}
