import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import { isTesseraError, TesseraError } from '../errors.ts';
import type { MfaService } from './mfa.ts';
import type { LoginResult, SecondStepPassed, User, UserService } from './users.ts';

export interface SignInInput {
  readonly user: string;
  readonly password: string;
  /** A current code from the user's authenticator app; needed only with a confirmed factor. */
  readonly code?: string | undefined;
}

/**
 * Every sign-in with a password that ends in a token (the API's login, the console's session):
 * a user with a confirmed second factor needs a current code from it as well, or a token bought
 * with the password alone would register a key or open the console's terminal without a code.
 */
export interface PasswordSignIn {
  /**
   * The password is checked first, throttled and audited by the user service, and answers as
   * it always did when wrong, whatever code came with it. Only a right password leads to the
   * code: none is MFA_REQUIRED, a wrong or used one MFA_INVALID; nothing is issued either way.
   */
  signIn(ctx: Omit<RequestContext, 'actor'>, input: SignInInput): Promise<LoginResult>;
}

interface SignInDeps {
  readonly users: Pick<UserService, 'login'>;
  readonly mfa: Pick<MfaService, 'hasFactor' | 'verify'>;
  readonly audit: Pick<AuditLog, 'record'>;
}

export function createPasswordSignIn(deps: SignInDeps): PasswordSignIn {
  return {
    signIn(ctx, { user, password, code }) {
      return deps.users.login(ctx, user, password, (found) =>
        requireSecondFactor(deps, ctx, found, code),
      );
    },
  };
}

/**
 * Passes a user without a confirmed factor (an unconfirmed one proves nothing yet, and a code
 * sent anyway is ignored), as long as none is confirmed before the token is written; otherwise
 * uses up `code` through the factor's service, which throttles wrong codes, takes each code once
 * and audits `mfa.verify`.
 */
async function requireSecondFactor(
  deps: Pick<SignInDeps, 'mfa' | 'audit'>,
  ctx: Omit<RequestContext, 'actor'>,
  user: Pick<User, 'id' | 'name'>,
  code: string | undefined,
): Promise<SecondStepPassed> {
  const asUser = { ...ctx, actor: { id: user.id, name: user.name } };
  const codeRequired = async () => {
    await refused(deps, asUser, 'failure', 'code-required');
    return new TesseraError(
      'MFA_REQUIRED',
      'this user has a second factor: a current code from the authenticator app is needed too',
    );
  };
  if (!(await deps.mfa.hasFactor(user.id))) {
    // A factor confirmed meanwhile revoked every sign-in it could see: this one must not follow.
    return {
      stillHolds: async (trx) => !(await deps.mfa.hasFactor(user.id, trx)),
      lapsed: codeRequired,
    };
  }
  if (code === undefined) throw await codeRequired();

  try {
    await deps.mfa.verify(asUser, user.id, code);
  } catch (error) {
    if (isTesseraError(error)) {
      const throttled = error.code === 'RATE_LIMITED';
      await refused(deps, asUser, throttled ? 'denied' : 'failure', 'code-refused');
    }
    throw error;
  }
  // The code was right: a factor removed or reset meanwhile takes nothing from that.
  return { stillHolds: async () => true, lapsed: codeRequired };
}

/** The sign-in's own outcome, beside the factor's `mfa.verify` event; never with the code. */
function refused(
  deps: Pick<SignInDeps, 'audit'>,
  ctx: RequestContext,
  outcome: 'failure' | 'denied',
  why: 'code-required' | 'code-refused',
): Promise<void> {
  return deps.audit.record({
    action: 'auth.login',
    outcome,
    actor: ctx.actor,
    object: { type: 'user', id: ctx.actor.id, name: ctx.actor.name },
    source: ctx.source,
    requestId: ctx.requestId,
    details: { why },
  });
}
