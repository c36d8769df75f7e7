import { type Command, InvalidArgumentError } from 'commander';
import type { Policy, PolicySettings, SecretRules } from '../api-types.ts';
import { CliError, usageError } from '../cli-error.ts';
import { type Io, type Session, sessionOf } from '../context.ts';
import { formatDuration, printFields, printJson, printLine, printTable, yesNo } from '../output.ts';
import { integerBetween, parseDuration, parseDurationOrNone } from '../parse.ts';

/** The flags of `policy set`; each one given replaces that setting and nothing else. */
interface SetOptions {
  readonly rotateEvery?: number | null;
  readonly length?: number;
  readonly minLower?: number;
  readonly minUpper?: number;
  readonly minDigits?: number;
  readonly minSymbols?: number;
  readonly symbols?: string;
  readonly exclude?: string;
  readonly exclusiveCheckout?: boolean;
  readonly rotateOnCheckin?: boolean;
  readonly maxCheckout?: number;
  readonly at?: RotateAt | null;
  readonly jitter?: number;
  readonly maxPerTarget?: number;
  readonly rotateOnCheckoutExpiry?: boolean;
}

/** `--at "02:00 Europe/Paris"`: a time of day and the zone it is read in (null: UTC). */
interface RotateAt {
  readonly rotateAt: string;
  readonly timeZone: string | null;
}

const count = integerBetween(0, 256);
const policyPath = (name: string) => `/v1/policies/${encodeURIComponent(name)}`;

const SET_HELP = `
Examples:
  tessera policy set db --rotate-every 30d --length 24 --exclude '\\"'
  tessera policy set db --rotate-every 30d --at "02:00 Europe/Paris" --jitter 1h --max-per-target 4
  tessera policy set db --no-exclusive-checkout   # changes only that setting`;

export function registerPolicy(program: Command, io: Io): void {
  const policy = program
    .command('policy')
    .description('policies: rotation schedule, password rules and check-out rules of accounts');

  policy
    .command('set')
    .description('create a policy, or change only the settings named on an existing one')
    .argument('<name>', 'the policy')
    .option(
      '--rotate-every <duration>',
      'rotate on a schedule, e.g. 30d or 12h; none for never',
      parseDurationOrNone,
    )
    .option('--length <n>', 'generated password length (8-256)', integerBetween(8, 256))
    .option('--min-lower <n>', 'at least this many lower-case letters', count)
    .option('--min-upper <n>', 'at least this many upper-case letters', count)
    .option('--min-digits <n>', 'at least this many digits', count)
    .option('--min-symbols <n>', 'at least this many symbols', count)
    .option('--symbols <chars>', 'the symbols to draw from')
    .option('--exclude <chars>', 'characters never to generate')
    .option('--exclusive-checkout', 'one holder at a time, and no reveal while checked out')
    .option('--no-exclusive-checkout', 'let several users check the account out at once')
    .option('--rotate-on-checkin', 'rotate the password when it is checked in')
    .option('--no-rotate-on-checkin', 'keep the password at check-in')
    .option('--max-checkout <duration>', 'longest check-out, e.g. 8h', parseDuration)
    .option(
      '--at <time>',
      'scheduled rotations at this time of day, e.g. "02:00 Europe/Paris" (UTC when no zone is named); none for any time',
      parseAt,
    )
    .option(
      '--jitter <duration>',
      'spread scheduled rotations over this long after their time, e.g. 1h; none for no spread',
      parseJitter,
    )
    .option(
      '--max-per-target <n>',
      'at most this many rotations at once on one target (1-64)',
      integerBetween(1, 64),
    )
    .option('--rotate-on-checkout-expiry', 'rotate when a check-out reaches its longest duration')
    .option('--no-rotate-on-checkout-expiry', 'keep the secret when a check-out expires')
    .addHelpText('after', SET_HELP)
    .action(async (name: string, options: SetOptions, command: Command) => {
      await set(sessionOf(command, io), name, options);
    });

  policy
    .command('list')
    .description('list policies')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session.api().request<{ policies: Policy[] }>('GET', '/v1/policies');
      if (session.json) return printJson(session, reply);
      const rows = reply.policies.map((p) => [
        p.name,
        rotation(p),
        String(p.secret.length),
        yesNo(p.exclusiveCheckout),
        yesNo(p.rotateOnCheckin),
        formatDuration(p.maxCheckoutS),
      ]);
      const headers = [
        'NAME',
        'ROTATION',
        'LENGTH',
        'EXCLUSIVE',
        'ROTATE AT CHECK-IN',
        'MAX CHECKOUT',
      ];
      printTable(session, headers, rows, 'No policies.');
    });

  policy
    .command('show')
    .description('show a policy')
    .argument('<name>', 'the policy')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const found = await session.api().request<Policy>('GET', policyPath(name));
      if (session.json) return printJson(session, found);
      printPolicy(session, found);
    });
}

/**
 * The API replaces a whole policy, so the CLI reads the current one and changes only what was
 * named. Two admins changing the same policy at once can still overwrite each other: the API
 * has no conditional update yet.
 */
