import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { SshKey, SshKeyChallenge } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  clean,
  formatTime,
  printJson,
  printLine,
  printNote,
  printTable,
  relativeTime,
} from '../output.ts';
import { signerFor } from './ssh-key-sign.ts';

interface KeyOptions {
  /** Another user's keys: administrators only. */
  readonly user?: string;
}

/** An authorized_keys file of a busy person is a few kilobytes; this is the wrong file. */
const MAX_FILE_BYTES = 256 * 1024;
/** The API's limit on one key line (src/gateway/user-keys.ts). */
const MAX_KEY_LINE = 16 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ADD_HELP = `
The file holds OpenSSH public key lines (id_ed25519.pub, or several, as in authorized_keys);
"-" reads them from stdin, e.g. ssh-add -L | tessera user key add -
A private key is refused before anything is sent.

Your own keys need proof that you hold them: for each key, ssh-keygen -Y sign signs a challenge
from the server, with the private key beside the .pub file (asking for its passphrase) or,
failing that, with the key in ssh-agent. Nothing is signed for --user, which admins vouch for.`;

/** Adds `key add/list/remove` to the `user` command; called once that command is registered. */
export function registerUserKey(program: Command, io: Io): void {
  const user = program.commands.find((c) => c.name() === 'user');
  if (user === undefined) throw new Error('register the user command before its keys');
  const key = user
    .command('key')
    .description("public keys for the SSH gateway: your own, or (admins) anyone's");
  const userOption = ['--user <name>', "another user's keys (admins only)"] as const;

  key
    .command('add')
    .description('register public keys to log in to the SSH gateway with')
    .argument('<file>', 'a .pub file, or - for stdin')
    .option(...userOption)
    .addHelpText('after', ADD_HELP)
    .action(async (file: string, options: KeyOptions, command: Command) => {
      await add(sessionOf(command, io), file, options);
    });

  key
    .command('list')
    .description('list registered public keys')
    .option(...userOption)
    .action(async (options: KeyOptions, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  key
    .command('remove')
    .description('remove a public key: the gateway no longer lets it in')
    .argument('<key>', "the key's ID, or its fingerprint (SHA256:...)")
    .option(...userOption)
    .action(async (ref: string, options: KeyOptions, command: Command) => {
      await remove(sessionOf(command, io), ref, options);
    });
}

async function add(session: Session, file: string, options: KeyOptions): Promise<void> {
  const lines = keyLines(await readKeyText(session, file), file);
  const added: SshKey[] = [];
  for (const line of lines) {
    added.push(
      options.user === undefined
        ? await addOwn(session, file, line, lines.length)
        : await session.api().request<SshKey>('POST', keysPath(options), {
            body: { publicKey: line },
          }),
    );
  }
  if (session.json) return printJson(session, { keys: added });
  for (const k of added) {
    const comment = k.comment === '' ? '' : ` (${k.comment})`;
    printLine(session, clean(`Added ${k.type} ${k.fingerprint}${comment} as ${k.id}.`));
  }
  printNote(session, 'Connect with: tessera ssh ACCOUNT@TARGET');
}

/** One of the caller's own keys: a challenge from the server, signed with the key, sent back. */
async function addOwn(session: Session, file: string, line: string, count: number) {
  const api = session.api();
  const issued = await api.request<SshKeyChallenge>('POST', '/v1/users/me/ssh-keys/challenge', {
    body: { publicKey: line },
  });
  const signer = await signerFor(session, file, line, count);
  try {
    if (session.interactive) printNote(session, "Signing the server's challenge with ssh-keygen.");
    const signature = await signer.sign(issued.challenge, issued.namespace);
    return await api.request<SshKey>('POST', '/v1/users/me/ssh-keys', {
      body: { publicKey: line, challenge: issued.challenge, signature },
    });
  } finally {
    await signer.close();
  }
}

async function list(session: Session, options: KeyOptions): Promise<void> {
  const reply = await session.api().request<{ keys: SshKey[] }>('GET', keysPath(options));
  if (session.json) return printJson(session, reply);
  const rows = reply.keys.map((k) => [
    k.id,
    k.type,
    k.fingerprint,
    k.comment === '' ? '-' : k.comment,
    formatTime(k.createdAt),
    k.lastUsedAt === null ? 'never' : relativeTime(k.lastUsedAt, session.now()),
  ]);
  printTable(
    session,
    ['ID', 'TYPE', 'FINGERPRINT', 'COMMENT', 'ADDED', 'LAST USED'],
    rows,
    'No keys: add one with tessera user key add ~/.ssh/id_ed25519.pub',
  );
}

async function remove(session: Session, ref: string, options: KeyOptions): Promise<void> {
  const id = UUID.test(ref) ? ref : await idOfFingerprint(session, ref, options);
  await session.api().request('DELETE', `${keysPath(options)}/${encodeURIComponent(id)}`);
  if (session.json) return printJson(session, {});
  printLine(session, `Removed key ${id}.`);
}

/** The keys of the caller, or of the user named with --user. */
function keysPath(options: KeyOptions): string {
  if (options.user === undefined) return '/v1/users/me/ssh-keys';
  return `/v1/users/${encodeURIComponent(options.user)}/ssh-keys`;
}

async function idOfFingerprint(session: Session, ref: string, options: KeyOptions) {
  if (!ref.startsWith('SHA256:')) {
    throw usageError(
      'name the key by its ID or its SHA256:... fingerprint (tessera user key list)',
    );
  }
  const reply = await session.api().request<{ keys: SshKey[] }>('GET', keysPath(options));
  const found = reply.keys.find((k) => k.fingerprint === ref);
  if (found === undefined)
    throw new CliError('NOT_FOUND', 'no registered key has that fingerprint');
  return found.id;
}

async function readKeyText(session: Session, file: string): Promise<string> {
  if (file === '-') {
    if (session.stdinIsTerminal) throw usageError('pipe the public key in, or name its file');
    return decode(await readAll(session.stdin), 'stdin');
  }
  const full = path.resolve(session.cwd, file);
  const info = await stat(full).catch(() => null);
  if (info === null || !info.isFile()) throw usageError(`${clean(file)} is not a readable file`);
  if (info.size > MAX_FILE_BYTES) throw usageError(`${clean(file)} is too large for public keys`);
  return decode(await readFile(full), clean(file));
}

/**
 * The key lines of the text, without blank and comment lines. A private key is refused without
 * quoting it: sending it anywhere would defeat the point of a key.
 */
function keyLines(text: string, file: string): string[] {
  if (/PRIVATE KEY-----/.test(text)) {
    const hint = file === '-' ? '' : `: give ${clean(file)}.pub instead`;
    throw usageError(`that is a private key, which never leaves this machine${hint}`);
  }
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.length === 0) throw usageError('no public key found');
  if (lines.some((line) => line.length > MAX_KEY_LINE)) {
    throw usageError(`a key line is longer than ${MAX_KEY_LINE} characters`);
  }
  return lines;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_FILE_BYTES) throw usageError('stdin is too large for public keys');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function decode(bytes: Buffer, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw usageError(`${what} is not UTF-8 text`);
  }
}
