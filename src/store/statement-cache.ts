import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept prepared; Tessera issues a few hundred at most. */
const MAX_STATEMENTS = 1_000;

/**
 * Keeps each SQL text prepared once. Kysely's SQLite driver prepares every query anew, which
 * costs more than running it. Reuse is safe because Kysely runs statements one at a time on
 * the one connection and Tessera never streams (an iterating statement could not be shared).
 */
export function withStatementCache(database: SqliteDatabase): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      const cached = statements.get(sql);
      if (cached !== undefined) return cached;
      if (statements.size >= MAX_STATEMENTS) statements.clear();
      const statement = database.prepare(sql);
      statements.set(sql, statement);
      return statement;
    },
  };
}
