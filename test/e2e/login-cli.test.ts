/**
 * `tessera login` for a user with a second factor, through the real command line against a real
 * server on 127.0.0.1: a script gives the code with --code, a person at a terminal is asked for
 * it after the password, and the password alone gets no token.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const BIN = fileURLToPath(new URL('../../bin/tessera', import.meta.url));
/** How long a run on a terminal may take before it is killed. */
const TERMINAL_TIMEOUT_MS = 20_000;
const STEP_MS = 30_000;
const USER = 'lena';
const PASSWORD = 'pw-lena-long-enough';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('tessera login with a second factor', () => {
  let server: TestServer;
  let totp: TOTP;

  before(async () => {
    server = await startTestServer();
    const body = { name: USER, role: 'user', password: PASSWORD };
    assert.equal((await server.api('POST', '/v1/users', { body })).status, 201);
    const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
      token: null,
      body: { user: USER, password: PASSWORD },
    });
    const token = login.body.token;
    const enrolled = await server.api<{ secret: string }>('POST', '/v1/auth/mfa/enroll', {
      token,
    });
    totp = new TOTP({ secret: Secret.fromBase32(enrolled.body.secret), period: 30 });
    // Confirmed with the step before (still within the window): the current one stays unused.
    const confirmed = await server.api('POST', '/v1/auth/mfa/confirm', {
      token,
      body: { code: totp.generate({ timestamp: Date.now() - STEP_MS }) },
    });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  });
  after(() => server?.stop());

  const login = (args: readonly string[]) =>
    runCli(server, ['login', '--user', USER, '--password-stdin', ...args], `${PASSWORD}\n`);

  it('refuses the password alone off a terminal, and says to give --code', async () => {
    const alone = await login([]);
    assertFails(alone, 'MFA_REQUIRED');
    assert.match(alone.stderr, /--code/);
    assert.doesNotMatch(alone.stdout, /TESSERA_TOKEN/);
    assertFails(await login(['--code', '12ab56']), 'USAGE', 2);
    const wrong = await login(['--code', wrongCode(totp.generate())]);
    assertFails(wrong, 'MFA_INVALID');
    assert.doesNotMatch(wrong.stdout, /TESSERA_TOKEN/);
  });

  it('logs in with --code, once per code, and the token works', async () => {
    const code = totp.generate();
    const done = await login(['--code', code]);
    assert.equal(done.code, 0, done.stderr);
    const token = /^export TESSERA_TOKEN=(\S+)$/m.exec(done.stdout)?.[1] ?? '';
    assert.match(token, /^tsr_/);
    assert.match(done.stderr, new RegExp(`Logged in as ${USER} \\(user\\)`));
    const self = await server.api<{ user: string }>('GET', '/v1/auth/self', { token });
    assert.deepEqual([self.status, self.body.user], [200, USER]);

    assertFails(await login(['--code', code]), 'MFA_INVALID');
  });

  it('asks for the code on a terminal after the password, hidden', async (t) => {
    if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) return t.skip('no script(1)');
    const code = totp.generate({ timestamp: Date.now() + STEP_MS });
    const prompted = await onTerminal(
      server,
      ['login', '--user', USER],
      [
        { prompt: /Password/, typed: `${PASSWORD}\r` },
        { prompt: /Code from your authenticator app/, typed: `${code}\r` },
      ],
    );
    assert.equal(prompted.code, 0, prompted.output);
    assert.match(prompted.output, /export TESSERA_TOKEN=tsr_/);
    assert.ok(!prompted.output.includes(code), 'the code is echoed');
    assert.ok(!prompted.output.includes(PASSWORD), 'the password is echoed');
  });
});

function runCli(server: TestServer, args: readonly string[], stdin: string): Promise<CliResult> {
  const env = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', TZ: 'UTC' };
  const child = spawn(process.execPath, [BIN, '--addr', server.url, ...args], {
    env,
    stdio: 'pipe',
  });
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

/**
 * Runs tessera on a terminal that script(1) provides, typing each answer once its prompt shows
 * up in what was written since the previous answer. The output is the terminal's, prompts and
 * escapes included.
 */
async function onTerminal(
  server: TestServer,
  args: readonly string[],
  answers: ReadonlyArray<{ prompt: RegExp; typed: string }>,
): Promise<{ code: number | null; output: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    TZ: 'UTC',
    TESSERA_ADDR: server.url,
  };
  const argv = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  // The terminal script(1) makes has no size: prompts need columns to draw in.
  const shell = `stty cols 100 rows 30; ${argv}`;
  const child = spawn('script', ['-qec', shell, '/dev/null'], { env, stdio: 'pipe' });
  let output = '';
  let since = 0;
  let next = 0;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    const answer = answers[next];
    if (answer?.prompt.test(output.slice(since))) {
      next += 1;
      since = output.length;
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

function assertFails(result: CliResult, code: string, exitCode = 1): void {
  assert.equal(
    result.code,
    exitCode,
    `exit status; stdout: ${result.stdout}; stderr: ${result.stderr}`,
  );
  assert.match(result.stderr, new RegExp(`^error: ${code}: `, 'm'));
}

/** A six-digit code that is not `code` (nor, with near certainty, a neighbouring step's). */
function wrongCode(code: string): string {
  return code
    .split('')
    .map((d) => String((Number(d) + 5) % 10))
    .join('');
}
