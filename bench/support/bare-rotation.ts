/**
 * The baseline of the mixed rotation benchmark: what rotating the same accounts costs with no
 * Tessera around it. For each account, the same connector calls the engine makes (a change
 * through the reconcile account, then a fresh login with the new value), with passwords from the
 * same generator and rules, under the same concurrency limits (the node's slots: 16 in all, the
 * policy's maxPerTarget per target), in the same order. No vault, audit, lease or store.
 */
import type { PolicySettings } from '../../src/accounts/policies.ts';
import type { Connector, TargetAddress } from '../../src/connectors/connector.ts';
import { generateSecret, type SecretRules } from '../../src/rotation/password-generator.ts';
import { createRotationSlots } from '../../src/rotation/rotation-slots.ts';
import { type CpuUse, startCpuMeter } from './cpu-meter.ts';
import type { BenchAccount, Fleet, Platform } from './mixed-fleet.ts';

/** One account's rotation as either side reports it: when it ended, and how. */
export interface ItemOutcome {
  readonly platform: Platform;
  /** Milliseconds after the run started. */
  readonly finishedMs: number;
  readonly ok: boolean;
}

export interface RotationTiming {
  readonly seconds: number;
  readonly items: readonly ItemOutcome[];
  /** A few failure reasons, for the notes. */
  readonly errors: readonly string[];
  /** The CPU the benchmark's process (connectors, and Tessera when in-process) and all used. */
  readonly cpu: CpuUse;
}

interface Item {
  readonly fleet: Fleet;
  readonly address: TargetAddress;
  readonly connector: Connector;
  readonly rules: SecretRules;
  readonly account: BenchAccount;
}

const KEPT_ERRORS = 5;

/** Rotates every account of `fleets`; updates each account's password when it verified. */
export async function bareRotateAll(
  fleets: readonly Fleet[],
  connectors: ReadonlyMap<string, Connector>,
  policy: Pick<PolicySettings, 'secret' | 'maxPerTarget'>,
): Promise<RotationTiming> {
  const items = planItems(fleets, connectors, policy);
  const slots = createRotationSlots();
  const outcomes: ItemOutcome[] = [];
  const errors: string[] = [];
  const cpu = startCpuMeter();
  const started = performance.now();
  await Promise.all(
    items.map((item) =>
      slots.run(item.fleet.target.name, policy.maxPerTarget, async () => {
        const error = await rotateOne(item);
        if (error !== null && errors.length < KEPT_ERRORS) errors.push(error);
        const finishedMs = performance.now() - started;
        outcomes.push({ platform: item.fleet.platform, finishedMs, ok: error === null });
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, items: outcomes, errors, cpu: cpu() };
}

/** In the order a bulk run takes its accounts: by target name, then user name. */
function planItems(
  fleets: readonly Fleet[],
  connectors: ReadonlyMap<string, Connector>,
  policy: Pick<PolicySettings, 'secret'>,
): Item[] {
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...fleets]
    .sort((a, b) => byName(a.target.name, b.target.name))
    .flatMap((fleet) => {
      const connector = connectors.get(fleet.platform);
      if (connector === undefined) throw new Error(`no connector for ${fleet.platform}`);
      const address = connectorAddress(fleet, connector);
      const rules = platformRules(policy.secret, connector);
      return [...fleet.accounts]
        .sort((a, b) => byName(a.username, b.username))
        .map((account) => ({ fleet, address, connector, rules, account }));
    });
}

/** The target as the connector receives it from Tessera: options as the platform parsed them. */
export function connectorAddress(fleet: Fleet, connector: Connector): TargetAddress {
  return {
    name: fleet.target.name,
    host: fleet.target.host,
    port: fleet.target.port,
    database: fleet.target.database,
    options: connector.options.parse(fleet.target.options ?? {}),
  };
}

/** The policy's rules narrowed by the platform's, as the engine narrows them. */
function platformRules(secret: SecretRules, connector: Connector): SecretRules {
  return {
    ...secret,
    length: Math.min(secret.length, connector.secretRules.maxLength),
    exclude: secret.exclude + connector.secretRules.forbiddenCharacters,
  };
}

/** Change through the reconcile account, then log in with the new value; null when it worked. */
async function rotateOne(item: Item): Promise<string | null> {
  const { fleet, address, connector, account } = item;
  const candidate = generateSecret(item.rules);
  const changed = await connector.change(address, {
    account: account.username,
    secretKind: 'password',
    newSecret: candidate,
    currentSecret: account.password,
    via: 'reconcile',
    logon: { username: fleet.reconcile.username, secret: fleet.reconcile.password },
  });
  if (changed.kind !== 'applied') return `${fleet.platform} change: ${changed.reason}`;
  const login = await connector.verify(address, {
    username: account.username,
    secret: candidate,
    kind: 'password',
  });
  if (login.kind !== 'valid') return `${fleet.platform} login: ${login.reason}`;
  account.password = candidate;
  return null;
}
