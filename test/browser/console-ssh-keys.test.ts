/**
 * The console's SSH keys screen in a real Chromium against a real server, with real keys made
 * by ssh-keygen: a user registers their own key by pasting its .pub line, running the page's
 * `ssh-keygen -Y sign` command and pasting the signature; a signature made with another key is
 * refused next to its field and registers nothing; removal asks first. The challenge and the
 * signature never appear in a URL. Screenshots go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { KEY_PROOF_NAMESPACE } from '../../src/gateway/key-proof.ts';
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

/** ssh-keygen sees no agent and no user configuration: it signs with the file it is given. */
const KEYGEN_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
/** What the page tells the user to run, taken apart: `printf '%s' 'C' | ssh-keygen … -f F`. */
const SIGN_COMMAND = /^printf '%s' '([^']+)' \| ssh-keygen -Y sign -n (\S+) -f (\S+)$/;

interface KeyPair {
  /** The private key's file. */
  readonly file: string;
  /** The .pub file's line, as `cat` prints it. */
  readonly publicKey: string;
  /** `ssh-keygen -l -E sha256` of the .pub file: SHA256:… */
  readonly fingerprint: string;
}

interface ListedKey {
  readonly id: string;
  readonly fingerprint: string;
  readonly type: string;
  readonly comment: string;
}

