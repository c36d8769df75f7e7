/**
 * A Tessera server in a process of its own, started like test/support/server-child.ts through
 * `startServer` in dev mode, that also makes ephemeral grants on command, as the request service
 * does once a request is approved: so that a test can SIGKILL it while or after it provisions.
 *
 * It prints `{"url": ...}` once it listens. Then each line on stdin is one JSON command
 * `{"grant": {"user", "safe", "account", "target", "role", "endsAt"}}` (names, and a time in ms);
 * it inserts the grant, calls `services.ephemeral.provision` and answers with one JSON line:
 * `{"grantId", "account"}` or `{"grantId", "error": {"code", "message"}}`.
 *
 * Settings: TESSERA_CHILD_DATA_DIR and TESSERA_CHILD_ROOT_TOKEN, as server-child.ts takes them.
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { SYSTEM_CONTEXT } from '../../src/audit/event.ts';
import { isTesseraError } from '../../src/errors.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';

interface GrantCommand {
  readonly user: string;
  readonly safe: string;
  /** `target/username` of the target's ephemeral admin account. */
  readonly account: string;
  readonly target: string;
  readonly role: string;
  readonly endsAt: number;
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`ephemeral-child: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

async function insertGrant(server: RunningServer, command: GrantCommand): Promise<string> {
  const db = server.services.store.db;
  const user = await db
    .selectFrom('users')
    .select('id')
    .where('name', '=', command.user)
    .executeTakeFirstOrThrow();
  const safe = await db
    .selectFrom('safes')
    .select('id')
    .where('name', '=', command.safe)
    .executeTakeFirstOrThrow();
  const [targetName, username] = command.account.split('/');
  const admin = await server.services.accounts.find({
    target: targetName ?? '',
    username: username ?? '',
  });
  const now = server.services.clock.now();
  const id = randomUUID();
  await db
    .insertInto('grants')
    .values({
      id,
      request_id: null,
      user_id: user.id,
      kind: 'ephemeral',
      safe_id: safe.id,
      account_id: admin.id,
      permissions: 'use',
      starts_at: now,
      ends_at: command.endsAt,
      revoked_at: null,
      revoked_by: null,
      revoke_reason: null,
      closed_at: null,
      created_at: now,
    })
    .execute();
  return id;
}

async function provision(server: RunningServer, command: GrantCommand): Promise<unknown> {
  const grantId = await insertGrant(server, command);
  const target = await server.services.targets.byName(command.target);
  const user = await server.services.store.db
    .selectFrom('users')
    .select('id')
    .where('name', '=', command.user)
    .executeTakeFirstOrThrow();
  try {
    const account = await server.services.ephemeral.provision(SYSTEM_CONTEXT, {
      id: grantId,
      userId: user.id,
      targetId: target.id,
      role: command.role,
      endsAt: command.endsAt,
    });
    return { grantId, account };
  } catch (error) {
    const code = isTesseraError(error) ? error.code : 'INTERNAL';
    const message = error instanceof Error ? error.message : 'failed';
    return { grantId, error: { code, message } };
  }
}

const server = await startServer(
  {
    dataDir: required('TESSERA_CHILD_DATA_DIR'),
    host: '127.0.0.1',
    port: 0,
    databaseUrl: null,
    dev: true,
    devRootToken: required('TESSERA_CHILD_ROOT_TOKEN'),
    schedulerIntervalMs: 3_600_000,
    checkpointIntervalMs: 60_000,
  },
  { logger: createLogger({ level: 'debug', destination: process.stderr }) },
);
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = (JSON.parse(line) as { grant: GrantCommand }).grant;
  provision(server, command).then(
    (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : 'failed';
      process.stdout.write(`${JSON.stringify({ error: { code: 'INTERNAL', message } })}\n`);
    },
  );
});
// The parent holds our stdin open; when it goes away, so does this server.
lines.on('close', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
