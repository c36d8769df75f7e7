import type { Client } from 'ssh2';
import type { AccessDecision } from '../access/access-decision.ts';
import type { EphemeralLogin, EphemeralLogins } from '../access/ephemeral-logins.ts';
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
import {
  DEFAULT_SESSION_POLICY,
  type SessionPolicy,
  type SessionPolicyService,
} from './session-policy.ts';
import { connectTarget, type TargetCredential } from './target-link.ts';

/** Platforms whose targets the gateway reaches over SSH. */
export const SSH_PLATFORMS: ReadonlySet<string> = new Set(['linux']);

/** What a link logs in as: a vaulted account, or the ephemeral account of a grant. */
export interface LinkAccount {
  /** The account's id; for an ephemeral account, the id of its ephemeral account row. */
  readonly id: string;
  /** `TARGET/USERNAME`. */
  readonly ref: string;
  readonly username: string;
  /** The grant an ephemeral account lives and ends with; null for a vaulted account. */
  readonly ephemeralGrantId: string | null;
}

/** An authorised connection to a target, logged in with the account's secret. */
/** What deciding a link settles, before its target is reached. */
export interface LinkDecision {
  readonly account: LinkAccount;
  readonly target: Target;
  readonly policy: SessionPolicy;
}

export interface Link extends LinkDecision {
  readonly client: Client;
}

export interface LinkDeps extends AccountCheckDeps {
  readonly store: Store;
  readonly access: AccessDecision;
  readonly accounts: Pick<AccountService, 'find'>;
  readonly targets: Pick<TargetService, 'byId'>;
  readonly versions: Pick<SecretVersions, 'read' | 'pending'>;
  readonly sessionPolicies: Pick<SessionPolicyService, 'forPolicy'>;
  readonly ephemeral: Pick<EphemeralLogins, 'findLogin' | 'loginPassword'>;
  readonly audit: AuditLog;
}

type Endpoint = { host: string; port: number; hostKey: string };

/** Where a link goes and how it logs in, once the user's right to it is settled. */
interface LinkPlan {
  readonly account: LinkAccount;
  readonly targetId: string;
  /** Whose session policy applies; null for the defaults. */
  readonly policyId: string | null;
  /** Logs in once `auditUse()` resolves: the use of the secret is audited before it happens. */
  connect(endpoint: Endpoint, agent: AgentRelay, auditUse: () => Promise<void>): Promise<Client>;
}

type Refuse = (
  refusal: GatewayRefusal,
  account: LinkAccount | null,
  internal?: string,
) => Promise<GatewayRefusal>;

interface LinkContext {
  readonly connectionId: string;
  readonly source: string | null;
  readonly agent: AgentRelay;
  /**
   * Told once the user may use the account and its target and policy are known, before the
   * target is reached: what needs only the decision can go on while the target's login runs.
   */
  readonly decided: (decision: LinkDecision) => void;
}

/**
 * Decides whether the user may connect to the account named by the login, then logs in to the
 * target with the account's secret. Every refusal is audited and thrown as a GatewayRefusal;
 * the user's terminal shows only its message.
 *
 * A name Tessera generates for ephemeral accounts (`tsr_…@TARGET`) is first looked up among
 * the active ephemeral accounts of the user's own live grants, and logs in with that account's
 * password; one that is not theirs, or whose grant ended, is looked up as a vaulted account
 * like any other name, so it reads exactly like an unknown account.
 */
