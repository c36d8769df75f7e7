import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { ColumnTypes } from '../column-types.ts';
import * as core from './0001-core.ts';
import * as rotation from './0002-rotation.ts';
import * as gateway from './0003-gateway.ts';
import * as access from './0004-access.ts';
import * as sessionKill from './0005-session-kill.ts';
import * as recordingHold from './0006-recording-hold.ts';
import * as watchRelay from './0007-watch-relay.ts';

interface DialectMigration {
  up(db: Kysely<unknown>, types: ColumnTypes): Promise<void>;
}

/** The static, ordered list of migrations; one set serves SQLite and PostgreSQL. */
const MIGRATIONS: ReadonlyArray<readonly [string, DialectMigration]> = [
  ['0001-core', core],
  ['0002-rotation', rotation],
  ['0003-gateway', gateway],
  ['0004-access', access],
  ['0005-session-kill', sessionKill],
  ['0006-recording-hold', recordingHold],
  ['0007-watch-relay', watchRelay],
];

export function migrationsFor(types: ColumnTypes): Record<string, Migration> {
  const entries = MIGRATIONS.map(([name, migration]): [string, Migration] => [
    name,
    { up: (db) => migration.up(db, types) },
  ]);
  return Object.fromEntries(entries);
}
