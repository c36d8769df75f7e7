import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { POSTGRES_COLUMN_TYPES, SQLITE_COLUMN_TYPES } from './column-types.ts';
import { createGroupSync } from './group-sync.ts';
import { migrationsFor } from './migrations/index.ts';
import type { Database } from './schema.ts';
import { withStatementCache } from './statement-cache.ts';

export type StoreDialect = 'sqlite' | 'postgres';
export type Tx = Transaction<Database>;
export type Queryable = Kysely<Database> | Tx;

export interface Store {
  readonly dialect: StoreDialect;
  readonly db: Kysely<Database>;
  transaction<T>(work: (trx: Tx) => Promise<T>): Promise<T>;
  /**
   * Resolves once every transaction committed before the call is on disk. Callers that must not
   * acknowledge before durability (audit events, secret writes) await it after committing, so
   * concurrent callers share one flush.
   */
  durable(): Promise<void>;
  /** Serialises writers of the audit chain inside a transaction, across every node. */
  lockAuditChain(trx: Tx): Promise<void>;
  /**
   * Claims a node's id for this process while the store is open: refused while another process
   * holds it (a data dir copied whole, its node-id with it; the same data dir started twice).
   * On PostgreSQL a lock held by a connection set aside, which a crashed process lets go of
   * with its connection; on SQLite an exclusive lock on a file beside the store's.
   */
  claimNode(nodeId: string): Promise<NodeClaim>;
  /** Those of these node ids some process claims now; null where the store cannot tell. */
  claimedAmong(nodeIds: readonly string[]): Promise<ReadonlySet<string> | null>;
  close(): Promise<void>;
}

export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize?: number };

const BUSY_TIMEOUT_MS = 5_000;
const PG_CONNECT_TIMEOUT_MS = 5_000;
const PG_INT8_OID = 20;
/** Owner only: the store holds wrapped keys, password hashes and the audit trail. */
const PRIVATE_FILE_MODE = 0o600;
/** A driver's message is short; anything longer is cut before it reaches a terminal. */
const MAX_CAUSE_LENGTH = 300;
/** Key of the PostgreSQL advisory lock that orders the audit chain. */
const AUDIT_CHAIN_LOCK = 7_200_001;
/** The first key of the two-key advisory locks that claim node ids; the second is the id's. */
const NODE_LOCK_CLASS = 7_200_002;

/** The second key of a node id's claim: 32 bits of its digest. */
function nodeLockKey(nodeId: string): number {
  return createHash('sha256').update(nodeId).digest().readInt32BE(0);
}

export interface StoreOptions {
  /** Told of errors on idle PostgreSQL connections (a restarted server, a dropped link). */
  readonly onConnectionError?: (error: Error) => void;
  /** Told when the connection that holds this node's claim on its id is lost, and the claim. */
  readonly onClaimLost?: (error: Error) => void;
}

/** A node id claimed, or held by another process: on PostgreSQL, which backend and client. */
export type NodeClaim =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly holder: string | null };

export async function openStore(
  location: StoreLocation,
  options: StoreOptions = {},
): Promise<Store> {
  const store =
    location.kind === 'sqlite' ? openSqlite(location.file) : openPostgres(location, options);
  try {
    await migrate(store, location.kind === 'postgres' ? secretsOfUrl(location.url) : []);
  } catch (error) {
    await store.close().catch(() => {
      // The migration's error is the one to report; a failed close adds nothing to it.
    });
    throw error;
  }
  return store;
}

async function migrate(store: Store, secrets: readonly string[]): Promise<void> {
  const types = store.dialect === 'sqlite' ? SQLITE_COLUMN_TYPES : POSTGRES_COLUMN_TYPES;
  const migrations = migrationsFor(types);
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => migrations },
  });
  const { error } = await migrator.migrateToLatest();
  if (error === undefined) return;
  // The first query runs here, so a wrong host, database or password surfaces here too.
  const reason = describeCause(error, secrets);
  throw new Error(`database migration failed: ${reason}`, { cause: error });
}

/** The driver's message and code, never the connection URL or its password. */
function describeCause(error: unknown, secrets: readonly string[]): string {
  if (!(error instanceof Error)) return 'unknown error';
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  // A failed connect to several addresses is an AggregateError without a message.
  const text = error.message || code || error.name;
  const withCode = code !== undefined && !text.includes(code) ? `${text} (${code})` : text;
  const scrubbed = secrets.reduce((t, secret) => t.replaceAll(secret, '[redacted]'), withCode);
  return scrubbed.length > MAX_CAUSE_LENGTH ? `${scrubbed.slice(0, MAX_CAUSE_LENGTH)}…` : scrubbed;
}

