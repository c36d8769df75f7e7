import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventInput } from '../audit/event.ts';
import { notFound } from '../errors.ts';
import type { SessionTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';

export type SessionKind = 'shell' | 'exec' | 'sftp';
export type SessionState = 'live' | 'ended' | 'ended_abnormally';

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly user: string;
  readonly accountId: string;
  readonly account: string;
  readonly targetId: string;
  readonly target: string;
  readonly kind: SessionKind;
  readonly command: string | null;
  readonly clientAddress: string | null;
  readonly width: number;
  readonly height: number;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly recordingPath: string | null;
  readonly wrappedKey: Buffer | null;
  readonly recordingSha256: string | null;
  readonly droppedBytes: number;
  readonly nodeId: string;
  readonly state: SessionState;
}

export interface SessionEnd {
  readonly endedAt: number;
  readonly reason: string;
  readonly state: Exclude<SessionState, 'live'>;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly sha256: string | null;
  readonly droppedBytes: number;
}

export interface SessionFilter {
  readonly live?: boolean | undefined;
  readonly user?: string | undefined;
  readonly target?: string | undefined;
  /** Sessions in which a command containing this text was run. */
  readonly command?: string | undefined;
  readonly limit: number;
}

/** A kill asked of a node other than the one that runs the session. */
export interface KillRequest {
  readonly reason: string;
  /** The name of whoever asked. */
  readonly requestedBy: string;
  readonly requestedAt: number;
}

/** A kill a node still has to carry out, and whether the session's row still says live. */
export interface PendingKill {
  readonly sessionId: string;
  readonly reason: string;
  readonly live: boolean;
}

export interface CommandHit {
  readonly sessionId: string;
  readonly user: string;
  readonly target: string;
  readonly account: string;
  readonly offsetMs: number;
  readonly at: number;
  readonly command: string;
}

export interface SessionCommand {
  readonly offsetMs: number;
  readonly at: number;
  readonly command: string;
}

/** The sessions table and the commands run in each; every change is audited with it. */
export interface SessionStore {
  start(row: SessionTable, event: AuditEventInput): Promise<void>;
  end(id: string, end: SessionEnd, event: AuditEventInput): Promise<void>;
  addCommand(id: string, seq: number, command: SessionCommand): Promise<void>;
  /**
   * Stores a kill for the node that runs the session, with its audit event in one transaction.
   * Returns that node's id, or null (and changes nothing) when the session is not live.
   */
  requestKill(id: string, request: KillRequest, event: AuditEventInput): Promise<string | null>;
  /** The kills asked of this node that it has not carried out yet. */
  pendingKills(nodeId: string): Promise<PendingKill[]>;
  /** Marks kills as carried out, or as needless because the session was already over. */
  killsDone(sessionIds: readonly string[], at: number): Promise<void>;
  /** This node's sessions still marked live: a crash left them so. */
  orphans(nodeId: string): Promise<SessionRecord[]>;
  list(filter: SessionFilter): Promise<SessionRecord[]>;
  get(id: string): Promise<SessionRecord>;
  commandsOf(id: string): Promise<SessionCommand[]>;
  searchCommands(text: string, limit: number): Promise<CommandHit[]>;
}

