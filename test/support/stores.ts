import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore, type Store, type StoreLocation } from '../../src/store/store.ts';

/**
 * The two stores every data test runs on: a SQLite file in a temporary directory, and a fresh
 * database on the machine's PostgreSQL (its trust authentication is fine for Tessera's own store).
 */
export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** The machine's PostgreSQL, used only as Tessera's own store in tests. */
export const LOCAL_PG =
  process.env.TESSERA_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestStoreLocation {
  readonly location: StoreLocation;
  /** A URL or file for a second node to open the same store. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  drop(): Promise<void>;
}

export async function createTestStoreLocation(kind: StoreKind): Promise<TestStoreLocation> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tessera-test-'));
  if (kind === 'sqlite') {
    return {
      location: { kind: 'sqlite', file: path.join(dataDir, 'tessera.db') },
      databaseUrl: null,
      dataDir,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const database = await createScratchDatabase('tessera_test');
  return {
    location: { kind: 'postgres', url: database.url },
    databaseUrl: database.url,
    dataDir,
    drop: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

/** A fresh, empty database on the machine's PostgreSQL, named `PREFIX_<random>`. */
export async function createScratchDatabase(
  prefix: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(LOCAL_PG);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

export async function openTestStore(
  kind: StoreKind,
): Promise<{ store: Store; drop(): Promise<void> }> {
  const place = await createTestStoreLocation(kind);
  const store = await openStore(place.location);
  return {
    store,
    drop: async () => {
      await store.close();
      await place.drop();
    },
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: LOCAL_PG });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
