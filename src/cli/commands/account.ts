import { type Command, Option } from 'commander';
import { type AccountRef, accountPath, parseAccountRef, refText } from '../account-ref.ts';
import type {
  Account,
  CheckinReply,
  CheckoutReply,
  RotateReply,
  SecretVersion,
  VerifyReply,
} from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { ROTATE_TIMEOUT_MS } from '../client.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { readSecret } from '../input.ts';
import {
  clean,
  formatTime,
  formatWhen,
  printFields,
  printJson,
  printLine,
  printNote,
  printTable,
  printWarning,
  relativeTime,
  yesNo,
} from '../output.ts';
import { parseDuration } from '../parse.ts';

interface AddOptions {
  readonly safe: string;
  readonly policy?: string;
  readonly secretStdin?: boolean;
  readonly secretType?: string;
  readonly reconcileAccount?: string;
  readonly withoutSecret?: boolean;
}

/** An action on one account: `(session, ref)`, with the account named as TARGET/USERNAME. */
type RefAction = (session: Session, ref: AccountRef) => Promise<void>;

const ADD_HELP = `
Examples:
  tessera account add db1/app --safe prod --secret-stdin < app-password.txt
  tessera account add web01/root --safe prod --reconcile-account web01/tessera-rec
  tessera account add web01/deploy --safe prod --secret-type ssh-key --secret-stdin < id_ed25519
With a reconcile account, rotations log in as that account (sudo on Linux, an admin bind on
LDAP) instead of as the account itself.`;

export function registerAccount(program: Command, io: Io): void {
  const account = program
    .command('account')
    .description('accounts: credentials on targets, kept in safes and governed by a policy');
  const onRef = (action: RefAction) => async (ref: string, _options: unknown, command: Command) =>
    action(sessionOf(command, io), parseAccountRef(ref));

  account
    .command('add')
    .description('onboard an account with its current secret (from stdin or a hidden prompt)')
    .argument('<account>', 'TARGET/USERNAME')
    .requiredOption('--safe <safe>', 'the safe to keep it in')
    .option('--policy <name>', 'the policy to follow (default: default)')
    .option('--secret-stdin', 'read the secret from stdin; one trailing newline is dropped')
    .addOption(
      new Option('--secret-type <type>', 'password, or ssh-key: an OpenSSH private key')
        .choices(['password', 'ssh-key'])
        .default('password'),
    )
    .option('--reconcile-account <account>', 'TARGET/USERNAME that changes this account')
    .option('--without-secret', 'the secret is unknown: the reconcile account sets a new one')
    .addHelpText('after', ADD_HELP)
    .action(async (ref: string, options: AddOptions, command: Command) => {
      await add(sessionOf(command, io), parseAccountRef(ref), options);
    });

  account
    .command('list')
    .description('list the accounts you may see')
    .option('--safe <safe>', 'only those in this safe')
    .option('--target <target>', 'only those on this target')
    .action(async (options: { safe?: string; target?: string }, command: Command) => {
      await list(sessionOf(command, io), options);
    });

  account
    .command('show')
    .description('show an account')
    .argument('<account>', 'TARGET/USERNAME')
    .action(onRef(show));
  account
    .command('verify')
    .description('log in to the target with the stored secret; exits 1 when it does not work')
    .argument('<account>', 'TARGET/USERNAME')
    .action(onRef(verify));
  account
    .command('rotate')
    .description('set a new generated secret on the target now, and verify it')
    .argument('<account>', 'TARGET/USERNAME')
    .action(onRef(rotate));
  account
    .command('reconcile')
    .description('repair: set a new secret through the reconcile account, and verify it')
    .argument('<account>', 'TARGET/USERNAME')
    .action(onRef(reconcile));
  account
    .command('set')
    .description("change an account's settings")
    .argument('<account>', 'TARGET/USERNAME')
    .option('--reconcile-account <account>', 'TARGET/USERNAME that changes this account')
    .option('--no-reconcile-account', 'the account changes its own secret again')
    .action(
      async (ref: string, options: { reconcileAccount?: string | false }, command: Command) => {
        await setAccount(sessionOf(command, io), parseAccountRef(ref), options);
      },
    );
  account
    .command('history')
    .description("list the secret's versions (never their values)")
    .argument('<account>', 'TARGET/USERNAME')
    .action(onRef(history));

  account
    .command('checkout')
    .description('check the account out: prints the secret on stdout, the expiry on stderr')
    .argument('<account>', 'TARGET/USERNAME')
    .requiredOption('--reason <text>', 'why you need it (audited)')
    .option('--for <duration>', 'how long, e.g. 30m (default and limit: the policy)', parseDuration)
    .action(async (ref: string, options: { reason: string; for?: number }, command: Command) => {
      await checkout(sessionOf(command, io), parseAccountRef(ref), options);
    });
  account
    .command('checkin')
    .description('check the account in (and, by policy, rotate its secret)')
    .argument('<account>', 'TARGET/USERNAME')
    .action(onRef(checkin));
}

