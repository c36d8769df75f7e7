import type { Command } from 'commander';
import type { TesseraNode } from '../api-types.ts';
import type { Io } from '../context.ts';
import { sessionOf } from '../context.ts';
import { formatTime, printJson, printTable, yesNo } from '../output.ts';

const NODE_HELP = `
Sessions and messages name nodes by id; this maps each id to where the other nodes reach it
(--node-url). A node without an address cannot have watches or recordings passed on from it.
A node not running keeps its sessions live in the list until it starts again and closes them.`;

export function registerNode(program: Command, io: Io): void {
  const node = program
    .command('node')
    .description('the Tessera nodes sharing this store (admins and auditors)')
    .addHelpText('after', NODE_HELP);

  node
    .command('list')
    .description('list the nodes: id, address, last start, live sessions')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session.api().request<{ nodes: TesseraNode[] }>('GET', '/v1/nodes');
      if (session.json) return printJson(session, reply);
      const rows = reply.nodes.map((n) => [
        n.here ? `${n.id} (this one)` : n.id,
        n.address ?? '- (none: nothing passed on from it)',
        n.running === null ? '?' : yesNo(n.running),
        formatTime(n.startedAt),
        String(n.liveSessions),
      ]);
      const headers = ['NODE', 'ADDRESS', 'RUNNING', 'STARTED', 'LIVE SESSIONS'];
      printTable(session, headers, rows, 'No nodes.');
    });
}
