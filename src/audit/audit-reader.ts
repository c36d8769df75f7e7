import type { AuditEventTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import { type ChainAnchor, type ChainReport, verifyChain } from './verify-chain.ts';

export interface AuditFilter {
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  readonly actor?: string | undefined;
  readonly action?: string | undefined;
  readonly object?: string | undefined;
  /** Events after this sequence number (paging). */
  readonly after?: number | undefined;
  readonly limit: number;
}

export interface AuditReader {
  list(filter: AuditFilter): Promise<AuditEventTable[]>;
  /**
   * Checks the chain as it stands. It signs nothing first: a tail that was tampered with must
   * not receive a fresh signature from the very check meant to find it.
   */
  verify(anchors?: readonly ChainAnchor[]): Promise<ChainReport>;
}

export function createAuditReader(deps: { store: Store; keyring: Keyring }): AuditReader {
  const { store, keyring } = deps;
  return {
    async list(filter) {
      let query = store.db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('seq')
        .limit(filter.limit);
      if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
      if (filter.until !== undefined) query = query.where('at', '<', filter.until);
      if (filter.actor !== undefined) query = query.where('actor_name', '=', filter.actor);
      if (filter.action !== undefined) {
        const prefix = filter.action;
        query = query.where((eb) =>
          eb(eb.fn('substr', ['action', eb.val(1), eb.val(prefix.length)]), '=', prefix),
        );
      }
      const { object } = filter;
      // By name (db1/app) or by id: a session's events name its account, and only its id
      // tells one session of that account from another.
      if (object !== undefined) {
        query = query.where((eb) =>
          eb.or([eb('object_name', '=', object), eb('object_id', '=', object)]),
        );
      }
      if (filter.after !== undefined) query = query.where('seq', '>', filter.after);
      return query.execute();
    },

    async verify(anchors = []) {
      const { signingPublicKey } = keyring.keys();
      return verifyChain(store, signingPublicKey, anchors);
    },
  };
}
