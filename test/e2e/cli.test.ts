/**
 * The tessera command line end to end: real servers started through `tessera server` as child
 * processes on loopback, driven by `tessera` child processes with TESSERA_ADDR and TESSERA_TOKEN,
 * exactly as a person or a script would.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { knownServerNodeFlags, SERVER_ENVIRONMENT } from '../../src/node-settings.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';

const BIN = fileURLToPath(new URL('../../bin/tessera', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/** A self-signed CA certificate made for these tests (no key anywhere): a root cert to send. */
const CLI_TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBkjCCATegAwIBAgIUZDKmArhakjoCTAeKThcDshXwkPUwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTVGVzc2VyYSBDTEkgdGVzdCBDQTAeFw0yNjEyMDQxNjMzMjFa
Fw0zNjEyMDExNjMzMjFaMB4xHDAaBgNVBAMME1Rlc3NlcmEgQ0xJIHRlc3QgQ0Ew
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQoq+hgKZe05gFmJZVtzVYO0S2cby+1
ZVrhO9dMfsO4twZzF7dGtaBThqVnfDphMIJV07z31JHjNTTzMU1x7IQXo1MwUTAd
BgNVHQ4EFgQU1f7VgModVDNlfWDyLwxaF1WmsMQwHwYDVR0jBBgwFoAU1f7VgMod
VDNlfWDyLwxaF1WmsMQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBG
AiEAib+pnoT0OejfhFscDY/tVJNpqy8Jci/5OMMKw00UtIQCIQCb7O2yzRPesF/y
dUABPB/9x8WUwMhm1Io5KdV+GQZajg==
-----END CERTIFICATE-----
`;
const HINT_TIMEOUT_MS = 5_000;

/** A clean environment: nothing of the caller's TESSERA_* settings leaks into a test. */
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', TZ: 'UTC' };

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface CliOptions {
  readonly token?: string;
  readonly stdin?: string;
}

interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** What the server wrote to stderr: notes and hints for the person who started it. */
  stderr(): string;
  /** Runs `tessera ARGS` against this server. */
  cli(args: readonly string[], options?: CliOptions): Promise<CliResult>;
  /** Stops the server; its data directory is removed unless kept for a restart. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

function runCli(
  args: readonly string[],
  env: Record<string, string>,
  stdin = '',
): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
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

/** Starts `tessera server` on a free loopback port; its `tessera listening` log gives the URL. */
async function startServerProcess(
  flags: readonly string[],
  env: Record<string, string> = {},
  existingDataDir?: string,
) {
  const dataDir = existingDataDir ?? (await mkdtemp(path.join(tmpdir(), 'tessera-cli-')));
  // The SSH gateway stays off: dev mode would take port 2222, which parallel tests share.
  const args = ['server', ...flags, '--data-dir', dataDir, '--listen', '127.0.0.1:0'];
  args.push('--ssh-listen', 'off');
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...BASE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const url = await listeningUrl(child, () => stderr);

  const server: ServerProcess = {
    url,
    child,
    dataDir,
    stderr: () => stderr,
    cli(cliArgs, options = {}) {
      const cliEnv: Record<string, string> = { ...BASE_ENV, TESSERA_ADDR: url };
      if (options.token !== undefined) cliEnv.TESSERA_TOKEN = options.token;
      return runCli(cliArgs, cliEnv, options.stdin);
    },
    async stop({ keepData = false } = {}) {
      const code = await stopChild(child);
      if (!keepData) await rm(dataDir, { recursive: true, force: true });
      assert.equal(code, 0, 'the server closes gracefully on SIGTERM');
    },
  };
  return server;
}

function listeningUrl(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail('did not start in time'), START_TIMEOUT_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`tessera server ${why}:\n${stderr()}`));
    };
    child.on('exit', (code) => fail(`exited with ${code}`));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        const url = urlOfLogLine(line);
        if (url === null) continue;
        clearTimeout(timer);
        resolve(url);
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
  });
}

function urlOfLogLine(line: string): string | null {
  if (!line.startsWith('{')) return null;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return entry.msg === 'tessera listening' && typeof entry.url === 'string' ? entry.url : null;
  } catch {
    return null; // a line still being written
  }
}

/** SIGTERM, then the exit status: 0 when the server closed gracefully. */
async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  return code;
}

/** A loopback port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  await once(probe, 'close');
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** The server prints its hints just after it starts listening; they may trail the log line. */
async function waitForText(read: () => string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + HINT_TIMEOUT_MS;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) assert.fail(`${pattern} not in:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function parseJson<T>(result: CliResult): T {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

function assertFails(result: CliResult, code: string, exitCode = 1): void {
  assert.equal(result.code, exitCode, `exit status; stderr: ${result.stderr}`);
  assert.match(result.stderr, new RegExp(`^error: ${code}: `, 'm'));
}

function assertOk(result: CliResult): void {
  assert.equal(result.code, 0, result.stderr);
}

describe('tessera CLI against a dev server', () => {
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  // Quotes, a backslash, a dollar, non-ASCII and a trailing space: every byte must survive.
  const secret = `q"u'o\`te \\ $HOME é 日本 🔑 `;
  let server: ServerProcess;
  const tokens = { alice: '', bob: '' };

  before(async () => {
    server = await startServerProcess(['--dev'], { TESSERA_DEV_ROOT_TOKEN: rootToken });
  });
  after(async () => {
    await server?.stop();
  });

  const root = (args: readonly string[], stdin?: string) =>
    server.cli(args, { token: rootToken, ...(stdin === undefined ? {} : { stdin }) });

  test('operator status shows an unsealed vault', async () => {
    const text = await root(['operator', 'status']);
    assertOk(text);
    assert.match(text.stdout, /Sealed:\s+no/);
    const json = parseJson<{ initialized: boolean; sealed: boolean }>(
      await root(['operator', 'status', '-o', 'json']),
    );
    assert.deepEqual([json.initialized, json.sealed], [true, false]);
  });

  test('the server runs with its Node settings, in the process that was started', async (t) => {
    const pid = server.child.pid ?? assert.fail('the server has no process id');
    if (!existsSync(`/proc/${pid}/cmdline`)) return t.skip('no /proc here to read a command line');
    const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    for (const flag of knownServerNodeFlags()) assert.ok(command.includes(flag), command.join(' '));
    assert.ok(command.includes('server'), 'the same command, run again');
    const environment = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    for (const [name, value] of Object.entries(SERVER_ENVIRONMENT)) {
      assert.ok(environment.includes(`${name}=${value}`), name);
    }
    const warnings = server.stderr().match(/WARNING: dev mode/g) ?? [];
    assert.equal(warnings.length, 1, 'what the first start printed is not printed again');
  });

  test('the database files are private to the server account', async () => {
    for (const file of ['tessera.db', 'tessera.db-wal', 'tessera.db-shm']) {
      const { mode } = await stat(path.join(server.dataDir, file));
      assert.equal((mode & 0o777).toString(8), '600', file);
    }
    assert.doesNotMatch(server.stderr(), /operator (init|unseal)/, 'dev mode unseals itself');
  });

  test('user create reads the password from stdin; login gives a token that works', async () => {
    for (const name of ['alice', 'bob']) {
      assertOk(
        await root(['user', 'create', name, '--role', 'user', '--password-stdin'], `${name}-pw\n`),
      );
    }
    const login = await server.cli(['login', '--user', 'alice', '--password-stdin'], {
      stdin: 'alice-pw\n',
    });
    assertOk(login);
    tokens.alice = /^export TESSERA_TOKEN=(\S+)$/m.exec(login.stdout)?.[1] ?? '';
    assert.match(tokens.alice, /^tsr_/);

    const reply = parseJson<{ token: string; user: { name: string } }>(
      await server.cli(['login', '--user', 'bob', '--password-stdin', '-o', 'json'], {
        stdin: 'bob-pw',
      }),
    );
    assert.equal(reply.user.name, 'bob');
    tokens.bob = reply.token;
    assertOk(await server.cli(['safe', 'list'], { token: tokens.alice }));

    const users = parseJson<{ users: { name: string }[] }>(
      await root(['user', 'list', '-o', 'json']),
    );
    assert.deepEqual(users.users.map((u) => u.name).sort(), ['admin', 'alice', 'bob']);
  });

  test('a wrong password is refused without saying which part was wrong', async () => {
    const result = await server.cli(['login', '--user', 'alice', '--password-stdin'], {
      stdin: 'nope',
    });
    assertFails(result, 'UNAUTHENTICATED');
  });

  test('safe create, member add and safe show', async () => {
    assertOk(await root(['safe', 'create', 'prod', '--description', 'production databases']));
    const add = ['safe', 'member', 'add', 'prod'];
    assertOk(await root([...add, 'alice', '--permissions', 'list,retrieve,checkout']));
    assertOk(await root([...add, 'bob', '--permissions', 'checkout']));
    assertFails(await root([...add, 'bob', '--permissions', 'fly']), 'USAGE', 2);

    const shown = await root(['safe', 'show', 'prod']);
    assertOk(shown);
    assert.match(shown.stdout, /^alice\s+list,retrieve,checkout\s+admin/m);
    const json = parseJson<{ members: { user: string }[] }>(
      await root(['safe', 'show', 'prod', '-o', 'json']),
    );
    assert.equal(json.members.length, 2);
  });

  test('target add, list and show', async () => {
    const flags = ['--platform', 'postgresql', '--host', '127.0.0.1', '--port', '47999'];
    const added = await root(['target', 'add', 'db1', ...flags, '--database', 'app']);
    assertOk(added);
    assert.match(added.stderr, /not encrypted \(sslmode disable\).*verify-full/);
    const list = parseJson<{ targets: { name: string; port: number }[] }>(
      await root(['target', 'list', '-o', 'json']),
    );
    assert.deepEqual(
      list.targets.map((t) => [t.name, t.port]),
      [['db1', 47999]],
    );
    const shown = await root(['target', 'show', 'db1']);
    assert.match(shown.stdout, /Database:\s+app/);
    assert.match(shown.stdout, /SSL mode:\s+disable/);
    assertFails(
      await root(['target', 'add', 'db2', ...flags.slice(0, 4), '--port', 'x']),
      'USAGE',
      2,
    );
  });

  test('target add and set take TLS options; the certificate never comes back', async () => {
    const caFile = path.join(server.dataDir, 'ca.pem');
    await writeFile(caFile, CLI_TEST_CA);
    const flags = ['--platform', 'postgresql', '--host', 'db.example.test', '--port', '5432'];
    const tls = ['--sslmode', 'verify-full', '--ssl-root-cert', caFile, '--allow-md5'];
    const added = await root(['target', 'add', 'tls1', ...flags, ...tls]);
    assertOk(added);
    assert.doesNotMatch(added.stderr, /not encrypted/);

    const shown = await root(['target', 'show', 'tls1']);
    assert.match(shown.stdout, /SSL mode:\s+verify-full/);
    assert.match(shown.stdout, /Root certificate:\s+set/);
    assert.match(shown.stdout, /MD5 logins:\s+yes/);
    const json = await root(['target', 'show', 'tls1', '-o', 'json']);
    assert.deepEqual(parseJson<{ options: unknown }>(json).options, {
      sslmode: 'verify-full',
      sslrootcertSet: true,
      allowMd5Auth: true,
    });
    assert.ok(!json.stdout.includes(CLI_TEST_CA.split('\n')[1] ?? '-'), 'certificate shown');

    // A certificate only means something when it is checked: dropping to require needs it gone.
    assertFails(await root(['target', 'set', 'tls1', '--sslmode', 'require']), 'VALIDATION_FAILED');
    const changed = await root([
      ...['target', 'set', 'tls1', '--sslmode', 'require', '--no-ssl-root-cert'],
      ...['--no-allow-md5', '--port', '6432'],
    ]);
    assertOk(changed);
    assert.match(changed.stdout, /Port:\s+6432/);
    assert.match(changed.stdout, /Root certificate:\s+-$/m);
    assert.match(changed.stdout, /MD5 logins:\s+no/);

    assertFails(await root(['target', 'add', 'tls2', ...flags, '--sslmode', 'prefer']), 'USAGE', 2);
    const missing = ['--sslmode', 'verify-full', '--ssl-root-cert', `${caFile}.missing`];
    assertFails(await root(['target', 'add', 'tls2', ...flags, ...missing]), 'USAGE', 2);
    assertFails(await root(['target', 'set', 'tls1']), 'USAGE', 2);
    assertFails(await root(['target', 'set', 'nope', '--port', '1']), 'NOT_FOUND');
  });

  test('policy set changes only the settings named', async () => {
    assertOk(await root(['policy', 'set', 'cli', '--length', '40', '--no-rotate-on-checkin']));
    assertOk(await root(['policy', 'set', 'cli', '--max-checkout', '2h', '--rotate-every', '30d']));
    const policy = parseJson<{
      rotationIntervalS: number | null;
      secret: { length: number; minDigits: number };
      rotateOnCheckin: boolean;
      exclusiveCheckout: boolean;
      maxCheckoutS: number;
    }>(await root(['policy', 'show', 'cli', '-o', 'json']));
    assert.equal(policy.secret.length, 40);
    assert.equal(policy.secret.minDigits, 1);
    assert.equal(policy.rotateOnCheckin, false);
    assert.equal(policy.exclusiveCheckout, true);
    assert.equal(policy.maxCheckoutS, 7200);
    assert.equal(policy.rotationIntervalS, 30 * 86_400);

    const text = await root(['policy', 'show', 'cli']);
    assert.match(text.stdout, /Longest check-out:\s+2h/);
    assertFails(await root(['policy', 'set', 'cli', '--max-checkout', '2 hours']), 'USAGE', 2);
    assertFails(await root(['policy', 'set', 'cli']), 'USAGE', 2);
  });

  test('account add reads the secret from stdin byte for byte', async () => {
    const add = [
      'account',
      'add',
      'db1/app',
      '--safe',
      'prod',
      '--policy',
      'cli',
      '--secret-stdin',
    ];
    assertOk(await root(add, `${secret}\n`));
    // A user name with a slash, and a value that itself ends in a newline: only one is stripped.
    const slashed = ['account', 'add', 'db1/ops/backup', '--safe', 'prod', '--secret-stdin'];
    assertOk(await root(slashed, 'two\nlines\n\n'));
    const revealed = await server.cli(['secret', 'show', 'db1/ops/backup', '--reason', 'check'], {
      token: tokens.alice,
    });
    assert.equal(revealed.stdout, 'two\nlines\n\n');
  });

  test('account list, show and history never show the value', async () => {
    const list = await root(['account', 'list']);
    assertOk(list);
    assert.match(list.stdout, /^db1\/app\s+prod\s+cli\s+unverified\s+1/m);
    const json = parseJson<{ accounts: { ref: string }[] }>(
      await root(['account', 'list', '--safe', 'prod', '-o', 'json']),
    );
    assert.deepEqual(json.accounts.map((a) => a.ref).sort(), ['db1/app', 'db1/ops/backup']);

    for (const command of ['show', 'history']) {
      for (const output of [[], ['-o', 'json']]) {
        const result = await root(['account', command, 'db1/app', ...output]);
        assertOk(result);
        assert.ok(!result.stdout.includes(secret.trim()), `${command} shows the secret`);
        assert.ok(!result.stderr.includes(secret.trim()), `${command} shows the secret`);
      }
    }
    const history = await root(['account', 'history', 'db1/app']);
    assert.match(history.stdout, /^1\s+current\s+onboard\s+admin/m);
  });

  test('secret show prints exactly the stored value and needs a reason', async () => {
    const shown = await server.cli(['secret', 'show', 'db1/app', '--reason', 'ticket CLI-1'], {
      token: tokens.alice,
    });
    assertOk(shown);
    assert.equal(
      Buffer.from(shown.stdout).toString('hex'),
      Buffer.from(`${secret}\n`).toString('hex'),
    );

    const json = parseJson<{ value: string; version: number }>(
      await server.cli(['secret', 'show', 'db1/app', '--reason', 'json', '-o', 'json'], {
        token: tokens.alice,
      }),
    );
    assert.deepEqual(json, { value: secret, version: 1 });
    assertFails(
      await server.cli(['secret', 'show', 'db1/app'], { token: tokens.alice }),
      'USAGE',
      2,
    );
  });

  test('an exclusive check-out names its holder to the next user', async () => {
    const mine = await server.cli(
      ['account', 'checkout', 'db1/app', '--reason', 'deploy', '--for', '30m'],
      {
        token: tokens.alice,
      },
    );
    assertOk(mine);
    assert.equal(mine.stdout, `${secret}\n`);
    assert.match(mine.stderr, /expires in (29m|30m)/);

    const theirs = await server.cli(['account', 'checkout', 'db1/app', '--reason', 'hotfix'], {
      token: tokens.bob,
    });
    assertFails(theirs, 'ACCOUNT_CHECKED_OUT');
    assert.match(theirs.stderr, /alice/);

    const list = await root(['account', 'list']);
    assert.match(list.stdout, /alice, ends in/);
    const checkin = await server.cli(['account', 'checkin', 'db1/app', '-o', 'json'], {
      token: tokens.alice,
    });
    assert.deepEqual(parseJson(checkin), { rotated: false, rotationError: null });
    const again = await server.cli(['account', 'checkout', 'db1/app', '--reason', 'hotfix'], {
      token: tokens.bob,
    });
    assertOk(again);
    assertOk(await server.cli(['account', 'checkin', 'db1/app'], { token: tokens.bob }));
  });

  test('audit list shows the reveal with its reason; audit verify passes', async () => {
    const events = parseJson<{
      events: { action: string; reason: string | null; object: string }[];
    }>(
      await root([
        'audit',
        'list',
        '--action',
        'secret.reveal',
        '--all',
        '--limit',
        '2',
        '-o',
        'json',
      ]),
    );
    const reveal = events.events.find((e) => e.reason === 'ticket CLI-1');
    assert.equal(reveal?.object, 'db1/app');
    assert.equal(events.events.length, 3);

    const text = await root([
      'audit',
      'list',
      '--since',
      '1h',
      '--actor',
      'alice',
      '--limit',
      '1000',
    ]);
    assert.match(text.stdout, /alice\s+secret\.reveal\s+db1\/app\s+success\s+ticket CLI-1/);
    assert.ok(!text.stdout.includes(secret.trim()));

    const verified = await root(['audit', 'verify']);
    assertOk(verified);
    assert.match(verified.stdout, /Audit trail intact/);
    assert.equal(
      parseJson<{ ok: boolean }>(await root(['audit', 'verify', '-o', 'json'])).ok,
      true,
    );
  });

  test('a wrong token is UNAUTHENTICATED; logout revokes the token', async () => {
    const wrong = await server.cli(['safe', 'list'], {
      token: `tsr_${randomBytes(32).toString('base64url')}`,
    });
    assertFails(wrong, 'UNAUTHENTICATED');
    assert.equal(wrong.stdout, '');

    assertOk(await server.cli(['logout'], { token: tokens.bob }));
    assertFails(await server.cli(['safe', 'list'], { token: tokens.bob }), 'UNAUTHENTICATED');
  });

  test('audit verify exits 1 naming the first altered event', async () => {
    const db = new Database(path.join(server.dataDir, 'tessera.db'));
    try {
      db.prepare("UPDATE audit_events SET reason = 'rewritten' WHERE seq = 5").run();
    } finally {
      db.close();
    }
    const result = await root(['audit', 'verify']);
    assertFails(result, 'AUDIT_CHAIN_BROKEN');
    assert.match(result.stderr, /event seq 5: altered/);
  });

  test('usage errors exit 2 before anything is sent', async () => {
    assertFails(await root(['account', 'show', 'no-slash']), 'USAGE', 2);
    assertFails(
      await root(['account', 'checkout', 'db1/app', '--reason', 'x', '--for', '5x']),
      'USAGE',
      2,
    );
    assertFails(await root(['frobnicate']), 'USAGE', 2);
    assertFails(await server.cli(['safe', 'list'], { token: 'not a token' }), 'USAGE', 2);
  });
});

describe('tessera CLI against a sealed server', () => {
  let server: ServerProcess;
  let init: { shares: string[]; threshold: number; rootToken: string };

  before(async () => {
    server = await startServerProcess([]);
  });
  after(async () => {
    await server?.stop();
  });

  const unseal = (share: string) => server.cli(['operator', 'unseal'], { stdin: `${share}\n` });
  const safeCreate = (name: string) =>
    server.cli(['safe', 'create', name], { token: init.rootToken });

  test('a new server says it is not initialised', async () => {
    const status = await server.cli(['operator', 'status']);
    assertOk(status);
    assert.match(status.stdout, /not initialised/);
    await waitForText(server.stderr, /the vault is not initialised: run tessera operator init/);
  });

  test('operator init prints the shares and the root token once', async () => {
    init = parseJson(
      await server.cli(['operator', 'init', '--shares', '3', '--threshold', '2', '-o', 'json']),
    );
    assert.equal(init.shares.length, 3);
    assert.equal(init.threshold, 2);
    assert.match(init.rootToken, /^tsr_/);
    assertFails(await server.cli(['operator', 'init']), 'ALREADY_INITIALIZED');
  });

  test('the sealed vault refuses secret work', async () => {
    assertFails(await safeCreate('sealed'), 'VAULT_SEALED');
  });

  test('unseal: repeated and garbage shares do not count; two distinct shares unseal', async () => {
    const [first, second] = init.shares;
    assert.ok(first !== undefined && second !== undefined);
    const one = await unseal(first);
    assertOk(one);
    assert.match(one.stdout, /1\/2/);

    assertFails(await unseal(first), 'UNSEAL_SHARE_REPEATED');
    assertFails(await unseal(randomBytes(33).toString('base64')), 'UNSEAL_SHARE_INVALID');
    assertFails(await unseal('not base64 at all!'), 'UNSEAL_SHARE_INVALID');
    const status = parseJson<{ progress: number; sealed: boolean }>(
      await server.cli(['operator', 'status', '-o', 'json']),
    );
    assert.deepEqual([status.sealed, status.progress], [true, 1]);

    const two = await unseal(second);
    assertOk(two);
    assert.match(two.stdout, /Vault unsealed/);
  });

  test('unsealed, the vault works; operator seal seals it again', async () => {
    assertOk(await safeCreate('after-unseal'));
    assertOk(await server.cli(['operator', 'seal'], { token: init.rootToken }));
    const status = await server.cli(['operator', 'status']);
    assert.match(status.stdout, /Sealed:\s+yes \(unseal progress 0\/2\)/);
    assertFails(await safeCreate('sealed-again'), 'VAULT_SEALED');
  });

  test('a restarted server says it is sealed, and how many shares it needs', async () => {
    await server.stop({ keepData: true });
    server = await startServerProcess([], {}, server.dataDir);
    await waitForText(server.stderr, /the vault is sealed: run tessera operator unseal \(2 shares/);
    assert.doesNotMatch(server.stderr(), /not initialised/);
  });
});

describe('tessera server configuration', () => {
  test('refuses a dev root token without --dev, naming the setting but not the value', async () => {
    const token = `tsr_${randomBytes(24).toString('base64url')}`;
    const env = { ...BASE_ENV, TESSERA_DEV_ROOT_TOKEN: token };
    const result = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', tmpdir()], env);
    assertFails(result, 'USAGE', 2);
    assert.match(result.stderr, /TESSERA_DEV_ROOT_TOKEN/);
    assert.ok(!result.stderr.includes(token));
  });

  test('refuses a bad listen address or database URL without echoing the URL', async () => {
    for (const listen of ['127.0.0.1', '::1:80', '[nope]:80', 'host:70000', ':80']) {
      const result = await runCli(['server', '--listen', listen], BASE_ENV);
      assertFails(result, 'USAGE', 2);
    }
    const url = 'mysql://u:hunter2-secret@127.0.0.1:1/x';
    const result = await runCli(['server', '--listen', '127.0.0.1:0'], {
      ...BASE_ENV,
      TESSERA_DATABASE_URL: url,
    });
    assertFails(result, 'USAGE', 2);
    assert.ok(!result.stderr.includes('hunter2'));
  });

  test('refuses a node URL that is not a bare http(s) address, without echoing it', async () => {
    const urls = [
      'ftp://10.0.0.5:7200',
      'http://admin:hunter2-secret@10.0.0.5:7200',
      'http://10.0.0.5:7200/api',
      'http://10.0.0.5:7200/?token=x',
      '10.0.0.5:7200',
    ];
    for (const nodeUrl of urls) {
      const flag = await runCli(['server', '--listen', '127.0.0.1:0', '--node-url', nodeUrl], {
        ...BASE_ENV,
      });
      assertFails(flag, 'USAGE', 2);
      assert.match(flag.stderr, /--node-url must be the http:\/\/ or https:\/\/ address/);
      const fromEnv = await runCli(['server', '--listen', '127.0.0.1:0'], {
        ...BASE_ENV,
        TESSERA_NODE_URL: nodeUrl,
      });
      assertFails(fromEnv, 'USAGE', 2);
      assert.match(fromEnv.stderr, /TESSERA_NODE_URL must be/);
      assert.ok(!`${flag.stderr}${fromEnv.stderr}`.includes('hunter2'));
    }
  });

  test('a stopped server is reported as unreachable', async () => {
    const addr = `http://127.0.0.1:${await closedPort()}`;
    const result = await runCli(['operator', 'status'], { ...BASE_ENV, TESSERA_ADDR: addr });
    assertFails(result, 'UNREACHABLE');
    assert.ok(
      result.stderr.includes(`cannot reach Tessera at ${addr} (ECONNREFUSED)`),
      result.stderr,
    );
  });
});

describe('tessera CLI rotating a role of a throw-away PostgreSQL cluster', () => {
  const cluster = usePgCluster();
  const rootToken = `tsr_${randomBytes(24).toString('base64url')}`;
  let server: ServerProcess;

  before(async () => {
    server = await startServerProcess(['--dev'], { TESSERA_DEV_ROOT_TOKEN: rootToken });
  });
  after(async () => {
    await server?.stop();
  });

  const root = (args: readonly string[], stdin?: string) =>
    server.cli(args, { token: rootToken, ...(stdin === undefined ? {} : { stdin }) });

  test('onboard, verify, rotate: the new password logs in, the old one does not', async (t) => {
    const pg = cluster();
    const role = uniqueRoleName('cli');
    const initial = `Init-${randomBytes(12).toString('base64url')}`;
    await pg.createRole(role, initial);
    t.after(() => pg.dropRole(role));

    const where = ['--host', pg.host, '--port', String(pg.port), '--database', 'postgres'];
    assertOk(await root(['target', 'add', 'pg', '--platform', 'postgresql', ...where]));
    assertOk(await root(['safe', 'create', 'pg-safe']));
    assertOk(
      await root(['safe', 'member', 'add', 'pg-safe', 'admin', '--permissions', 'retrieve']),
    );
    assertOk(
      await root(['account', 'add', `pg/${role}`, '--safe', 'pg-safe', '--secret-stdin'], initial),
    );

    const verified = await root(['account', 'verify', `pg/${role}`]);
    assertOk(verified);
    assert.equal(verified.stdout, 'valid: the stored secret logs in\n');
    const rotated = parseJson<{ version: number }>(
      await root(['account', 'rotate', `pg/${role}`, '-o', 'json']),
    );
    assert.equal(rotated.version, 2);
    assertOk(await root(['account', 'verify', `pg/${role}`]));

    const current = await root(['secret', 'show', `pg/${role}`, '--reason', 'check the rotation']);
    const password = current.stdout.slice(0, -1);
    assert.notEqual(password, initial);
    assert.equal(await canLogIn(pg, role, password), true);
    assert.equal(await canLogIn(pg, role, initial), false);
    const history = await root(['account', 'history', `pg/${role}`]);
    assert.ok(!history.stdout.includes(password) && !history.stdout.includes(initial));
  });

  test('verify exits 1 with VERIFY_FAILED when the stored secret does not log in', async (t) => {
    const pg = cluster();
    const role = uniqueRoleName('cli');
    await pg.createRole(role, `Init-${randomBytes(12).toString('base64url')}`);
    t.after(() => pg.dropRole(role));
    assertOk(
      await root(
        ['account', 'add', `pg/${role}`, '--safe', 'pg-safe', '--secret-stdin'],
        'Wrong-1',
      ),
    );

    const result = await root(['account', 'verify', `pg/${role}`]);
    assertFails(result, 'VERIFY_FAILED');
    assert.match(result.stdout, /^invalid: the stored secret was refused; .*SQLSTATE 28P01/);
    assert.equal(result.stdout.split('\n').length, 2, 'one line on stdout');
  });

  test('verify exits 1 with TARGET_UNREACHABLE when it could not check', async (t) => {
    const pg = cluster();
    const role = uniqueRoleName('cli');
    const password = `Init-${randomBytes(12).toString('base64url')}`;
    await pg.createRole(role, password);
    t.after(() => pg.dropRole(role));
    // The throw-away cluster serves no TLS, so a target that requires it gets no answer.
    const where = ['--host', pg.host, '--port', String(pg.port), '--sslmode', 'require'];
    assertOk(await root(['target', 'add', 'pg-tls', '--platform', 'postgresql', ...where]));
    const add = ['account', 'add', `pg-tls/${role}`, '--safe', 'pg-safe', '--secret-stdin'];
    assertOk(await root(add, password));

    const result = await root(['account', 'verify', `pg-tls/${role}`]);
    assertFails(result, 'TARGET_UNREACHABLE');
    assert.match(result.stdout, /^could not check: .*does not support SSL/);
    assert.doesNotMatch(result.stdout + result.stderr, /invalid|does not log in/);
  });

  test('a missing store database is named; the URL and its password are not', async () => {
    const pg = cluster();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tessera-cli-'));
    try {
      const { username, password } = pg.superuser;
      for (const database of ['tessera_missing', password]) {
        const url = `postgres://${username}:${password}@${pg.host}:${pg.port}/${database}`;
        const result = await runCli(['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
          ...BASE_ENV,
          TESSERA_DATABASE_URL: url,
        });
        assertFails(result, 'SERVER_START_FAILED');
        assert.match(result.stderr, /database migration failed: database ".+" does not exist/);
        assert.ok(!result.stderr.includes(password), 'the password was echoed');
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

async function canLogIn(pg: PgCluster, user: string, password: string): Promise<boolean> {
  const client = new Client({ host: pg.host, port: pg.port, user, password, database: 'postgres' });
  client.on('error', () => undefined); // a refused login surfaces through connect()
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}
