import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * The machine's PostgreSQL, used only as Tessera's own store, and only through databases this
 * benchmark creates and drops. Loopback only.
 */
export const LOCAL_PG = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TempDir {
  readonly path: string;
  remove(): void;
}

export function tempDir(label: string): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), `tessera-bench-${label}-`));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface BenchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the local PostgreSQL. */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(LOCAL_PG);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
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
