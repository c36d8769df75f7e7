import { z } from 'zod';
import type { NodeDirectory } from '../../gateway/node-directory.ts';
import type { App } from '../app.ts';
import { iso, responses } from '../schemas.ts';

const node = z.object({
  id: z.string(),
  /** Where the other nodes reach its API; null: they cannot (watches and recordings stay). */
  address: z.string().nullable(),
  startedAt: z.string(),
  /** Sessions its gateway runs, as their rows say: a node that died keeps them until it starts. */
  liveSessions: z.number(),
  /** The node that answered. */
  here: z.boolean(),
  /** A process holds its id now; false: stopped or dead; null: the store cannot tell. */
  running: z.boolean().nullable(),
});

/**
 * The nodes that share this store, so that the node ids sessions and messages name can be
 * mapped to machines.
 */
export function nodeRoutes(app: App, deps: { nodes: NodeDirectory; nodeId: string }): void {
  app.get(
    '/v1/nodes',
    {
      config: { action: 'node.read' },
      schema: {
        summary: 'The Tessera nodes on this store: where each is reached, and its live sessions',
        response: responses({ 200: z.object({ nodes: z.array(node) }) }),
      },
    },
    async () => {
      const nodes = await deps.nodes.list();
      return {
        nodes: nodes.map((n) => ({
          id: n.id,
          address: n.apiUrl,
          startedAt: iso(n.startedAt),
          liveSessions: n.liveSessions,
          here: n.id === deps.nodeId,
          running: n.id === deps.nodeId ? true : n.running,
        })),
      };
    },
  );
}
