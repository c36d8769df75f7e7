import type { PolicyService } from '../accounts/policies.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import { TesseraError } from '../errors.ts';
import type { TokenService } from '../identity/tokens.ts';
import type { UserService } from '../identity/users.ts';
import type { Store } from '../store/store.ts';
import type { InitOptions, Keyring, SealStatus } from './keyring.ts';

export interface InitResult {
  readonly shares: string[];
  readonly threshold: number;
  /** A token of the built-in admin, shown once: use it to create users, then revoke it. */
  readonly rootToken: string;
}

/** Initialisation, unsealing and sealing, each audited. */
export interface OperatorService {
  status(): Promise<SealStatus>;
  initialize(ctx: RequestContext, options: InitOptions): Promise<InitResult>;
  unseal(ctx: RequestContext, share: string): Promise<SealStatus>;
  seal(ctx: RequestContext): Promise<void>;
  /** Creates what a new vault needs once its keys exist: the admin and the default policy. */
  bootstrap(adminPassword: string | null): Promise<void>;
}

export function createOperatorService(deps: {
  store: Store;
  keyring: Keyring;
  audit: AuditLog;
  users: UserService;
  tokens: TokenService;
  policies: PolicyService;
}): OperatorService {
  const { store, keyring, audit, users, tokens, policies } = deps;

  const bootstrap = async (adminPassword: string | null) => {
    await users.ensureBuiltinAdmin(adminPassword);
    await policies.ensureDefault();
  };

  return {
    status: () => keyring.status(),
    bootstrap,

    async initialize(ctx, options) {
      const { shares } = await keyring.initialize(options);
      await audit.record({
        action: 'operator.init',
        outcome: 'success',
        actor: ctx.actor,
        source: ctx.source,
        requestId: ctx.requestId,
        details: { shares: options.shares, threshold: options.threshold },
      });
      // The keyring is written; the vault starts sealed, but users and tokens need no keys.
      await bootstrap(null);
      const admin = await users.findByName('admin');
      if (admin === null) throw new TesseraError('INTERNAL', 'built-in admin missing after init');
      const root = await store.transaction(async (trx) => {
        const issued = await tokens.issue(trx, { userId: admin.id, kind: 'root', ttlMs: null });
        await audit.appendInTx(trx, [
          {
            action: 'auth.token.issue',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'token', id: issued.id, name: null },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { kind: 'root', user: admin.name },
          },
        ]);
        return issued;
      });
      await store.durable();
      return { shares, threshold: options.threshold, rootToken: root.token };
    },

    async unseal(ctx, share) {
      try {
        const status = await keyring.submitShare(share);
        await audit.record({
          action: status.sealed ? 'operator.unseal.share' : 'operator.unseal',
          outcome: 'success',
          actor: ctx.actor,
          source: ctx.source,
          requestId: ctx.requestId,
          details: { progress: status.progress, threshold: status.threshold },
        });
        return status;
      } catch (error) {
        if (error instanceof TesseraError) {
          await audit.record({
            action: 'operator.unseal.share',
            outcome: 'failure',
            actor: ctx.actor,
            source: ctx.source,
            requestId: ctx.requestId,
            details: { code: error.code },
          });
        }
        throw error;
      }
    },

    async seal(ctx) {
      await audit.record({
        action: 'operator.seal',
        outcome: 'success',
        actor: ctx.actor,
        source: ctx.source,
        requestId: ctx.requestId,
      });
      keyring.seal();
    },
  };
}