async function add(session: Session, ref: AccountRef, options: AddOptions) {
  if (options.withoutSecret === true && options.reconcileAccount === undefined) {
    throw usageError('--without-secret needs --reconcile-account, which sets the first secret');
  }
  const secret =
    options.withoutSecret === true
      ? undefined
      : await readSecret(session, {
          what: 'secret',
          fromStdin: options.secretStdin === true,
          flag: '--secret-stdin',
        });
  const { safe, policy, secretType, reconcileAccount } = options;
  const body = {
    username: ref.username,
    safe,
    ...(secret === undefined ? {} : { secret }),
    ...(policy === undefined ? {} : { policy }),
    ...(secretType === undefined ? {} : { secretType }),
    ...(reconcileAccount === undefined ? {} : { reconcileAccount }),
  };
  const path = `/v1/targets/${encodeURIComponent(ref.target)}/accounts`;
  const created = await session.api().request<Account>('POST', path, { body });
  if (session.json) return printJson(session, created);
  printLine(session, `Added ${created.ref} to safe ${created.safe} (policy ${created.policy}).`);
}

async function list(session: Session, filter: { safe?: string; target?: string }) {
  const reply = await session
    .api()
    .request<{ accounts: Account[] }>('GET', '/v1/accounts', { query: filter });
  if (session.json) return printJson(session, reply);
  const now = session.now();
  const rows = reply.accounts.map((a) => [
    a.ref,
    a.safe,
    a.policy,
    a.state,
    a.currentVersion === null ? '-' : String(a.currentVersion),
    a.checkout === null
      ? '-'
      : `${a.checkout.holder}, ends ${relativeTime(a.checkout.expiresAt, now)}`,
    a.nextRotationAt === null ? '-' : relativeTime(a.nextRotationAt, now),
  ]);
  const headers = ['ACCOUNT', 'SAFE', 'POLICY', 'STATE', 'VERSION', 'CHECKED OUT', 'NEXT ROTATION'];
  printTable(session, headers, rows, 'No accounts.');
}

async function show(session: Session, ref: AccountRef) {
  const a = await session.api().request<Account>('GET', accountPath(ref));
  if (session.json) return printJson(session, a);
  const now = session.now();
  const checkout =
    a.checkout === null
      ? 'no'
      : `by ${a.checkout.holder}, ends ${formatWhen(a.checkout.expiresAt, now)}`;
  printFields(session, [
    ['Account', a.ref],
    ['Safe', a.safe],
    ['Policy', a.policy],
    ['State', a.state],
    ['Version', a.currentVersion === null ? '-' : String(a.currentVersion)],
    ['Last verified', `${formatWhen(a.lastVerifiedAt, now)} ${a.lastVerifyResult ?? ''}`.trim()],
    ['Last rotated', formatWhen(a.lastRotatedAt, now)],
    ['Rotation error', a.lastRotationError ?? '-'],
    ['Next rotation', formatWhen(a.nextRotationAt, now)],
    ['Needs rotation', yesNo(a.needsRotation)],
    ['Rotating now', yesNo(a.rotating)],
    ['Checked out', checkout],
    ['Created', formatTime(a.createdAt)],
  ]);
}

async function verify(session: Session, ref: AccountRef) {
  // The connector's own timeouts bound a verify; it gets the same allowance as a rotation.
  const reply = await session.api().request<VerifyReply>('POST', accountPath(ref, '/verify'), {
    timeoutMs: ROTATE_TIMEOUT_MS,
  });
  const verdict = verdictOf(reply);
  if (session.json) printJson(session, reply);
  else printLine(session, verdict.line);
  if (verdict.error !== undefined) {
    throw new CliError(verdict.error.code, `${refText(ref)}: ${verdict.error.message}`);
  }
}

