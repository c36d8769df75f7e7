import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Queryable, Store } from '../store/store.ts';
import { isRole, type Principal } from './principal.ts';

/**
 * Bearer tokens: 256 random bits, shown once, stored only as a SHA-256 digest. A lookup by
 * digest reveals nothing through timing: a guess's digest is unrelated to any stored one.
 */
export interface TokenService {
  issue(
    db: Queryable,
    input: { userId: string; kind: string; ttlMs: number | null; token?: string },
  ): Promise<{ id: string; token: string; expiresAt: number | null }>;
  authenticate(token: string): Promise<Principal | null>;
  revoke(db: Queryable, tokenId: string): Promise<boolean>;
  /**
   * Revokes every live token of the user, except `keep` (the caller's own, when it is theirs);
   * with `kind`, only the tokens of that kind (`login`, leaving a root token an operator holds).
   */
  revokeAllOf(db: Queryable, userId: string, keep?: string, kind?: string): Promise<void>;
  /**
   * Forgets what this node cached of the user's tokens (all of them, with no user: after a
   * token's revocation). Called once a revoking transaction has committed: `revoke` and
   * `revokeAllOf` forget inside it, and a request in between still reads the token as live.
   */
  forgetCached(userId?: string): void;
  /**
   * Whether the token is still unrevoked, unexpired and its user enabled, asked of the store
   * itself: a long-lived stream checks its bearer with it, past this node's cache.
   */
  isLive(tokenId: string): Promise<boolean>;
}

const TOKEN_PREFIX = 'tsr_';
/** How long a node trusts a cached token before asking the store again (revoked elsewhere). */
const CACHE_TTL_MS = 2_000;
const CACHE_MAX = 10_000;

interface CachedPrincipal {
  readonly principal: Principal;
  readonly expiresAt: number | null;
  readonly checkedAt: number;
}

export function createTokenService(deps: { store: Store; clock: Clock }): TokenService {
  const { store, clock } = deps;
  const cache = new Map<string, CachedPrincipal>();
  /** Counts the times anything was forgotten, so that a lookup under way can tell. */
  let forgetting = 0;

  const lookup = async (digest: string): Promise<CachedPrincipal | null> => {
    const row = await store.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select([
        'tokens.id as tokenId',
        'tokens.expires_at as expiresAt',
        'tokens.revoked_at as revokedAt',
        'users.id as userId',
        'users.name as name',
        'users.role as role',
        'users.disabled as disabled',
      ])
      .where('tokens.token_hash', '=', digest)
      .executeTakeFirst();
    if (row === undefined || row.revokedAt !== null || row.disabled !== 0 || !isRole(row.role)) {
      return null;
    }
    const principal = { userId: row.userId, name: row.name, role: row.role, tokenId: row.tokenId };
    return { principal, expiresAt: row.expiresAt, checkedAt: clock.now() };
  };

  return {
    async issue(db, { userId, kind, ttlMs, token }) {
      const value = token ?? TOKEN_PREFIX + randomBytes(32).toString('base64url');
      const id = randomUUID();
      const now = clock.now();
      const expiresAt = ttlMs === null ? null : now + ttlMs;
      await db
        .insertInto('tokens')
        .values({
          id,
          token_hash: digestOf(value),
          user_id: userId,
          kind,
          created_at: now,
          expires_at: expiresAt,
          revoked_at: null,
        })
        .execute();
      return { id, token: value, expiresAt };
    },

    async authenticate(token) {
      if (token.length === 0 || token.length > 256) return null;
      const digest = digestOf(token);
      const now = clock.now();
      let entry = cache.get(digest);
      if (entry === undefined || now - entry.checkedAt > CACHE_TTL_MS) {
        const before = forgetting;
        const fresh = await lookup(digest);
        if (fresh === null) {
          cache.delete(digest);
          return null;
        }
        // Something was forgotten while this lookup ran: what it read may be from before a
        // revocation, so it answers this request only and is not kept.
        if (forgetting !== before) return fresh.principal;
        if (cache.size >= CACHE_MAX) cache.clear();
        cache.set(digest, fresh);
        entry = fresh;
      }
      if (entry.expiresAt !== null && entry.expiresAt <= now) return null;
      return entry.principal;
    },

    async revoke(db, tokenId) {
      const result = await db
        .updateTable('tokens')
        .set({ revoked_at: clock.now() })
        .where('id', '=', tokenId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      forget((p) => p.tokenId === tokenId);
      return result.numUpdatedRows > 0n;
    },

    async revokeAllOf(db, userId, keep, kind) {
      let query = db
        .updateTable('tokens')
        .set({ revoked_at: clock.now() })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null);
      if (keep !== undefined) query = query.where('id', '!=', keep);
      if (kind !== undefined) query = query.where('kind', '=', kind);
      await query.execute();
      // The cache does not know kinds: a token of another kind is only looked up again.
      forget((p) => p.userId === userId && p.tokenId !== keep);
    },

    forgetCached(userId) {
      if (userId === undefined) {
        forgetting += 1;
        cache.clear();
      } else forget((p) => p.userId === userId);
    },

    async isLive(tokenId) {
      const row = await store.db
        .selectFrom('tokens')
        .innerJoin('users', 'users.id', 'tokens.user_id')
        .select([
          'tokens.expires_at as expiresAt',
          'tokens.revoked_at as revokedAt',
          'users.disabled as disabled',
        ])
        .where('tokens.id', '=', tokenId)
        .executeTakeFirst();
      if (row === undefined || row.revokedAt !== null || row.disabled !== 0) return false;
      return row.expiresAt === null || row.expiresAt > clock.now();
    },
  };

  function forget(match: (principal: Principal) => boolean): void {
    forgetting += 1;
    for (const [digest, entry] of cache) if (match(entry.principal)) cache.delete(digest);
  }
}

export function digestOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
