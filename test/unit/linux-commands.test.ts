/**
 * The Linux connector's command builder, its key-file scripts run by the real /bin/sh in a
 * scratch home, the sudoers reader, and SSH key helpers checked against ssh-keygen.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { createLinuxConnector } from '../../src/connectors/linux.ts';
import {
  APPEND_KEY_SCRIPT,
  CHPASSWD_SCRIPT,
  checkUserName,
  DISCOVERY_SCRIPT,
  DISCOVERY_SECTIONS,
  ownCommand,
  PASSWD_COMMAND,
  privilegedCommand,
  quoteArgs,
  RETIRE_KEYS_SCRIPT,
} from '../../src/connectors/linux-commands.ts';
import { parseDiscovery } from '../../src/connectors/linux-discovery.ts';
import {
  generateSshPrivateKey,
  managedKeyLine,
  parsePrivateKey,
  parsePublicKeyLine,
  publicKeyLine,
  sshFingerprint,
} from '../../src/connectors/ssh-keys.ts';

const execFileAsync = promisify(execFile);
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** F03's values: each must travel as data, never as part of a command. */
const HOSTILE = ["ab'cd", 'x`id`y', '$(touch /tmp/pwned)', '-n0pe-9', 'a b c', 'a:b:c'];

describe('Linux commands', () => {
  const commands = () => [
    PASSWD_COMMAND,
    ownCommand(APPEND_KEY_SCRIPT),
    ownCommand(RETIRE_KEYS_SCRIPT),
    ...[true, false].flatMap((sudo) => [
      privilegedCommand(CHPASSWD_SCRIPT, { sudo }),
      privilegedCommand(DISCOVERY_SCRIPT, { sudo }),
      privilegedCommand(APPEND_KEY_SCRIPT, { sudo, asUser: 'deploy' }),
      privilegedCommand(RETIRE_KEYS_SCRIPT, { sudo, asUser: 'deploy' }),
    ]),
  ];

  it('builds every command from fixed text: no secret can be in one', () => {
    for (const command of commands()) {
      for (const value of HOSTILE) assert.ok(!command.includes(value), `${value} in a command`);
    }
    // The builder takes no secret at all; it is the same whatever is being rotated.
    assert.deepEqual(commands(), commands());
    assert.match(privilegedCommand(CHPASSWD_SCRIPT, { sudo: true }), /^'sudo' '-S' '-k' '-p' /);
  });

  it('quotes arguments so the real shell sees each one unchanged', async () => {
    const values = [...HOSTILE, "it's", '\\n', '*', '"$HOME"', ';id;', "'", ''];
    const { stdout } = await execFileAsync(
      '/bin/sh',
      ['-c', `printf '%s\\n' ${quoteArgs(values)}`],
      { env: ENV },
    );
    assert.deepEqual(stdout.split('\n').slice(0, -1), values);
  });

  it('refuses user names that are not plain Linux names', () => {
    for (const name of ['root;id', '-rf', 'a b', '$(id)', 'Deploy', 'x'.repeat(33), '', 'a:b']) {
      assert.throws(() => checkUserName(name), /not a plain Linux user name/, name);
      assert.throws(() => privilegedCommand(APPEND_KEY_SCRIPT, { sudo: true, asUser: name }));
    }
    for (const name of ['deploy', '_svc', 'app-01', 'a'.repeat(32)]) checkUserName(name);
  });

  it('forbids line ends, NUL and terminal control characters in generated passwords', () => {
    const { forbiddenCharacters, maxLength } = createLinuxConnector().secretRules;
    for (const char of ['\n', '\r', '\u0000', '\u0003', '\u0015', '\u007f']) {
      assert.ok(forbiddenCharacters.includes(char), JSON.stringify(char));
    }
    assert.ok(!forbiddenCharacters.includes(':'), 'chpasswd splits at the first colon only');
    assert.equal(maxLength, 64);
  });
});