describe('console: my SSH keys', () => {
  let rig: ConsoleRig;
  let carol: ConsoleUser;
  let dir: string;
  let laptop: KeyPair;
  let stranger: KeyPair;
  let open: OpenPage;
  /** Every address the page asked for, to prove that no challenge or signature is in one. */
  const visited: string[] = [];
  const secretsOfTheFlow: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tessera-console-keys-'));
    laptop = keyPair(dir, 'id_ed25519', 'carol@laptop');
    stranger = keyPair(dir, 'stranger', 'someone@else');
    rig = await startConsoleRig();
    carol = await createUser(rig.server, 'carol', 'user');
    open = await rig.open({ viewport: WIDE });
    open.page.on('request', (request) => visited.push(request.url()));
    await open.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  });
  after(async () => {
    await rig?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const keysOfCarol = async () => {
    const listed = await rig.server.api<{ keys: ListedKey[] }>('GET', '/v1/users/carol/ssh-keys');
    assert.equal(listed.status, 200);
    return listed.body.keys;
  };

  it('is linked beside the name of an ordinary user, and starts empty', async () => {
    const { page, problems } = open;
    await signIn(page, carol);
    await page.getByRole('navigation', { name: 'Your account' }).getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: 'SSH keys' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/ssh-keys');
    assert.equal(await page.title(), 'SSH keys · Tessera');
    await page.getByText('You have no SSH keys yet').waitFor();
    assert.deepEqual(problems, []);
  });

  it('refuses a bad key line at its field, and never sends a private key', async () => {
    const { page, problems } = open;
    const field = page.getByLabel('Public key', { exact: true });
    const challenges: string[] = [];
    const count = (request: { url(): string }) => {
      if (request.url().endsWith('/ssh-keys/challenge')) challenges.push(request.url());
    };
    page.on('request', count);

    await field.fill(readFileSync(laptop.file, 'utf8'));
    await next(page);
    await fieldProblem(page, field, /private key, which must never leave your computer/);
    assert.equal(await field.inputValue(), '', 'the private key is cleared from the page');
    assert.deepEqual(challenges, [], 'nothing was sent');

    await field.fill('ssh-ed25519 this-is-not-base64!');
    await next(page);
    const said = await fieldProblem(page, field, /Tessera refused the key: a public key line/);
    assert.match(said, /VALIDATION_FAILED/);
    assert.equal(challenges.length, 1);

    await field.fill(`${laptop.publicKey}\n${stranger.publicKey}`);
    await next(page);
    await fieldProblem(page, field, /more than one key/);
    assert.equal(challenges.length, 1);
    page.off('request', count);

    await field.fill('x');
    assert.equal(await page.locator('.sk-field-problem').count(), 0, 'the error goes on change');
    await field.fill('');
    assert.deepEqual(problems, []);
  });

  it('registers a key: pasted, signed with ssh-keygen as the page says, pasted back', async () => {
    const { page, problems } = open;
    await page.getByLabel('Public key', { exact: true }).fill(`${laptop.publicKey}\n`);
    await next(page);

    const heading = page.getByRole('heading', { name: '2. Sign the challenge in your terminal' });
    await page.getByTestId('sign-command').waitFor();
    assert.equal(await hasFocus(heading), true);
    assert.match(await shown(page.getByTestId('chosen-key')), /ssh-ed25519 \(carol@laptop\)/);
    const command = await shown(page.getByTestId('sign-command'));
    const [, challenge = '', namespace = '', keyFile = ''] = SIGN_COMMAND.exec(command) ?? [];
    assert.ok(challenge !== '', `not the expected command: ${command}`);
    assert.equal(namespace, KEY_PROOF_NAMESPACE);
    assert.equal(keyFile, '~/.ssh/id_ed25519', 'the default file of an Ed25519 key');
    assert.match(
      await shown(page.getByTestId('challenge-expiry')),
      /holds until .+ \(\d+ min left\)/,
    );
    secretsOfTheFlow.push(challenge);

    await page.getByRole('button', { name: 'Copy command' }).click();
    await page.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), command);
    await screenshot(page, 'ssh-keys-sign-wide');

    // Signed by another key: refused at the signature, in the server's words, and nothing added.
    const signature = page.getByLabel('Signature', { exact: true });
    const wrong = sign(stranger.file, namespace, challenge);
    await signature.fill(wrong);
    await page.getByRole('button', { name: 'Register key' }).click();
    const said = await fieldProblem(page, signature, /Tessera refused the signature/);
    assert.match(said, /made with another key/);
    assert.match(said, /KEY_PROOF_INVALID/);
    assert.equal(await hasFocus(signature), true);
    assert.deepEqual(await keysOfCarol(), [], 'a refused proof registers nothing');
    await screenshot(page, 'ssh-keys-refused-signature');

    // Signed as the page says, with the file where this key really is.
    const right = sign(laptop.file, namespace, challenge);
    assert.match(right, /^-----BEGIN SSH SIGNATURE-----\n[\s\S]+-----END SSH SIGNATURE-----\n$/);
    secretsOfTheFlow.push(...signatureLines(wrong), ...signatureLines(right));
    await signature.fill(right);
    await page.getByRole('button', { name: 'Register key' }).click();

    const notice = page.getByRole('status').filter({ hasText: 'Added ssh-ed25519 key' });
    await notice.waitFor();
    assert.match(await shown(notice), new RegExp(escaped(laptop.fingerprint)));
    assert.equal(await hasFocus(notice), true);
    const row = page.locator(`tr[data-key="${laptop.fingerprint}"]`);
    await row.waitFor();
    assert.match(await shown(row), /ssh-ed25519/);
    assert.match(await shown(row), /carol@laptop/);
    assert.match(await shown(row), /never/);
    assert.equal(
      await page.getByLabel('Public key', { exact: true }).inputValue(),
      '',
      'the form starts again',
    );

    const stored = await keysOfCarol();
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.fingerprint, laptop.fingerprint);
    assert.equal(stored[0]?.type, 'ssh-ed25519');
    assert.equal(stored[0]?.comment, 'carol@laptop');
    await screenshot(page, 'ssh-keys-registered-wide');
    assert.deepEqual(problems, []);
  });

  it('says when the key is already registered, before anything is signed', async () => {
    const { page, problems } = open;
    const field = page.getByLabel('Public key', { exact: true });
    await field.fill(laptop.publicKey);
    await next(page);
    const said = await fieldProblem(page, field, /this key is already registered/);
    assert.match(said, /ALREADY_EXISTS/);
    assert.equal(await page.getByTestId('sign-command').count(), 0);
    await field.fill('');
    assert.deepEqual(problems, []);
  });

  it('removes the key only once confirmed, and the API no longer has it', async () => {
    const { page, problems } = open;
    const remove = page.getByRole('button', { name: `Remove key ${laptop.fingerprint}` });

    await remove.click();
    const dialog = page.getByRole('dialog', { name: 'Remove this key?' });
    await dialog.waitFor();
    assert.match(await shown(dialog), new RegExp(escaped(laptop.fingerprint)));
    await screenshot(page, 'ssh-keys-remove-dialog');
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    assert.equal(await dialog.count(), 0);
    assert.equal(await hasFocus(remove), true);
    assert.equal((await keysOfCarol()).length, 1, 'kept when not confirmed');

    await remove.click();
    await dialog.getByRole('button', { name: 'Remove key' }).click();
    await page.getByRole('status').filter({ hasText: 'Removed key' }).waitFor();
    await page.getByText('You have no SSH keys yet').waitFor();
    assert.equal(await page.locator(`tr[data-key="${laptop.fingerprint}"]`).count(), 0);
    assert.deepEqual(await keysOfCarol(), []);
    assert.deepEqual(problems, []);
  });

  it('never put the challenge or the signature in an address', () => {
    assert.ok(secretsOfTheFlow.length > 2);
    for (const url of [...visited, open.page.url()]) {
      for (const text of secretsOfTheFlow) {
        assert.ok(!url.includes(text), `${url} holds part of the proof`);
        assert.ok(!decodeURIComponent(url).includes(text), `${url} holds part of the proof`);
      }
    }
  });

  it('is reached and used from the keyboard alone', async () => {
    const { page, problems } = await rig.open({ viewport: WIDE });
    const dave = await createUser(rig.server, 'dave', 'user');
    await signIn(page, dave);
    await tabTo(page, (el) => el.tag === 'A' && el.text === 'SSH keys');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'SSH keys' }).waitFor();

    await tabTo(page, (el) => el.tag === 'TEXTAREA');
    assert.equal(await hasFocus(page.getByLabel('Public key', { exact: true })), true);
    await page.keyboard.insertText(stranger.publicKey);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByTestId('sign-command').waitFor();
    const focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
    assert.equal(focused, '2. Sign the challenge in your terminal');

    // On from the step's heading: the copy button, then the signature field.
    await tabTo(page, (el) => el.tag === 'BUTTON' && el.text === 'Copy command');
    await tabTo(page, (el) => el.tag === 'TEXTAREA');
    assert.equal(await hasFocus(page.getByLabel('Signature', { exact: true })), true);
    assert.deepEqual(problems, []);
  });

  it('fits a wide and a narrow window without scrolling sideways', async () => {
    // A key an administrator vouched for, so the list has a row to lay out.
    const added = await rig.server.api('POST', '/v1/users/carol/ssh-keys', {
      body: { publicKey: stranger.publicKey },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    for (const [label, viewport] of [
      ['wide', WIDE],
      ['narrow', NARROW],
    ] as const) {
      const { page, problems } = await rig.open({ viewport });
      await signIn(page, carol);
      await page.goto('/ssh-keys');
      await page.locator(`tr[data-key="${stranger.fingerprint}"]`).waitFor();
      assert.equal(await scrollsSideways(page), false, `${label} list scrolls sideways`);
      await page.getByLabel('Public key', { exact: true }).fill(laptop.publicKey);
      await next(page);
      await page.getByTestId('sign-command').waitFor();
      assert.equal(await scrollsSideways(page), false, `${label} command scrolls sideways`);
      await screenshot(page, `ssh-keys-${label}`);
      await page.getByRole('button', { name: `Remove key ${stranger.fingerprint}` }).click();
      await page.getByRole('dialog', { name: 'Remove this key?' }).waitFor();
      assert.equal(await scrollsSideways(page), false, `${label} dialog scrolls sideways`);
      await screenshot(page, `ssh-keys-remove-${label}`);
      assert.deepEqual(problems, []);
    }
  });
});

