/**
 * Tessera's side of the mixed rotation benchmark, through its HTTP API only: targets, a policy,
 * the managed accounts (each with its target's reconcile account), bulk runs and reveals.
 *
 * The reconcile accounts sit in a safe of their own and each run is scoped to the managed safe:
 * a run over every account would also rotate the reconcile accounts, while the other rotations
 * of their target log on with them.
 */
import { randomBytes } from 'node:crypto';
import { type Api, inPool } from './api.ts';
import type { Fleet } from './mixed-fleet.ts';

export const MANAGED_SAFE = 'mixed';
export const RECONCILE_SAFE = 'mixed-rec';
export const POLICY = 'mixed';
const READER = 'mixed-reader';
/** Onboarding calls in flight: each waits for its own durable write, so many share one flush. */
const ONBOARD_CONCURRENCY = 32;
const POLL_MS = 100;
const RUN_TIMEOUT_MS = 30 * 60_000;

export interface RunView {
  readonly id: string;
  readonly state: 'running' | 'finished' | 'failed';
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly failures: readonly { readonly account: string; readonly error: string }[];
}

/** Policy, safes, targets and reconcile accounts; the managed accounts come with `onboard`. */
export async function prepareTessera(
  api: Api,
  fleets: readonly Fleet[],
  maxPerTarget: number,
): Promise<void> {
  // Default secret rules; no schedule, so only the bulk runs rotate. No exclusive check-out, so
  // a reveal needs no check-out.
  await api.call('PUT', `/v1/policies/${POLICY}`, {
    body: { maxPerTarget, exclusiveCheckout: false },
  });
  for (const name of [MANAGED_SAFE, RECONCILE_SAFE]) {
    await api.call('POST', '/v1/safes', { body: { name } });
  }
  for (const fleet of fleets) {
    await api.call('POST', '/v1/targets', { body: fleet.target });
    await api.call('POST', `/v1/targets/${fleet.target.name}/accounts`, {
      body: {
        username: fleet.reconcile.username,
        safe: RECONCILE_SAFE,
        policy: POLICY,
        secret: fleet.reconcile.password,
      },
    });
  }
}

/** Onboards each fleet's accounts from `from[platform]` on, with their current passwords. */
export async function onboard(
  api: Api,
  fleets: readonly Fleet[],
  from: ReadonlyMap<string, number> = new Map(),
): Promise<void> {
  const work = fleets.flatMap((fleet) =>
    fleet.accounts.slice(from.get(fleet.platform) ?? 0).map((account) => ({ fleet, account })),
  );
  await inPool(work, ONBOARD_CONCURRENCY, ({ fleet, account }) =>
    api.call('POST', `/v1/targets/${fleet.target.name}/accounts`, {
      body: {
        username: account.username,
        safe: MANAGED_SAFE,
        policy: POLICY,
        secret: account.password,
        reconcileAccount: `${fleet.target.name}/${fleet.reconcile.username}`,
      },
    }),
  );
}

/** Starts a bulk run over the managed safe; answers at once. */
export function startRun(api: Api): Promise<{ id: string; total: number }> {
  return api.call('POST', '/v1/rotation/runs', { body: { safe: MANAGED_SAFE } });
}

export function getRun(api: Api, id: string): Promise<RunView> {
  return api.call('GET', `/v1/rotation/runs/${id}`);
}

/** Polls a run until `done` says so (by default: until it is no longer running). */
export async function waitForRun(
  api: Api,
  id: string,
  done: (run: RunView) => boolean = (run) => run.state !== 'running',
): Promise<RunView> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const run = await getRun(api, id);
    if (done(run)) return run;
    if (Date.now() > deadline) throw new Error(`rotation run ${id} still running after timeout`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A user allowed to reveal in both safes, logged in: for checking the vault against targets. */
export async function readerToken(api: Api): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  await api.call('POST', '/v1/users', { body: { name: READER, role: 'user', password } });
  for (const safe of [MANAGED_SAFE, RECONCILE_SAFE]) {
    await api.call('PUT', `/v1/safes/${safe}/members/${READER}`, {
      body: { permissions: ['list', 'retrieve'] },
    });
  }
  const login = await api.call<{ token: string }>('POST', '/v1/auth/login', {
    body: { user: READER, password },
  });
  return login.token;
}

/** The vault's current value of one account. */
export async function reveal(
  api: Api,
  token: string,
  target: string,
  username: string,
): Promise<string> {
  const path = `/v1/targets/${target}/accounts/${encodeURIComponent(username)}/reveal`;
  const body = { reason: 'rotation benchmark: compare the vault with the target' };
  const answer = await api.call<{ value: string }>('POST', path, { body, token });
  return answer.value;
}