interface Verdict {
  readonly line: string;
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * The API's detail is `valid`, `invalid: REASON` (the target refused the secret) or
 * `unreachable: REASON` (no answer on the secret at all), after rotation-engine.ts.
 */
function verdictOf(reply: VerifyReply): Verdict {
  if (reply.valid) return { line: 'valid: the stored secret logs in' };
  const unreachable = /^unreachable: /.exec(reply.detail);
  if (unreachable !== null) {
    const reason = clean(reply.detail.slice(unreachable[0].length));
    return {
      line: `could not check: ${reason}`,
      error: { code: 'TARGET_UNREACHABLE', message: 'the secret could not be checked' },
    };
  }
  const reason = clean(reply.detail.replace(/^invalid: /, ''));
  return {
    line: `invalid: the stored secret was refused; ${reason}`,
    error: { code: 'VERIFY_FAILED', message: 'the stored secret does not log in' },
  };
}

async function rotate(session: Session, ref: AccountRef) {
  const reply = await session.api().request<RotateReply>('POST', accountPath(ref, '/rotate'), {
    timeoutMs: ROTATE_TIMEOUT_MS,
  });
  if (session.json) return printJson(session, reply);
  const attempts = reply.attempts === 1 ? '1 attempt' : `${reply.attempts} attempts`;
  printLine(session, `Rotated and verified: now version ${reply.version} (${attempts}).`);
}

async function reconcile(session: Session, ref: AccountRef) {
  const reply = await session.api().request<RotateReply>('POST', accountPath(ref, '/reconcile'), {
    timeoutMs: ROTATE_TIMEOUT_MS,
  });
  if (session.json) return printJson(session, reply);
  printLine(session, `Reconciled and verified: now version ${reply.version}.`);
}

async function setAccount(
  session: Session,
  ref: AccountRef,
  options: { reconcileAccount?: string | false },
) {
  if (options.reconcileAccount === undefined) {
    throw usageError('nothing to change: give --reconcile-account or --no-reconcile-account');
  }
  const body = {
    reconcileAccount: options.reconcileAccount === false ? null : options.reconcileAccount,
  };
  const updated = await session
    .api()
    .request<Account>('PUT', accountPath(ref, '/reconcile-account'), { body });
  if (session.json) return printJson(session, updated);
  printLine(
    session,
    options.reconcileAccount === false
      ? `${updated.ref} changes its own secret.`
      : `${updated.ref} is changed through ${options.reconcileAccount}.`,
  );
}

async function history(session: Session, ref: AccountRef) {
  const reply = await session
    .api()
    .request<{ versions: SecretVersion[] }>('GET', accountPath(ref, '/versions'));
  if (session.json) return printJson(session, reply);
  const rows = reply.versions.map((v) => [
    String(v.version),
    v.status,
    v.origin,
    v.createdBy,
    formatTime(v.createdAt),
    formatTime(v.promotedAt),
  ]);
  const headers = ['VERSION', 'STATUS', 'ORIGIN', 'BY', 'CREATED', 'PROMOTED'];
  printTable(session, headers, rows, 'No versions.');
}

async function checkout(
  session: Session,
  ref: AccountRef,
  options: { reason: string; for?: number },
) {
  const body = {
    reason: options.reason,
    ...(options.for === undefined ? {} : { durationS: options.for }),
  };
  const reply = await session
    .api()
    .request<CheckoutReply>('POST', accountPath(ref, '/checkout'), { body });
  if (session.json) return printJson(session, reply);
  // The secret alone on stdout, so that it can be captured; everything else on stderr.
  session.stdout.write(`${reply.value}\n`);
  const kind = reply.exclusive ? 'Checked out' : 'Checked out (shared)';
  const expires = relativeTime(reply.expiresAt, session.now());
  printNote(session, `${kind} ${refText(ref)}, version ${reply.version}; expires ${expires}.`);
  printNote(session, `Check it in when done: tessera account checkin ${refText(ref)}`);
}

async function checkin(session: Session, ref: AccountRef) {
  const reply = await session.api().request<CheckinReply>('POST', accountPath(ref, '/checkin'));
  if (session.json) return printJson(session, reply);
  printLine(session, `Checked in ${refText(ref)}.`);
  if (reply.rotated) printLine(session, 'The secret was rotated.');
  if (reply.rotationError !== null) {
    printWarning(session, `rotation after check-in failed: ${clean(reply.rotationError)}`);
    printNote(session, 'Nobody can check it out until a rotation is verified.');
  }
}