/** A new Ed25519 key pair without a passphrase, made by the real ssh-keygen. */
function keyPair(dir: string, name: string, comment: string): KeyPair {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], {
    env: KEYGEN_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
    env: KEYGEN_ENV,
    encoding: 'utf8',
  });
  const fingerprint = listed.split(' ')[1] ?? '';
  assert.match(fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  return { file, publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint };
}

/**
 * `printf '%s' CHALLENGE | ssh-keygen -Y sign -n NAMESPACE -f FILE`, without a shell: the
 * challenge goes on stdin exactly as printf would give it, with no newline.
 */
function sign(file: string, namespace: string, challenge: string): string {
  return execFileSync('ssh-keygen', ['-Y', 'sign', '-n', namespace, '-f', file], {
    env: KEYGEN_ENV,
    input: challenge,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** The base64 lines of an armored signature: any of them in an address would be a leak. */
function signatureLines(armored: string): string[] {
  return armored.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
}

async function next(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Next: get a challenge' }).click();
}

/** Waits for the field's problem, checks it is tied to the field, and answers its words. */
async function fieldProblem(page: Page, field: Locator, words: RegExp): Promise<string> {
  const problem = page.locator('.sk-field-problem').filter({ hasText: words });
  await problem.waitFor();
  assert.equal(await field.getAttribute('aria-invalid'), 'true');
  const id = (await problem.getAttribute('id')) ?? '';
  assert.ok(id !== '' && ((await field.getAttribute('aria-describedby')) ?? '').includes(id));
  return shown(problem);
}

/** What has keyboard focus: its tag and its text. */
interface Focused {
  readonly tag: string;
  readonly text: string;
}

/** Presses Tab until what has focus passes `found`; fails after 40 presses. */
async function tabTo(page: Page, found: (focused: Focused) => boolean): Promise<void> {
  for (let presses = 0; presses < 40; presses += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => ({
      tag: document.activeElement?.tagName ?? '',
      text: (document.activeElement?.textContent ?? '').trim(),
    }));
    if (found(focused)) return;
  }
  assert.fail('Tab never reached the element');
}

async function hasFocus(locator: Locator): Promise<boolean> {
  return locator.evaluate((element) => element === document.activeElement);
}

async function shown(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').replaceAll(/\s+/g, ' ').trim();
}

function escaped(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
