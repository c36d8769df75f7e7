import type { Store, Tx } from '../store/store.ts';

/**
 * The user's row as it is now, held for the rest of the transaction. A sign-in issuing a token
 * and every change that revokes the user's sign-ins (a new password, a confirmed second factor,
 * disabling) take it first, so they run one after the other: otherwise a sign-in checked before
 * the change could write its token just after the revocation, and keep it. PostgreSQL locks the
 * row; SQLite runs one transaction at a time already.
 */
export function lockUser(store: Pick<Store, 'dialect'>, trx: Tx, userId: string) {
  const query = trx.selectFrom('users').selectAll().where('id', '=', userId);
  return (store.dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
}
