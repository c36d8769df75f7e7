import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';

/** A node as it said at its last start, with the sessions its row names live. */
export interface NodeRecord {
  readonly id: string;
  readonly apiUrl: string | null;
  readonly startedAt: number;
  readonly liveSessions: number;
  /**
   * Whether a process holds the node's id now (its claim, store.ts `claimNode`): a node that
   * stopped or died does not. Null where the store cannot tell (SQLite: one node only).
   */
  readonly running: boolean | null;
}

/** Where each node's API is reached by the other nodes. */
export interface NodeDirectory {
  /** Says, at a node's start, where its API is; null where the other nodes cannot reach it. */
  announce(nodeId: string, apiUrl: string | null): Promise<void>;
  apiUrlOf(nodeId: string): Promise<string | null>;
  /** Every node that ever started on this store, the most recently started first. */
  list(): Promise<NodeRecord[]>;
}

export function createNodeDirectory(deps: { store: Store; clock: Clock }): NodeDirectory {
  const { store, clock } = deps;
  return {
    async announce(nodeId, apiUrl) {
      const values = { api_url: apiUrl, started_at: clock.now() };
      await store.db
        .insertInto('nodes')
        .values({ id: nodeId, ...values })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .execute();
    },

    async list() {
      const rows = await store.db
        .selectFrom('nodes')
        .leftJoin('sessions', (join) =>
          join.onRef('sessions.node_id', '=', 'nodes.id').on('sessions.state', '=', 'live'),
        )
        .select((eb) => [
          'nodes.id',
          'nodes.api_url',
          'nodes.started_at',
          eb.fn.count<number>('sessions.id').as('live'),
        ])
        .groupBy(['nodes.id', 'nodes.api_url', 'nodes.started_at'])
        .orderBy('nodes.started_at', 'desc')
        .execute();
      const claimed = await store.claimedAmong(rows.map((row) => row.id));
      return rows.map((row) => ({
        id: row.id,
        apiUrl: row.api_url,
        startedAt: row.started_at,
        liveSessions: Number(row.live),
        running: claimed === null ? null : claimed.has(row.id),
      }));
    },

    async apiUrlOf(nodeId) {
      const row = await store.db
        .selectFrom('nodes')
        .select('api_url')
        .where('id', '=', nodeId)
        .executeTakeFirst();
      return row?.api_url ?? null;
    },
  };
}
