import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import type { Target } from '../api-types.ts';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  formatTime,
  printFields,
  printJson,
  printLine,
  printTable,
  printWarning,
  yesNo,
} from '../output.ts';
import { integerBetween } from '../parse.ts';

/** The server's sslmode values (src/accounts/targets.ts); choices make a typo a usage error. */
const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
/** The server's limit on a root certificate bundle; a bigger file is the wrong file. */
const MAX_CERT_FILE_BYTES = 32 * 1024;

/** The options a target reports: the root certificate only as "set or not". */
interface TargetOptions {
  readonly sslmode?: string;
  readonly sslrootcertSet?: boolean;
  readonly allowMd5Auth?: boolean;
  readonly [other: string]: string | number | boolean | null | undefined;
}

/** Options the CLI names itself; any other is shown as the server reports it. */
const KNOWN_OPTIONS = new Set(['sslmode', 'sslrootcertSet', 'allowMd5Auth']);
/** An option's name as `--option NAME=VALUE` takes it. */
const OPTION_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const URL_SCHEMES: Readonly<Record<string, { scheme: string; port: number }>> = {
  'ldap:': { scheme: 'ldap', port: 389 },
  'ldaps:': { scheme: 'ldaps', port: 636 },
};

type TargetWithOptions = Target & { readonly options?: TargetOptions };

interface AddOptions {
  readonly platform: string;
  readonly host?: string;
  readonly port?: number;
  readonly url?: string;
  readonly database?: string;
  readonly sslmode?: string;
  readonly sslRootCert?: string;
  readonly allowMd5?: boolean;
  readonly hostKey?: string;
  readonly baseDn?: string;
  readonly privilegedGroup?: string[];
  readonly option?: Record<string, string | number | boolean>;
}

/** `false` comes from a `--no-` flag: back to the default. */
interface SetOptions {
  readonly host?: string;
  readonly port?: number;
  readonly database?: string | false;
  readonly sslmode?: string;
  readonly sslRootCert?: string | false;
  readonly allowMd5?: boolean;
}

const ADD_HELP = `
Platforms: postgresql, mariadb, linux (over SSH), ldap.
Production targets should be reached over verified TLS:
  tessera target add db01 --platform postgresql --host db01.internal --port 5432 \\
    --sslmode verify-full --ssl-root-cert ca.pem
  tessera target add mdb01 --platform mariadb --host mdb01.internal --port 3306
  tessera target add web01 --platform linux --host web01.internal --port 22
      (the host key is read now and pinned; give --host-key to pin a known one)
  tessera target add dir01 --platform ldap --url ldap://dir01.internal:389 \\
    --base-dn dc=example,dc=org --privileged-group cn=admins,ou=groups,dc=example,dc=org
Without --sslmode, sessions with the target are not encrypted (sslmode disable).`;

const SET_HELP = `
Examples:
  tessera target set db01 --sslmode verify-full --ssl-root-cert ca.pem
  tessera target set db01 --port 6432 --no-allow-md5   # changes only what is named`;

const targetPath = (name: string) => `/v1/targets/${encodeURIComponent(name)}`;

