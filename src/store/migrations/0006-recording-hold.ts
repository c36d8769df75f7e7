import type { Kysely } from 'kysely';
import type { ColumnTypes } from '../column-types.ts';

/**
 * Whether a session's output is held while its recording catches up (at most 250 ms at a time).
 * Existing policies keep holding, as they did before the setting existed.
 */
export async function up(db: Kysely<unknown>, _types: ColumnTypes): Promise<void> {
  await db.schema
    .alterTable('session_policies')
    .addColumn('hold_for_recording', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}