describe('authorized_keys scripts in a scratch home', () => {
  let home = '';
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'tessera-keys-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const run = async (script: string, input: string) => {
    const child = spawn('/bin/sh', ['-c', script], {
      env: { ...ENV, HOME: home },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stdin.end(input);
    const [code] = (await once(child, 'exit')) as [number | null];
    return code;
  };
  const keys = () => readFile(join(home, '.ssh', 'authorized_keys'), 'utf8');
  const k1 = managedKeyLine(generateSshPrivateKey('one'), 'deploy');
  const k2Private = generateSshPrivateKey('two');
  const k2 = managedKeyLine(k2Private, 'deploy');
  const foreign = `from="10.0.0.1" ${publicKeyLine(generateSshPrivateKey('f'))} ops@laptop`;

  it('creates ~/.ssh 0700 and authorized_keys 0600 and appends once', async () => {
    assert.equal(await run(APPEND_KEY_SCRIPT, `${k1}\n`), 0);
    assert.equal(await run(APPEND_KEY_SCRIPT, `${k1}\n`), 0);
    assert.equal(await keys(), `${k1}\n`);
    assert.equal((await stat(join(home, '.ssh'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(home, '.ssh', 'authorized_keys'))).mode & 0o777, 0o600);
  });

  it('appends after a last line that lacks its newline', async () => {
    await writeFile(join(home, '.ssh', 'authorized_keys'), `${k1}\n# a note\n${foreign}`);
    assert.equal(await run(APPEND_KEY_SCRIPT, `${k2}\n`), 0);
    assert.equal(await keys(), `${k1}\n# a note\n${foreign}\n${k2}\n`);
  });

  it('retires managed lines only, keeping foreign lines, comments and the kept key', async () => {
    await writeFile(
      join(home, '.ssh', 'authorized_keys'),
      `# tessera-managed:deploy stays, it is a comment\n${k1}\n${foreign}\n${k2}\n`,
    );
    assert.equal(await run(RETIRE_KEYS_SCRIPT, `${k2}\n`), 0);
    assert.equal(
      await keys(),
      `# tessera-managed:deploy stays, it is a comment\n${foreign}\n${k2}\n`,
    );
    assert.equal((await stat(join(home, '.ssh', 'authorized_keys'))).mode & 0o777, 0o600);
  });

  it('adds the kept key when it is missing and leaves no temporary file', async () => {
    await writeFile(join(home, '.ssh', 'authorized_keys'), `${k1}\n${foreign}\n`);
    assert.equal(await run(RETIRE_KEYS_SCRIPT, `${k2}\n`), 0);
    assert.equal(await keys(), `${foreign}\n${k2}\n`);
    const { stdout } = await execFileAsync('ls', ['-A', join(home, '.ssh')], { env: ENV });
    assert.equal(stdout, 'authorized_keys\n');
  });

  it('keeps a foreign line that holds the kept key as it is, with its options', async () => {
    const restricted = `restrict ${publicKeyLine(k2Private)} placed-by-ops`;
    await writeFile(join(home, '.ssh', 'authorized_keys'), `${k1}\n${restricted}\n`);
    assert.equal(await run(RETIRE_KEYS_SCRIPT, `${k2}\n`), 0);
    assert.equal(await keys(), `${restricted}\n`);
  });

  it('refuses to run without a key line', async () => {
    await mkdir(join(home, '.ssh'), { recursive: true });
    assert.notEqual(await run(APPEND_KEY_SCRIPT, ''), 0);
  });
});

describe('sudoers and group reading', () => {
  const output = (sudoers: string, keys = '') =>
    [
      DISCOVERY_SECTIONS.passwd,
      'root:x:0:0:root:/root:/bin/bash',
      'toor:x:0:0::/root:/bin/sh',
      'alice:x:1000:1000::/home/alice:/bin/bash',
      'bob:x:1001:1001::/home/bob:/bin/bash',
      'carol:x:1002:2000::/home/carol:/bin/bash',
      'dave:x:1003:1003::/home/dave:/bin/bash',
      'erin:x:1004:1004::/home/erin:/bin/bash',
      'frank:x:1005:1005::/home/frank:/bin/bash',
      DISCOVERY_SECTIONS.group,
      'sudo:x:27:alice',
      'wheel:x:10:',
      'ops:x:2000:dave',
      DISCOVERY_SECTIONS.sudoers,
      sudoers,
      DISCOVERY_SECTIONS.keys,
      keys,
      DISCOVERY_SECTIONS.end,
    ].join('\n');

  it('finds uid 0, admin groups (listed and primary), sudoers users and key holders', () => {
    const sudoers = [
      'Defaults env_reset',
      'Defaults:bob !lecture',
      '# bob ALL=(ALL) ALL is only a comment',
      'User_Alias ADMINS = erin, \\',
      '   #1005',
      'Cmnd_Alias SHUTDOWN = /sbin/shutdown',
      'root ALL=(ALL:ALL) ALL',
      '%ops ALL=(ALL) NOPASSWD: ALL',
      'ADMINS ALL=(root) SHUTDOWN',
      'ALL ALL=(ALL) /usr/bin/id',
      '!frank ALL=(ALL) ALL',
      '@includedir /etc/sudoers.d',
    ].join('\n');
    const found = parseDiscovery(output(sudoers, 'bob'));
    assert.ok(Array.isArray(found));
    const byName = Object.fromEntries(found.map((account) => [account.username, account.reasons]));
    assert.deepEqual(byName, {
      alice: ['member of sudo'],
      bob: ['has authorized_keys'],
      carol: ['sudoers entry (%ops)'],
      dave: ['sudoers entry (%ops)'],
      erin: ['sudoers entry'],
      frank: ['sudoers entry (#1005)'],
      root: ['uid 0', 'sudoers entry'],
      toor: ['uid 0'],
    });
  });

  it('reports output cut short instead of a partial list', () => {
    const cut = output('').split('\n').slice(0, -1).join('\n');
    assert.equal(typeof parseDiscovery(cut), 'string');
  });
});

describe('SSH keys', () => {
  it('generates Ed25519 keys whose fingerprint matches ssh-keygen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-fp-'));
    try {
      const privateKey = generateSshPrivateKey('fp-test');
      assert.match(privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
      const line = publicKeyLine(privateKey);
      await writeFile(join(dir, 'id.pub'), `${line}\n`);
      const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-f', join(dir, 'id.pub')], {
        env: ENV,
      });
      const parsed = parsePublicKeyLine(line);
      assert.ok(typeof parsed !== 'string');
      assert.equal(stdout.split(' ')[1], sshFingerprint(parsed.blob));
      assert.equal(managedKeyLine(privateKey, 'deploy'), `${line} tessera-managed:deploy`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('generates only keys that read back, though ssh2 writes one in 256 short a byte', () => {
    // ssh2 (1.17) drops the leading zero byte of such an Ed25519 key and cannot parse it again:
    // a rotation would have installed a key no one could use, and CI once met one here.
    const unreadable: number[] = [];
    for (let i = 0; i < 3000; i += 1) {
      const key = generateSshPrivateKey(`k${i}`);
      if (typeof parsePrivateKey(key) === 'string') unreadable.push(i);
    }
    assert.deepEqual(unreadable, []);
  });

  it('refuses public key lines that are not what they claim', () => {
    const ed = publicKeyLine(generateSshPrivateKey('x')).split(' ')[1];
    const ecdsa = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).public;
    assert.equal(typeof parsePublicKeyLine(ecdsa), 'object');
    for (const bad of [
      `ssh-rsa ${ed}`,
      `ssh-ed25519 ${ed}\nssh-ed25519 ${ed}`,
      'ssh-ed25519 AAAA',
      `ssh-dss ${ed}`,
      generateSshPrivateKey('p'),
      '',
    ]) {
      assert.equal(typeof parsePublicKeyLine(bad), 'string', bad.slice(0, 30));
    }
  });
});
