import type { ConnectionEnding } from './connection-state.ts';

export interface LiveConnectionInfo {
  readonly id: string;
  readonly userId: string;
  readonly user: string;
  readonly source: string | null;
  /** The SSH login name as the client sent it (`ACCOUNT@TARGET`), cut to 300 characters. */
  readonly login: string;
  readonly startedAt: number;
}

/** An authenticated connection to the gateway, with or without sessions on it. */
export interface LiveConnection {
  readonly info: LiveConnectionInfo;
  /** Sessions running on it now; a multiplexing client may hold it open with none. */
  sessions(): number;
  /** Checks again that its user may still use the account; ends it when not. */
  recheck(): Promise<void>;
  /** Ends it, telling the user why on each session. */
  end(ending: ConnectionEnding): void;
}

/**
 * The authenticated connections of this node. A session is always on one of them, but one may
 * outlive its sessions (OpenSSH's ControlMaster), so access is re-checked and ends are decided
 * per connection.
 */
export interface LiveConnections {
  /** Adds a connection; the returned function removes it again. */
  add(connection: LiveConnection): () => void;
  get(id: string): LiveConnection | undefined;
  list(): LiveConnection[];
  /** Re-checks every connection, or one user's, one at a time; none failing stops the rest. */
  recheck(userId?: string): Promise<void>;
  endAll(ending: ConnectionEnding): void;
}

export function createLiveConnections(deps: {
  onRecheckError: (error: unknown) => void;
}): LiveConnections {
  const connections = new Map<string, LiveConnection>();

  return {
    add(connection) {
      connections.set(connection.info.id, connection);
      return () => connections.delete(connection.info.id);
    },
    get: (id) => connections.get(id),
    list: () => [...connections.values()],
    async recheck(userId) {
      for (const connection of [...connections.values()]) {
        if (userId !== undefined && connection.info.userId !== userId) continue;
        await connection.recheck().catch(deps.onRecheckError);
      }
    },
    endAll(ending) {
      for (const connection of [...connections.values()]) connection.end(ending);
    },
  };
}