export function registerTarget(program: Command, io: Io): void {
  const target = program.command('target').description('targets: the systems accounts live on');

  target
    .command('add')
    .description('add a target')
    .argument('<name>', 'the new target name')
    .requiredOption('--platform <platform>', 'the kind of system, e.g. postgresql')
    .option('--host <host>', 'its host name or address')
    .option('--port <port>', 'its port', integerBetween(1, 65_535))
    .option('--url <url>', 'ldap://HOST:PORT or ldaps://HOST:PORT, instead of --host and --port')
    .option('--database <name>', 'the database to connect to, where the platform has one')
    .addOption(sslModeOption())
    .option('--ssl-root-cert <file>', 'PEM file of the CA certificates to verify the target with')
    .option('--allow-md5', 'let the target ask for MD5 password logins (older servers)')
    .option('--host-key <line>', 'linux: the OpenSSH public host key to pin (default: read it now)')
    .option('--base-dn <dn>', 'ldap: the directory base under which accounts live')
    .option('--privileged-group <dn>', 'ldap: a group whose members discovery lists', collect, [])
    .option('--option <name=value>', 'any other platform option (repeatable)', optionPair, {})
    .addHelpText('after', ADD_HELP)
    .action(async (name: string, options: AddOptions, command: Command) => {
      await add(sessionOf(command, io), name, options);
    });

  target
    .command('set')
    .description('change the address or options of a target; only what is named changes')
    .argument('<name>', 'the target')
    .option('--host <host>', 'its host name or address')
    .option('--port <port>', 'its port', integerBetween(1, 65_535))
    .option('--database <name>', 'the database to connect to')
    .option('--no-database', "back to the platform's default database")
    .addOption(sslModeOption())
    .option('--ssl-root-cert <file>', 'PEM file of the CA certificates to verify the target with')
    .option('--no-ssl-root-cert', "remove the root certificates (verify against Node's public CAs)")
    .option('--allow-md5', 'let the target ask for MD5 password logins')
    .option('--no-allow-md5', 'refuse MD5 password logins again')
    .addHelpText('after', SET_HELP)
    .action(async (name: string, options: SetOptions, command: Command) => {
      await set(sessionOf(command, io), name, options);
    });

  target
    .command('list')
    .description('list targets')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session
        .api()
        .request<{ targets: TargetWithOptions[] }>('GET', '/v1/targets');
      if (session.json) return printJson(session, reply);
      const rows = reply.targets.map((t) => [
        t.name,
        t.platform,
        address(t),
        t.database ?? '-',
        t.options?.sslmode ?? '-',
      ]);
      const headers = ['NAME', 'PLATFORM', 'ADDRESS', 'DATABASE', 'SSLMODE'];
      printTable(session, headers, rows, 'No targets.');
    });

  target
    .command('show')
    .description('show a target')
    .argument('<name>', 'the target')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const found = await session.api().request<TargetWithOptions>('GET', targetPath(name));
      if (session.json) return printJson(session, found);
      printTarget(session, found);
    });
}

function sslModeOption(): Option {
  return new Option('--sslmode <mode>', 'TLS to the target (verify-full for production)').choices(
    SSL_MODES,
  );
}

async function add(session: Session, name: string, options: AddOptions): Promise<void> {
  const { platform, database, sslmode, sslRootCert, allowMd5, hostKey, baseDn } = options;
  const { host, port, scheme } = addressOf(options);
  const groups = options.privilegedGroup ?? [];
  const targetOptions = {
    ...options.option,
    ...(scheme === undefined ? {} : { scheme }),
    ...(sslmode === undefined ? {} : { sslmode }),
    ...(sslRootCert === undefined
      ? {}
      : { sslrootcert: await readCertificates(session, sslRootCert) }),
    ...(allowMd5 === true ? { allowMd5Auth: true } : {}),
    ...(hostKey === undefined ? {} : { hostKey }),
    ...(baseDn === undefined ? {} : { baseDn }),
    ...(groups.length === 0 ? {} : { privilegedGroups: groups }),
  };
  const body = {
    name,
    platform,
    host,
    port,
    ...(database === undefined ? {} : { database }),
    ...(Object.keys(targetOptions).length === 0 ? {} : { options: targetOptions }),
  };
  const created = await session.api().request<TargetWithOptions>('POST', '/v1/targets', { body });
  warnIfInClear(session, created);
  if (session.json) return printJson(session, created);
  printLine(session, `Added ${created.platform} target ${created.name} at ${address(created)}.`);
  const fingerprint = created.options?.hostKeyFingerprint;
  if (typeof fingerprint === 'string' && hostKey === undefined) {
    printLine(session, `Pinned the host key it presented: ${fingerprint}`);
    printLine(session, 'Check it against the server (ssh-keygen -lf /etc/ssh/ssh_host_*.pub).');
  }
}

