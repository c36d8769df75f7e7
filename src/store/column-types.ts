import type { ColumnDataType } from 'kysely';

/** Column types that differ between the two stores, so one migration serves both. */
export interface ColumnTypes {
  readonly binary: ColumnDataType;
  /** Milliseconds since the epoch, and other integers that outgrow 32 bits. */
  readonly time: ColumnDataType;
}

export const SQLITE_COLUMN_TYPES: ColumnTypes = { binary: 'blob', time: 'integer' };
export const POSTGRES_COLUMN_TYPES: ColumnTypes = { binary: 'bytea', time: 'bigint' };
