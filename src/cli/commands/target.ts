import type { Command } from 'commander';
import type { Target } from '../api-types.ts';
import { type Io, sessionOf } from '../context.ts';
import { formatTime, printFields, printJson, printLine, printTable } from '../output.ts';
import { integerBetween } from '../parse.ts';

interface AddOptions {
  readonly platform: string;
  readonly host: string;
  readonly port: number;
  readonly database?: string;
}

export function registerTarget(program: Command, io: Io): void {
  const target = program.command('target').description('targets: the systems accounts live on');

  target
    .command('add')
    .description('add a target')
    .argument('<name>', 'the new target name')
    .requiredOption('--platform <platform>', 'the kind of system, e.g. postgresql')
    .requiredOption('--host <host>', 'its host name or address')
    .requiredOption('--port <port>', 'its port', integerBetween(1, 65_535))
    .option('--database <name>', 'the database to connect to, where the platform has one')
    .action(async (name: string, options: AddOptions, command: Command) => {
      const session = sessionOf(command, io);
      const { platform, host, port, database } = options;
      const body = { name, platform, host, port, ...(database === undefined ? {} : { database }) };
      const created = await session.api().request<Target>('POST', '/v1/targets', { body });
      if (session.json) return printJson(session, created);
      printLine(
        session,
        `Added ${created.platform} target ${created.name} at ${address(created)}.`,
      );
    });

  target
    .command('list')
    .description('list targets')
    .action(async (_options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const reply = await session.api().request<{ targets: Target[] }>('GET', '/v1/targets');
      if (session.json) return printJson(session, reply);
      const rows = reply.targets.map((t) => [t.name, t.platform, address(t), t.database ?? '-']);
      printTable(session, ['NAME', 'PLATFORM', 'ADDRESS', 'DATABASE'], rows, 'No targets.');
    });

  target
    .command('show')
    .description('show a target')
    .argument('<name>', 'the target')
    .action(async (name: string, _options: unknown, command: Command) => {
      const session = sessionOf(command, io);
      const path = `/v1/targets/${encodeURIComponent(name)}`;
      const found = await session.api().request<Target>('GET', path);
      if (session.json) return printJson(session, found);
      printFields(session, [
        ['Target', found.name],
        ['Platform', found.platform],
        ['Host', found.host],
        ['Port', String(found.port)],
        ['Database', found.database ?? '-'],
        ['Created', formatTime(found.createdAt)],
      ]);
    });
}

function address(target: Target): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}
