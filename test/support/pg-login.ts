import { Client, DatabaseError } from 'pg';
import type { PgCluster } from './pg-cluster.ts';

const AUTH_FAILURE_SQLSTATES = new Set(['28P01', '28000']);
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Logs in to the test cluster with pg, straight to its port: true when `SELECT 1` ran, false when
 * the server refused the credential. Any other failure throws, so an outage never passes for a
 * refused password.
 */
export async function logsIn(
  cluster: Pick<PgCluster, 'host' | 'port'>,
  username: string,
  password: string,
): Promise<boolean> {
  const client = new Client({
    host: cluster.host,
    port: cluster.port,
    database: 'postgres',
    user: username,
    password,
    ssl: false,
    application_name: 'tessera-test',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  client.on('error', () => {
    // A late error on an idle session; the pending call below reports what matters.
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    if (error instanceof DatabaseError && AUTH_FAILURE_SQLSTATES.has(error.code ?? ''))
      return false;
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The role's stored SCRAM verifier, read as the cluster's superuser. */
export async function storedVerifier(cluster: PgCluster, role: string): Promise<string | null> {
  const result = await cluster.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
    role,
  ]);
  const row: unknown = result.rows[0];
  if (typeof row !== 'object' || row === null || !('rolpassword' in row)) return null;
  return typeof row.rolpassword === 'string' ? row.rolpassword : null;
}
