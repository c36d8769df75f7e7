import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// The machine's PostgreSQL serves only as Tessera's own store, in databases made and dropped here.
import { createScratchDatabase } from '../../test/support/stores.ts';

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
export function createBenchDatabase(): Promise<BenchDatabase> {
  return createScratchDatabase('tessera_bench');
}