export function createSessionStore(deps: { store: Store; audit: AuditLog }): SessionStore {
  const { store, audit } = deps;

  return {
    async start(row, event) {
      await store.transaction(async (trx) => {
        await trx.insertInto('sessions').values(row).execute();
        await audit.appendInTx(trx, [event]);
      });
      await store.durable();
    },

    async end(id, end, event) {
      await store.transaction(async (trx) => {
        await trx
          .updateTable('sessions')
          .set({
            ended_at: end.endedAt,
            end_reason: end.reason,
            state: end.state,
            bytes_in: end.bytesIn,
            bytes_out: end.bytesOut,
            recording_sha256: end.sha256,
            recording_dropped_bytes: end.droppedBytes,
          })
          .where('id', '=', id)
          .where('state', '=', 'live')
          .execute();
        await audit.appendInTx(trx, [event]);
      });
      await store.durable();
    },

    async addCommand(id, seq, command) {
      await store.db
        .insertInto('session_commands')
        .values({
          session_id: id,
          seq,
          offset_ms: command.offsetMs,
          at: command.at,
          command: command.command,
        })
        .execute();
    },

    async requestKill(id, request, event) {
      const node = await store.transaction(async (trx) => {
        const row = await trx
          .selectFrom('sessions')
          .select('node_id')
          .where('id', '=', id)
          .where('state', '=', 'live')
          .executeTakeFirst();
        if (row === undefined) return null;
        // Asking again replaces the reason; a kill already carried out is asked afresh.
        const values = {
          node_id: row.node_id,
          reason: request.reason,
          requested_by: request.requestedBy,
          requested_at: request.requestedAt,
          done_at: null,
        };
        await trx
          .insertInto('session_kill_requests')
          .values({ session_id: id, ...values })
          .onConflict((oc) => oc.column('session_id').doUpdateSet(values))
          .execute();
        await audit.appendInTx(trx, [event]);
        return row.node_id;
      });
      if (node !== null) await store.durable();
      return node;
    },

    async pendingKills(nodeId) {
      const rows = await store.db
        .selectFrom('session_kill_requests')
        .innerJoin('sessions', 'sessions.id', 'session_kill_requests.session_id')
        .select([
          'session_kill_requests.session_id',
          'session_kill_requests.reason',
          'sessions.state',
        ])
        .where('session_kill_requests.node_id', '=', nodeId)
        .where('session_kill_requests.done_at', 'is', null)
        .execute();
      return rows.map((r) => ({
        sessionId: r.session_id,
        reason: r.reason,
        live: r.state === 'live',
      }));
    },

    async killsDone(sessionIds, at) {
      if (sessionIds.length === 0) return;
      await store.db
        .updateTable('session_kill_requests')
        .set({ done_at: at })
        .where('session_id', 'in', [...sessionIds])
        .where('done_at', 'is', null)
        .execute();
    },

    async orphans(nodeId) {
      const rows = await store.db
        .selectFrom('sessions')
        .selectAll()
        .where('state', '=', 'live')
        .where('node_id', '=', nodeId)
        .execute();
      return rows.map(toRecord);
    },

    async list(filter) {
      let query = store.db.selectFrom('sessions').selectAll();
      if (filter.live === true) query = query.where('state', '=', 'live');
      if (filter.live === false) query = query.where('state', '!=', 'live');
      if (filter.user !== undefined) query = query.where('user_name', '=', filter.user);
      if (filter.target !== undefined) query = query.where('target_name', '=', filter.target);
      const text = filter.command;
      if (text !== undefined) {
        query = query.where((eb) =>
          eb.exists(
            eb
              .selectFrom('session_commands')
              .select('session_commands.seq')
              .whereRef('session_commands.session_id', '=', 'sessions.id')
              .where(
                (inner) => inner.fn('lower', ['session_commands.command']),
                'like',
                containsPattern(text),
              ),
          ),
        );
      }
      const rows = await query.orderBy('started_at', 'desc').limit(filter.limit).execute();
      return rows.map(toRecord);
    },

    async get(id) {
      const row = await store.db
        .selectFrom('sessions')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (row === undefined) throw notFound('session');
      return toRecord(row);
    },

    async commandsOf(id) {
      const rows = await store.db
        .selectFrom('session_commands')
        .select(['offset_ms', 'at', 'command'])
        .where('session_id', '=', id)
        .orderBy('seq')
        .execute();
      return rows.map((r) => ({
        offsetMs: Number(r.offset_ms),
        at: Number(r.at),
        command: r.command,
      }));
    },

    async searchCommands(text, limit) {
      const rows = await store.db
        .selectFrom('session_commands')
        .innerJoin('sessions', 'sessions.id', 'session_commands.session_id')
        .select([
          'session_commands.session_id',
          'session_commands.offset_ms',
          'session_commands.at',
          'session_commands.command',
          'sessions.user_name',
          'sessions.target_name',
          'sessions.account_username',
        ])
        .where((eb) => eb.fn('lower', ['session_commands.command']), 'like', containsPattern(text))
        .orderBy('session_commands.at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        sessionId: r.session_id,
        user: r.user_name,
        target: r.target_name,
        account: r.account_username,
        offsetMs: Number(r.offset_ms),
        at: Number(r.at),
        command: r.command,
      }));
    },
  };
}

/**
 * A LIKE pattern that finds the text anywhere, ignoring case (compared with the command in
 * lower case) the same way on both stores. The text's own `%`, `_` and `\\` match any one
 * character: a search may find a little more, never less, and needs no ESCAPE clause.
 */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[%_\\]/g, '_')}%`;
}

function toRecord(row: SessionTable): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    user: row.user_name,
    accountId: row.account_id,
    account: row.account_username,
    targetId: row.target_id,
    target: row.target_name,
    kind: row.kind as SessionKind,
    command: row.command,
    clientAddress: row.client_address,
    width: row.width,
    height: row.height,
    startedAt: Number(row.started_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    endReason: row.end_reason,
    bytesIn: Number(row.bytes_in),
    bytesOut: Number(row.bytes_out),
    recordingPath: row.recording_path,
    wrappedKey: row.wrapped_key,
    recordingSha256: row.recording_sha256,
    droppedBytes: Number(row.recording_dropped_bytes),
    nodeId: row.node_id,
    state: row.state as SessionState,
  };
}