export async function openLink(
  deps: LinkDeps,
  user: GatewayUser,
  login: string,
  context: LinkContext,
): Promise<Link> {
  const refused: Refuse = async (refusal, account, internal) => {
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

  const ephemeral = await findEphemeral(deps, user, login);
  if (ephemeral !== null)
    return linkTo(deps, user, context, refused, ephemeralPlan(deps, ephemeral));

  const account = await findAccount(deps, login);
  if (account === null)
    throw await refused(new GatewayRefusal('not-allowed'), null, 'unknown-account');
  const principal: Principal = {
    userId: user.id,
    name: user.name,
    role: user.role,
    tokenId: `ssh:${context.connectionId}`,
  };
  const vaulted: LinkAccount = {
    id: account.id,
    ref: account.ref,
    username: account.username,
    ephemeralGrantId: null,
  };
  const verdict = await accountVerdict(deps, principal, account);
  if (verdict === 'no-permission')
    throw await refused(new GatewayRefusal('not-allowed'), vaulted, verdict);
  if (verdict !== null) throw await refused(new GatewayRefusal(verdict), vaulted, verdict);

  return linkTo(deps, user, context, refused, {
    account: vaulted,
    targetId: account.targetId,
    policyId: account.policyId,
    connect: (endpoint, agent, auditUse) =>
      connectWithSecret(deps, account, endpoint, agent, auditUse),
  });
}

/** Reaches the target of an authorised plan and logs in; audits the start. */
async function linkTo(
  deps: LinkDeps,
  user: GatewayUser,
  context: LinkContext,
  refused: Refuse,
  plan: LinkPlan,
): Promise<Link> {
  const { account } = plan;
  try {
    const target = await deps.targets.byId(plan.targetId);
    if (!SSH_PLATFORMS.has(target.platform)) throw new GatewayRefusal('not-ssh-target');
    const hostKey = target.options.hostKey;
    if (typeof hostKey !== 'string') throw new GatewayRefusal('host-key-missing');
    const policy =
      plan.policyId === null
        ? DEFAULT_SESSION_POLICY
        : await deps.sessionPolicies.forPolicy(plan.policyId);
    context.decided({ account, target, policy });
    const endpoint = { host: target.host, port: target.port, hostKey };
    const grant = account.ephemeralGrantId;
    let audited: Promise<void> | null = null;
    // Written once, as the gateway sets out to log in with the secret (connectTarget calls it
    // when the connection is under way): on disk before the target sees the login, while the
    // key exchange goes ahead. A use that cannot be audited does not happen.
    const auditUse = () => {
      if (audited !== null) return audited;
      audited = deps.audit.record({
        action: 'account.connect',
        outcome: 'success',
        actor: { id: user.id, name: user.name },
        object: {
          type: grant === null ? 'account' : 'ephemeral-account',
          id: account.id,
          name: account.ref,
        },
        source: context.source,
        details: {
          connection: context.connectionId,
          method: user.method,
          ...(grant === null ? {} : { grant }),
        },
      });
      // Its failure is handled where the login waits for it, which may come later.
      audited.catch(() => undefined);
      return audited;
    };
    const client = await plan.connect(endpoint, context.agent, auditUse);
    // Already on disk (the login waited for it); said again here so that no link is ever used
    // without it, whatever the target did.
    await auditUse().catch((error: unknown) => {
      client.end();
      throw error;
    });
    return { account, target, policy, client };
  } catch (error) {
    throw await refused(asRefusal(error), account);
  }
}

/** The user's own ephemeral account named by the login, while its grant holds; else null. */
async function findEphemeral(
  deps: LinkDeps,
  user: GatewayUser,
  login: string,
): Promise<EphemeralLogin | null> {
  const name = parseLoginName(login);
  if (name === null) return null;
  return deps.ephemeral.findLogin(user.id, name.target, name.account);
}

function ephemeralPlan(deps: LinkDeps, ephemeral: EphemeralLogin): LinkPlan {
  return {
    account: {
      id: ephemeral.id,
      ref: `${ephemeral.target}/${ephemeral.username}`,
      username: ephemeral.username,
      ephemeralGrantId: ephemeral.grantId,
    },
    targetId: ephemeral.targetId,
    policyId: ephemeral.policyId,
    connect: (endpoint, agent, auditUse) =>
      connectEphemeral(deps, ephemeral, endpoint, agent, auditUse),
  };
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
  endpoint: Endpoint,
  agent: AgentRelay,
  auditUse: () => Promise<void>,
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
      return await connectTarget(endpoint, credential, agent, auditUse);
    } catch (error) {
      last = asRefusal(error);
      if (last.why !== 'target-auth-failed') throw last;
    } finally {
      secret.fill(0);
    }
  }
  throw last;
}

/** Logs in with the ephemeral account's password, opened for this login only. */
async function connectEphemeral(
  deps: LinkDeps,
  ephemeral: EphemeralLogin,
  endpoint: Endpoint,
  agent: AgentRelay,
  auditUse: () => Promise<void>,
): Promise<Client> {
  const secret = await deps.ephemeral.loginPassword(ephemeral.id);
  // Dropped since it was found: its grant has just ended.
  if (secret === null) throw new GatewayRefusal('not-allowed', 'ephemeral account dropped');
  try {
    return await connectTarget(
      endpoint,
      { username: ephemeral.username, kind: 'password', secret },
      agent,
      auditUse,
    );
  } finally {
    secret.fill(0);
  }
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