async function set(session: Session, name: string, options: SetOptions) {
  const existing = await findPolicy(session, name);
  const changes = changedSettings(options);
  const secret = changedSecretRules(options);
  if (existing !== null && Object.keys(changes).length + Object.keys(secret).length === 0) {
    throw usageError(`name at least one setting to change in policy ${name}`);
  }
  const body = {
    ...(existing === null ? {} : settingsOf(existing)),
    ...changes,
    secret: { ...existing?.secret, ...secret },
  };
  const saved = await session.api().request<Policy>('PUT', policyPath(name), { body });
  if (session.json) return printJson(session, saved);
  printLine(session, `${existing === null ? 'Created' : 'Updated'} policy ${saved.name}:`);
  printPolicy(session, saved);
}

async function findPolicy(session: Session, name: string): Promise<Policy | null> {
  try {
    return await session.api().request<Policy>('GET', policyPath(name));
  } catch (error) {
    if (error instanceof CliError && error.code === 'NOT_FOUND') return null;
    throw error;
  }
}

function settingsOf(policy: Policy): PolicySettings {
  return {
    rotationIntervalS: policy.rotationIntervalS,
    secret: policy.secret,
    exclusiveCheckout: policy.exclusiveCheckout,
    rotateOnCheckin: policy.rotateOnCheckin,
    maxCheckoutS: policy.maxCheckoutS,
    rotateAt: policy.rotateAt,
    timeZone: policy.timeZone,
    jitterS: policy.jitterS,
    maxPerTarget: policy.maxPerTarget,
    rotateOnCheckoutExpiry: policy.rotateOnCheckoutExpiry,
  };
}

function changedSettings(o: SetOptions): Partial<PolicySettings> {
  return definedOnly({
    rotationIntervalS: o.rotateEvery,
    exclusiveCheckout: o.exclusiveCheckout,
    rotateOnCheckin: o.rotateOnCheckin,
    maxCheckoutS: o.maxCheckout,
    // `--at none` clears the time and its zone together.
    rotateAt: o.at === undefined ? undefined : (o.at?.rotateAt ?? null),
    timeZone: o.at === undefined ? undefined : (o.at?.timeZone ?? null),
    jitterS: o.jitter,
    maxPerTarget: o.maxPerTarget,
    rotateOnCheckoutExpiry: o.rotateOnCheckoutExpiry,
  });
}

/** `HH:MM` with an optional zone name after a space, or `none`. */
function parseAt(text: string): RotateAt | null {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === 'none') return null;
  const match = /^(\d{1,2}):(\d{2})(?:\s+(\S+))?$/.exec(trimmed);
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (match === null || hour > 23 || minute > 59) {
    throw new InvalidArgumentError('use a time of day and a zone, e.g. "02:00 Europe/Paris"');
  }
  const rotateAt = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  // The server knows the zone database and refuses an unknown zone by name.
  return { rotateAt, timeZone: match[3] ?? null };
}

function parseJitter(text: string): number {
  return parseDurationOrNone(text) ?? 0;
}

function changedSecretRules(o: SetOptions): Partial<SecretRules> {
  return definedOnly({
    length: o.length,
    minLowercase: o.minLower,
    minUppercase: o.minUpper,
    minDigits: o.minDigits,
    minSymbols: o.minSymbols,
    symbols: o.symbols,
    exclude: o.exclude,
  });
}

/** Drops the settings not given; `null` (as in `--rotate-every none`) is a value and stays. */
function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function rotation(policy: PolicySettings): string {
  const every = policy.rotationIntervalS;
  if (every === null) return 'on demand';
  const at = policy.rotateAt === null ? '' : ` at ${policy.rotateAt} ${policy.timeZone ?? 'UTC'}`;
  const jitter = policy.jitterS > 0 ? ` (+ up to ${formatDuration(policy.jitterS)})` : '';
  return `every ${formatDuration(every)}${at}${jitter}`;
}

function printPolicy(session: Session, policy: Policy) {
  const s = policy.secret;
  const minimums = [
    `${s.minLowercase} lower`,
    `${s.minUppercase} upper`,
    `${s.minDigits} digits`,
    `${s.minSymbols} symbols`,
  ].join(', ');
  printFields(session, [
    ['Policy', policy.name],
    ['Rotation', rotation(policy)],
    ['Password length', String(s.length)],
    ['At least', minimums],
    ['Symbols', s.symbols === '' ? '(none)' : s.symbols],
    ['Never generate', s.exclude === '' ? '(none)' : s.exclude],
    ['Exclusive check-out', yesNo(policy.exclusiveCheckout)],
    ['Rotate at check-in', yesNo(policy.rotateOnCheckin)],
    ['Longest check-out', formatDuration(policy.maxCheckoutS)],
    ['Rotate at expiry', yesNo(policy.rotateOnCheckoutExpiry)],
    ['Rotations at once', `${policy.maxPerTarget} per target`],
  ]);
}
