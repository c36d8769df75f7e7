import pg from 'pg';
import { startPgCluster } from '../../test/support/pg-cluster.ts';
import { type BenchAccount, type Fleet, setupPassword } from './mixed-fleet.ts';

/** Statements per superuser session while creating or dropping roles. */
const ROLE_BATCH = 200;

/**
 * PostgreSQL roles on a throw-away SCRAM cluster. The reconcile role has CREATEROLE, which on
 * PostgreSQL 15 lets it set the password of any role that is not a superuser.
 */
export async function startPostgresqlFleet(tag: string): Promise<Fleet> {
  const cluster = await startPgCluster();
  const reconcile = { username: `bmx_rec_${tag}`, password: setupPassword() };
  const accounts: BenchAccount[] = [];
  try {
    await cluster.createRole(reconcile.username, reconcile.password, { createRole: true });
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  return {
    platform: 'postgresql',
    target: {
      name: 'mix-postgresql',
      platform: 'postgresql',
      host: cluster.host,
      port: cluster.port,
      database: 'postgres',
    },
    reconcile,
    accounts,
    async grow(count) {
      const added: BenchAccount[] = [];
      for (let i = accounts.length; i < count; i++) {
        added.push({ username: `bmx_${tag}_${i}`, password: setupPassword() });
      }
      for (let i = 0; i < added.length; i += ROLE_BATCH) {
        const statements = added
          .slice(i, i + ROLE_BATCH)
          .map(
            (a) =>
              `CREATE ROLE ${pg.escapeIdentifier(a.username)} ` +
              `LOGIN PASSWORD ${pg.escapeLiteral(a.password)};`,
          );
        await cluster.query(statements.join('\n'));
      }
      accounts.push(...added);
    },
    // Roles live in the cluster's own data directory, which stop() removes with the server.
    close: () => cluster.stop(),
  };
}
