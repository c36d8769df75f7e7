import type { Command } from 'commander';
import { usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import {
  clean,
  formatTime,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
} from '../output.ts';

/** The API's view of a target's configuration (src/http/routes/ephemeral-routes.ts). */
interface EphemeralConfig {
  readonly target: string;
  readonly adminAccount: string;
  readonly roles: readonly string[];
  readonly updatedAt: string;
}

interface EphemeralAccount {
  readonly id: string;
  readonly grantId: string;
  readonly target: string;
  readonly username: string;
  readonly role: string;
  readonly state: string;
  readonly revealedAt: string | null;
  readonly createdAt: string;
  readonly droppedAt: string | null;
  readonly lastError: string | null;
}

interface EphemeralCredential {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string | null;
}

interface ListOptions {
  readonly target?: string;
  readonly state?: string;
  readonly grant?: string;
}

const STATES = ['creating', 'active', 'dropped', 'failed'];

const CONFIG_HELP = `
The admin account creates and drops the accounts; it must be an account on the target.
Examples:
  tessera ephemeral config db01 --admin-account db01/tessera_admin --roles app_read,app_write
  tessera ephemeral config mdb01 --admin-account eph_admin --roles reporting`;

const CREDENTIAL_HELP = `
Shown once, to the user the grant was given to, while the grant holds. Example:
  tessera ephemeral credential 0f5c...   # then: psql -h HOST -p PORT -U USERNAME`;

export function registerEphemeral(program: Command, io: Io): void {
  const ephemeral = program
    .command('ephemeral')
    .description('zero standing privilege: accounts made on a target for one grant');

  ephemeral
    .command('config')
    .description('set which account creates ephemeral accounts on a target, and their roles')
    .argument('<target>', 'the target')
    .requiredOption('--admin-account <account>', 'TARGET/USERNAME, or a user name on the target')
    .requiredOption('--roles <roles>', 'the roles a grant may ask for, comma-separated')
    .addHelpText('after', CONFIG_HELP)
    .action(async (target: string, options: { adminAccount: string; roles: string }, command) => {
      const session = sessionOf(command, io);
      const body = { adminAccount: options.adminAccount, roles: parseRoles(options.roles) };
      const reply = await session
        .api()
        .request<EphemeralConfig>('PUT', configPath(target), { body });
      printConfig(session, reply);
    });

  ephemeral
    .command('show')
    .description("show a target's ephemeral account configuration")
    .argument('<target>', 'the target')
    .action(async (target: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      printConfig(session, await session.api().request<EphemeralConfig>('GET', configPath(target)));
    });

  ephemeral
    .command('list')
    .description('list ephemeral accounts, newest first (never their passwords)')
    .option('--target <target>', 'only those on this target')
    .option('--state <state>', `only those in this state: ${STATES.join(', ')}`)
    .option('--grant <id>', 'only those of this grant')
    .action(async (options: ListOptions, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  ephemeral
    .command('credential')
    .description("print your grant's ephemeral account and its password, once")
    .argument('<grant>', 'the grant id')
    .addHelpText('after', CREDENTIAL_HELP)
    .action(async (grant: string, _options: unknown, command: Command) => {
      await credential(sessionOf(command, io), grant);
    });
}

function configPath(target: string): string {
  return `/v1/targets/${encodeURIComponent(target)}/ephemeral`;
}

function parseRoles(text: string): string[] {
  const roles = text
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role.length > 0);
  if (roles.length === 0) throw usageError('--roles names no role');
  return roles;
}

function printConfig(session: Session, config: EphemeralConfig): void {
  if (session.json) {
    printJson(session, config);
    return;
  }
  printFields(session, [
    ['target', config.target],
    ['admin account', config.adminAccount],
    ['roles', config.roles.join(', ')],
    ['updated', formatTime(config.updatedAt)],
  ]);
}

async function list(session: Session, options: ListOptions): Promise<void> {
  if (options.state !== undefined && !STATES.includes(options.state)) {
    throw usageError(`--state is one of ${STATES.join(', ')}`);
  }
  const query = { target: options.target, state: options.state, grant: options.grant };
  const reply = await session
    .api()
    .request<{ accounts: EphemeralAccount[] }>('GET', '/v1/ephemeral-accounts', { query });
  if (session.json) return printJson(session, reply);
  const rows = reply.accounts.map((a) => [
    a.target,
    a.username,
    a.role,
    a.state,
    a.grantId,
    formatTime(a.createdAt),
    a.revealedAt === null ? 'no' : 'yes',
    formatTime(a.droppedAt),
    a.lastError ?? '',
  ]);
  const headers = ['TARGET', 'USERNAME', 'ROLE', 'STATE', 'GRANT', 'CREATED', 'REVEALED'];
  printTable(session, [...headers, 'DROPPED', 'LAST ERROR'], rows, 'No ephemeral accounts.');
}

async function credential(session: Session, grant: string): Promise<void> {
  const path = `/v1/grants/${encodeURIComponent(grant)}/credential`;
  const reply = await session.api().request<EphemeralCredential>('POST', path, { body: {} });
  if (session.json) return printJson(session, reply);
  printLine(session, `username: ${clean(reply.username)}`);
  // The password exactly as the target holds it: never cleaned, never cut.
  session.stdout.write(`password: ${reply.password}\n`);
  printLine(session, `host: ${clean(reply.host)}`);
  printLine(session, `port: ${reply.port}`);
  if (reply.database !== null) printLine(session, `database: ${clean(reply.database)}`);
  printNote(session, 'Shown only this once; the account is dropped when the grant ends.');
}