/** Host and port from --host and --port, or from --url for directory targets. */
function addressOf(options: AddOptions): { host: string; port: number; scheme?: string } {
  if (options.url === undefined) {
    if (options.host === undefined || options.port === undefined) {
      throw usageError('give --host and --port (or --url for an ldap target)');
    }
    return { host: options.host, port: options.port };
  }
  if (options.host !== undefined || options.port !== undefined) {
    throw usageError('give either --url or --host and --port, not both');
  }
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw usageError(`--url: ${options.url} is not a URL`);
  }
  const known = URL_SCHEMES[url.protocol];
  if (known === undefined || url.pathname.length > 1 || url.username !== '') {
    throw usageError('--url: give ldap://HOST:PORT or ldaps://HOST:PORT, without path or user');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port === '' ? known.port : Number(url.port), scheme: known.scheme };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--option name=value`: true, false and whole numbers become JSON booleans and numbers. */
function optionPair(
  pair: string,
  previous: Record<string, string | number | boolean>,
): Record<string, string | number | boolean> {
  const equals = pair.indexOf('=');
  const name = equals < 0 ? pair : pair.slice(0, equals);
  if (equals < 0 || !OPTION_NAME.test(name)) {
    throw usageError(`--option: give NAME=VALUE, not ${pair.slice(0, 70)}`);
  }
  const text = pair.slice(equals + 1);
  const value =
    text === 'true'
      ? true
      : text === 'false'
        ? false
        : /^-?\d{1,9}$/.test(text)
          ? Number(text)
          : text;
  return { ...previous, [name]: value };
}

async function set(session: Session, name: string, options: SetOptions): Promise<void> {
  const body = await changeOf(session, options);
  if (Object.keys(body).length === 0) {
    throw usageError('nothing to change: give --host, --port, --database or a TLS option');
  }
  const updated = await session.api().request<TargetWithOptions>('PUT', targetPath(name), { body });
  warnIfInClear(session, updated);
  if (session.json) return printJson(session, updated);
  printLine(session, `Changed target ${updated.name}.`);
  printTarget(session, updated);
}

/** The PUT body: only the fields named; `null` resets a database or an option. */
async function changeOf(session: Session, options: SetOptions): Promise<Record<string, unknown>> {
  const { host, port, database, sslmode, sslRootCert, allowMd5 } = options;
  const rootCert =
    typeof sslRootCert === 'string' ? await readCertificates(session, sslRootCert) : sslRootCert;
  const targetOptions = {
    ...(sslmode === undefined ? {} : { sslmode }),
    ...(rootCert === undefined ? {} : { sslrootcert: rootCert === false ? null : rootCert }),
    ...(allowMd5 === undefined ? {} : { allowMd5Auth: allowMd5 }),
  };
  return {
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(database === undefined ? {} : { database: database === false ? null : database }),
    ...(Object.keys(targetOptions).length === 0 ? {} : { options: targetOptions }),
  };
}

/** Reads a PEM file for `--ssl-root-cert`; the server checks that it holds certificates. */
async function readCertificates(session: Session, file: string): Promise<string> {
  const fullPath = path.resolve(session.cwd, file);
  const { size } = await reading(file, stat(fullPath));
  if (size > MAX_CERT_FILE_BYTES) {
    throw usageError(`--ssl-root-cert: ${file} is larger than ${MAX_CERT_FILE_BYTES} bytes`);
  }
  return reading(file, readFile(fullPath, 'utf8'));
}

async function reading<T>(file: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'failed';
    throw usageError(`--ssl-root-cert: cannot read ${file} (${code})`);
  }
}

/** The default sends logins in clear: said at every add and change, not only in the README. */
function warnIfInClear(session: Session, target: TargetWithOptions): void {
  // SSH targets are always encrypted; the others report their TLS mode.
  if (target.options?.sslmode !== 'disable' || target.options.scheme === 'ldaps') return;
  printWarning(
    session,
    `sessions with ${target.name} are not encrypted (sslmode disable); ` +
      'production targets should use --sslmode verify-full',
  );
}

function printTarget(session: Session, found: TargetWithOptions): void {
  const options = found.options ?? {};
  const fields: Array<readonly [string, string]> = [
    ['Target', found.name],
    ['Platform', found.platform],
    ['Host', found.host],
    ['Port', String(found.port)],
    ['Database', found.database ?? '-'],
  ];
  if (options.sslmode !== undefined) fields.push(['SSL mode', options.sslmode]);
  if (options.sslrootcertSet !== undefined)
    fields.push(['Root certificate', rootCertText(options)]);
  if (options.allowMd5Auth !== undefined) fields.push(['MD5 logins', yesNo(options.allowMd5Auth)]);
  for (const [key, value] of Object.entries(options)) {
    if (KNOWN_OPTIONS.has(key) || value === undefined) continue;
    fields.push([key, value === null ? '-' : String(value)]);
  }
  fields.push(['Created', formatTime(found.createdAt)]);
  printFields(session, fields);
}

function rootCertText(options: TargetOptions): string {
  if (options.sslrootcertSet === true) return 'set';
  // Only the verify modes check a certificate; without one they trust Node's public CA list.
  return options.sslmode?.startsWith('verify-') ? 'none (public CAs)' : '-';
}

function address(target: Target): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}