/** The URL and its password as written and decoded, longest first so none is left in part. */
function secretsOfUrl(url: string): string[] {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    // Not a URL: only the text itself can be cut out.
  }
  const decoded = safeDecode(password);
  return [url, password, decoded].filter((s) => s !== '').sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function openSqlite(file: string): Store {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // SQLite creates the file 0644 and gives its -wal and -shm files the same mode: made first.
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  const database = new BetterSqlite3(file);
  database.pragma('journal_mode = WAL');
  // Commits skip fsync; durable() flushes the write-ahead log once for every waiting caller.
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  });
  const wal = openWalForSync(file);
  let claim: BetterSqlite3.Database | null | undefined;

  return {
    dialect: 'sqlite',
    db,
    transaction: (work) => db.transaction().execute(work),
    durable: createGroupSync(() => promisify(fdatasync)(wal)),
    lockAuditChain: async () => {
      // SQLite has one writer at a time; the transaction itself serialises the chain.
    },
    claimNode: async () => {
      claim ??= claimSqliteFile(`${file}.claim`);
      return claim === null ? { claimed: false, holder: null } : { claimed: true };
    },
    claimedAmong: async () => null,
    close: async () => {
      await db.destroy();
      closeSync(wal);
      claim?.close();
      claim = undefined;
    },
  };
}

/**
 * The node's claim on a SQLite data dir: an exclusive transaction on a file of its own, held
 * while the store is open. The system lets go of it when the process ends, however it ends.
 * Null when another process holds it (the same data dir started twice).
 */
function claimSqliteFile(file: string): BetterSqlite3.Database | null {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  const held = new BetterSqlite3(file, { timeout: 0 });
  try {
    held.exec('BEGIN EXCLUSIVE');
    return held;
  } catch (error) {
    held.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return null;
    throw error;
  }
}

/** Opens the write-ahead log (and makes its directory entry durable) so it can be flushed. */
function openWalForSync(file: string): number {
  const fd = openSync(`${file}-wal`, 'a', PRIVATE_FILE_MODE);
  const directory = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
  return fd;
}

function openPostgres(location: { url: string; poolSize?: number }, options: StoreOptions): Store {
  const onConnectionError = options.onConnectionError ?? (() => undefined);
  const pool = new pg.Pool({
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID
          ? Number
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
    connectionString: location.url,
    max: location.poolSize ?? 16,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    // A link that dies quietly (a NAT, a failover) is found, and with it a lost node claim.
    keepAlive: true,
  });
  // An idle client's error would otherwise be thrown from the pool and end the process.
  pool.on('error', onConnectionError);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const claims: pg.PoolClient[] = [];

  return {
    dialect: 'postgres',
    db,
    transaction: (work) => db.transaction().execute(work),
    // With synchronous_commit on, PostgreSQL flushes (and groups) commits itself.
    durable: async () => {},
    lockAuditChain: async (trx) => {
      await sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(trx);
    },
    claimNode: async (nodeId) => {
      const client = await pool.connect();
      const key = nodeLockKey(nodeId);
      try {
        const { rows } = await client.query<{ claimed: boolean }>(
          'select pg_try_advisory_lock($1, $2) as claimed',
          [NODE_LOCK_CLASS, key],
        );
        if (rows[0]?.claimed !== true) {
          const holder = await holderOf(client, key);
          client.release();
          return { claimed: false, holder };
        }
      } catch (error) {
        client.release();
        throw error;
      }
      // Kept out of the pool for the process's life: an idle connection is closed in time, and
      // the claim with it.
      client.on('error', options.onClaimLost ?? onConnectionError);
      claims.push(client);
      return { claimed: true };
    },
    claimedAmong: async (nodeIds) => {
      // Advisory locks belong to one database: another database on the cluster claims its own.
      const { rows } = await sql<{ key: number }>`
        select objid::bigint as key from pg_locks
        where locktype = 'advisory' and objsubid = 2 and granted
          and classid = ${NODE_LOCK_CLASS}::bigint::oid
          and database = (select oid from pg_database where datname = current_database())`.execute(
        db,
      );
      // pg_locks shows the key as an oid, unsigned.
      const held = new Set(rows.map((row) => Number(row.key)));
      return new Set(nodeIds.filter((id) => held.has(nodeLockKey(id) >>> 0)));
    },
    close: async () => {
      // Their sessions end with the pool, and the claims with them.
      for (const client of claims.splice(0)) client.release();
      await db.destroy();
    },
  };
}

/**
 * Which backend holds a node's claim, and from where, for the message that refuses a second
 * node: a claim left by a machine that died stays until PostgreSQL drops that connection, and an
 * operator may end it (pg_terminate_backend).
 */
async function holderOf(client: pg.PoolClient, key: number): Promise<string | null> {
  const { rows } = await client.query<{ pid: number; address: string | null; since: Date }>(
    `select a.pid, host(a.client_addr) as address, a.backend_start as since
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.objsubid = 2 and l.granted
        and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid
        and l.database = (select oid from pg_database where datname = current_database())`,
    [NODE_LOCK_CLASS, key >>> 0],
  );
  const row = rows[0];
  if (row === undefined) return null;
  const from = row.address === null ? 'a local socket' : row.address;
  return `PostgreSQL backend ${row.pid}, connected from ${from} since ${row.since.toISOString()}`;
}
