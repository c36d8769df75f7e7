import type { Client } from 'ssh2';
import type { AccessDecision } from '../access/access-decision.ts';
import type { Account } from '../accounts/account.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { SecretVersions } from '../accounts/secret-versions.ts';
import type { Target, TargetService } from '../accounts/targets.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { isTesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Store } from '../store/store.ts';
import type { AgentRelay } from './agent-forwarding.ts';
import type { GatewayUser } from './authenticate.ts';
import { type AccountCheckDeps, accountVerdict } from './connect-check.ts';
import { parseLoginName } from './login-name.ts';
import { GatewayRefusal } from './refusal.ts';
import type { SessionPolicy, SessionPolicyService } from './session-policy.ts';
import { connectTarget, type TargetCredential } from './target-link.ts';

/** Platforms whose targets the gateway reaches over SSH. */
export const SSH_PLATFORMS: ReadonlySet<string> = new Set(['linux']);

/** An authorised connection to a target, logged in with the account's secret. */
export interface Link {
  readonly account: Account;
  readonly target: Target;
  readonly policy: SessionPolicy;
  readonly client: Client;
}

export interface LinkDeps extends AccountCheckDeps {
  readonly store: Store;
  readonly access: AccessDecision;
  readonly accounts: Pick<AccountService, 'find'>;
  readonly targets: Pick<TargetService, 'byId'>;
  readonly versions: Pick<SecretVersions, 'read' | 'pending'>;
  readonly sessionPolicies: Pick<SessionPolicyService, 'forPolicy'>;
  readonly audit: AuditLog;
}

/**
 * Decides whether the user may connect to the account named by the login, then logs in to the
 * target with the account's secret. Every refusal is audited and thrown as a GatewayRefusal;
 * the user's terminal shows only its message.
 */
export async function openLink(
  deps: LinkDeps,
  user: GatewayUser,
  login: string,
  context: { connectionId: string; source: string | null; agent: AgentRelay },
): Promise<Link> {
  const refused = async (refusal: GatewayRefusal, account: Account | null, internal?: string) => {
    await deps.audit.record({
      action: 'session.refuse',
      outcome: refusal.outcome,
      actor: { id: user.id, name: user.name },
      object: {
        type: 'account',
        id: account?.id ?? null,
        name: account?.ref ?? login.slice(0, 300),
      },
      source: context.source,
      details: {
        why: internal ?? refusal.why,
        detail: refusal.detail,
        connection: context.connectionId,
      },
    });
    return refusal;
  };

  const account = await findAccount(deps, login);
  if (account === null)
    throw await refused(new GatewayRefusal('not-allowed'), null, 'unknown-account');
  const principal: Principal = {
    userId: user.id,
    name: user.name,
    role: user.role,
    tokenId: `ssh:${context.connectionId}`,
  };
  const verdict = await accountVerdict(deps, principal, account);
  if (verdict === 'no-permission')
    throw await refused(new GatewayRefusal('not-allowed'), account, verdict);
  if (verdict !== null) throw await refused(new GatewayRefusal(verdict), account, verdict);

  try {
    const target = await deps.targets.byId(account.targetId);
    if (!SSH_PLATFORMS.has(target.platform)) throw new GatewayRefusal('not-ssh-target');
    const hostKey = target.options.hostKey;
    if (typeof hostKey !== 'string') throw new GatewayRefusal('host-key-missing');
    const policy = await deps.sessionPolicies.forPolicy(account.policyId);
    const endpoint = { host: target.host, port: target.port, hostKey };
    const client = await connectWithSecret(deps, account, endpoint, context.agent);
    // A link whose start cannot be audited is not used, nor left open.
    await deps.audit
      .record({
        action: 'account.connect',
        outcome: 'success',
        actor: { id: user.id, name: user.name },
        object: { type: 'account', id: account.id, name: account.ref },
        source: context.source,
        details: { connection: context.connectionId, method: user.method },
      })
      .catch((error: unknown) => {
        client.end();
        throw error;
      });
    return { account, target, policy, client };
  } catch (error) {
    throw await refused(asRefusal(error), account);
  }
}

async function findAccount(deps: LinkDeps, login: string): Promise<Account | null> {
  const name = parseLoginName(login);
  if (name === null) return null;
  try {
    return await deps.accounts.find({ target: name.target, username: name.account });
  } catch (error) {
    if (isTesseraError(error) && error.code === 'NOT_FOUND') return null;
    throw error;
  }
}

/**
 * Logs in with the current version; while a rotation is under way the target may already hold
 * the pending one, so that is tried next when the current one is refused.
 */
async function connectWithSecret(
  deps: LinkDeps,
  account: Account,
  endpoint: { host: string; port: number; hostKey: string },
  agent: AgentRelay,
): Promise<Client> {
  if (account.currentVersion === null) throw new GatewayRefusal('no-secret');
  const pending = await deps.versions.pending(deps.store.db, account.id);
  const versions = pending === null ? [account.currentVersion] : [account.currentVersion, pending];
  let last: GatewayRefusal = new GatewayRefusal('no-secret');
  for (const version of versions) {
    const secret = await deps.versions.read(
      { accountId: account.id, safeId: account.safeId },
      version,
    );
    const credential: TargetCredential = {
      username: account.username,
      kind: account.secretType,
      secret,
    };
    try {
      return await connectTarget(endpoint, credential, agent);
    } catch (error) {
      last = asRefusal(error);
      if (last.why !== 'target-auth-failed') throw last;
    } finally {
      secret.fill(0);
    }
  }
  throw last;
}

function asRefusal(error: unknown): GatewayRefusal {
  if (error instanceof GatewayRefusal) return error;
  if (isTesseraError(error)) {
    if (error.code === 'VAULT_SEALED') return new GatewayRefusal('vault-sealed');
    if (error.code === 'AUDIT_UNAVAILABLE') return new GatewayRefusal('audit-unavailable');
    if (error.code === 'INTEGRITY_FAILURE') return new GatewayRefusal('no-secret', 'integrity');
  }
  throw error;
}
