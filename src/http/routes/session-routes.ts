import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AccessDecision } from '../../access/access-decision.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { AuditEventInput } from '../../audit/event.ts';
import type { Clock } from '../../clock.ts';
import { TesseraError } from '../../errors.ts';
import type { GatewayServices } from '../../gateway/gateway.ts';
import type { LiveSession } from '../../gateway/live-sessions.ts';
import { DEFAULT_SESSION_POLICY } from '../../gateway/session-policy.ts';
import type { SessionRecord } from '../../gateway/session-store.ts';
import { ticketNode } from '../../gateway/watch-tickets.ts';
import type { Principal } from '../../identity/principal.ts';
import type { TokenService } from '../../identity/tokens.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, reason, responses, uuid } from '../schemas.ts';
import {
  ALIVE_MESSAGE,
  RELAY_ALIVE_MS,
  relayWatch,
  WATCH_MISDIRECTED,
  WATCH_TICKET_HEADER,
} from './watch-relay.ts';

const session = z.object({
  id: z.string(),
  user: z.string(),
  account: z.string(),
  target: z.string(),
  kind: z.string(),
  command: z.string().nullable(),
  clientAddress: z.string().nullable(),
  width: z.number(),
  height: z.number(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  recorded: z.boolean(),
  recordingSha256: z.string().nullable(),
  droppedBytes: z.number(),
  state: z.string(),
  /** The Tessera node whose gateway runs (or ran) the session. */
  node: z.string(),
  /** Running on the node that answered. */
  here: z.boolean(),
  /** Live, and can be watched through the node that answered: it runs it, or passes it on. */
  watchable: z.boolean(),
});
/**
 * An allow-list: the wrapped recording key and the file's path stay on the server. `reachable`:
 * the nodes whose watches this node can pass on (they said where their API is).
 */
const toView = (
  s: SessionRecord,
  live: LiveSession | undefined,
  reachable: ReadonlySet<string>,
) => ({
  id: s.id,
  user: s.user,
  account: s.account,
  target: s.target,
  kind: s.kind,
  command: s.command,
  clientAddress: s.clientAddress,
  width: s.width,
  height: s.height,
  startedAt: iso(s.startedAt),
  endedAt: iso(s.endedAt),
  endReason: s.endReason,
  // Running here: counted so far (the row has them once the session ends).
  bytesIn: live?.bytes().bytesIn ?? s.bytesIn,
  bytesOut: live?.bytes().bytesOut ?? s.bytesOut,
  recorded: s.recordingPath !== null,
  recordingSha256: s.recordingSha256,
  droppedBytes: s.droppedBytes,
  state: s.state,
  node: s.nodeId,
  here: live !== undefined,
  watchable: live !== undefined || (s.state === 'live' && reachable.has(s.nodeId)),
});
const command = z.object({ offsetMs: z.number(), at: z.string(), command: z.string() });
const searchText = z.string().min(1).max(200);
const sessionParams = z.object({ id: uuid });

const seconds = z
  .number()
  .int()
  .min(1)
  .max(30 * 86_400)
  .nullable();
const sessionPolicy = z
  .object({
    recordInput: z.boolean().default(DEFAULT_SESSION_POLICY.recordInput),
    recordingRequired: z.boolean().default(DEFAULT_SESSION_POLICY.recordingRequired),
    allowSftp: z.boolean().default(DEFAULT_SESSION_POLICY.allowSftp),
    allowPortForwarding: z.boolean().default(DEFAULT_SESSION_POLICY.allowPortForwarding),
    allowAgentForwarding: z.boolean().default(DEFAULT_SESSION_POLICY.allowAgentForwarding),
    allowX11: z.boolean().default(DEFAULT_SESSION_POLICY.allowX11),
    idleTimeoutS: seconds.default(DEFAULT_SESSION_POLICY.idleTimeoutS),
    maxSessionS: seconds.default(DEFAULT_SESSION_POLICY.maxSessionS),
    endOnRecordingDrop: z.boolean().default(DEFAULT_SESSION_POLICY.endOnRecordingDrop),
    holdForRecording: z.boolean().default(DEFAULT_SESSION_POLICY.holdForRecording),
  })
  .strict();

/** The part of a WebSocket the watch uses. */
interface WatchSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string | Buffer, options?: { binary: boolean }): void;
  close(code: number, reason: string): void;
  on(event: 'close', listener: () => void): void;
}

/** Close codes of a watch refused: the session is over (or unknown), or runs on another node. */
const WATCH_NOT_LIVE = 4404;
const WATCH_ELSEWHERE = 4409;
/** Close code of a watch whose watcher's sign-in ended (sign-out, revocation, a new factor). */
const WATCH_SIGNED_OUT = 4401;
/** Close code of a watch passed on by another node whose watcher may no longer watch. */
const WATCH_FORBIDDEN = 4403;
/** WebSocket's readyState while a socket is open. */
const SOCKET_OPEN = 1;
/** How often an open watch asks whether its watcher's token still holds. */
const WATCHER_CHECK_MS = 2_000;

/** A watcher who cannot keep up is let go rather than buffered without bound. */
const MAX_WATCHER_BACKLOG = 4 * 1024 * 1024;

export interface SessionRouteDeps {
  readonly gateway: GatewayServices;
  readonly audit: AuditLog;
  readonly clock: Clock;
  /** A watch streams only while the token it was opened with holds. */
  readonly tokens: Pick<TokenService, 'isLive'>;
  /** This node: a session its row places here but that is not in memory is ending. */
  readonly nodeId: string;
  /** A watch passed on from another node is allowed here again, for the watcher it names. */
  readonly access: Pick<AccessDecision, 'require'>;
  /** How often a relayed watch says it is alive (watch-relay.ts); shorter in tests only. */
  readonly relayAliveMs?: number;
}

const NOT_LIVE = 'the session is not live';

/**
 * Sessions through the SSH gateway: list and search, the commands run, live watch (read-only,
 * over a WebSocket), kill, and each policy's session settings; the recording is served by
 * recording-routes.ts.
 */
export function sessionRoutes(app: App, deps: SessionRouteDeps): void {
  const { sessions, liveSessions } = deps.gateway;

  app.get(
    '/v1/sessions',
    {
      config: { action: 'session.read' },
      schema: {
        summary: 'Sessions, newest first',
        querystring: z
          .object({
            live: z.enum(['true', 'false']).optional(),
            user: name.optional(),
            target: name.optional(),
            command: searchText.optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          })
          .strict(),
        response: responses({ 200: z.object({ sessions: z.array(session) }) }),
      },
    },
    async (request) => {
      const { live, ...rest } = request.query;
      const found = await sessions.list({
        ...rest,
        live: live === undefined ? undefined : live === 'true',
      });
      const reachable = await reachableNodes(deps, found);
      return { sessions: found.map((s) => toView(s, liveSessions.get(s.id), reachable)) };
    },
  );

  app.get(
    '/v1/sessions/commands',
    {
      config: { action: 'session.read' },
      schema: {
        summary: 'Commands run in sessions whose text contains q, newest first',
        querystring: z
          .object({ q: searchText, limit: z.coerce.number().int().min(1).max(1000).default(100) })
          .strict(),
        response: responses({
          200: z.object({
            commands: z.array(
              command.extend({
                sessionId: z.string(),
                user: z.string(),
                target: z.string(),
                account: z.string(),
              }),
            ),
          }),
        }),
      },
    },
    async (request) => {
      const hits = await sessions.searchCommands(request.query.q, request.query.limit);
      return { commands: hits.map((hit) => ({ ...hit, at: iso(hit.at) })) };
    },
  );

  app.get(
    '/v1/sessions/:id',
    {
      config: { action: 'session.read' },
      schema: {
        params: sessionParams,
        response: responses({ 200: session.extend({ commands: z.array(command) }) }),
      },
    },
    async (request) => {
      const found = await sessions.get(request.params.id);
      const commands = await sessions.commandsOf(found.id);
      return {
        ...toView(found, liveSessions.get(found.id), await reachableNodes(deps, [found])),
        commands: commands.map((c) => ({ ...c, at: iso(c.at) })),
      };
    },
  );

  app.post(
    '/v1/sessions/:id/kill',
    {
      config: { action: 'session.kill' },
      schema: {
        summary:
          'End a live session; the user is told the reason. Killed at once (200) when it runs on ' +
          'this node, else passed to the node that runs it (202), which kills it within seconds',
        params: sessionParams,
        body: z.object({ reason }).strict(),
        response: responses({
          200: z.object({ killed: z.literal(true) }),
          202: z.object({
            killed: z.literal(false),
            requested: z.literal(true),
            /** The node that runs the session and carries out the kill. */
            node: z.string(),
          }),
        }),
      },
    },
    async (request, reply) => {
      const found = await sessions.get(request.params.id);
      const ctx = contextOf(request);
      const why = request.body.reason;
      const event = (passed: boolean): AuditEventInput => ({
        action: 'session.kill',
        outcome: 'success',
        actor: ctx.actor,
        object: { type: 'session', id: found.id, name: `${found.target}/${found.account}` },
        source: ctx.source,
        requestId: ctx.requestId,
        reason: why,
        // The node that runs the session; `passed`: stored for that node to carry out.
        details: { user: found.user, node: found.nodeId, passed },
      });

      const live = liveSessions.get(found.id);
      if (live !== undefined) {
        await deps.audit.record(event(false));
        live.kill(why);
        return { killed: true as const };
      }
      // Live by its row: another node runs it, or ran it until it died (its restart closes it).
      if (found.state !== 'live' || found.nodeId === deps.nodeId) {
        throw new TesseraError('CONFLICT', NOT_LIVE);
      }
      const by = principalOf(request).name;
      const node = await sessions.requestKill(
        found.id,
        { reason: why, requestedBy: by, requestedAt: deps.clock.now() },
        event(true),
      );
      if (node === null) throw new TesseraError('CONFLICT', NOT_LIVE);
      return reply.code(202).send({ killed: false as const, requested: true as const, node });
    },
  );

  app.get(
    '/v1/policies/:policy/session',
    {
      config: { action: 'policy.read' },
      schema: {
        summary: 'How sessions through the gateway behave under this policy',
        params: z.object({ policy: name }),
        response: responses({ 200: sessionPolicy }),
      },
    },
    async (request) => deps.gateway.sessionPolicies.byName(request.params.policy),
  );

  app.put(
    '/v1/policies/:policy/session',
    {
      config: { action: 'policy.write' },
      schema: {
        summary: 'Set the session settings of a policy; settings left out take their defaults',
        params: z.object({ policy: name }),
        body: sessionPolicy,
        response: responses({ 200: sessionPolicy }),
      },
    },
    async (request) =>
      deps.gateway.sessionPolicies.set(contextOf(request), request.params.policy, request.body),
  );

  // The WebSocket plugin belongs to these routes alone; the access hooks still run before them.
  const watchRoutes: FastifyPluginAsync = async (scope) => {
    scope.get(
      '/v1/sessions/:id/watch',
      {
        websocket: true,
        config: { action: 'session.watch' },
        schema: { params: sessionParams },
      },
      async (socket, request) => {
        const id = (request.params as { id: string }).id;
        const live = liveSessions.get(id);
        if (live === undefined) {
          await watchElsewhere(socket, request, deps, id);
          return;
        }
        const principal = principalOf(request);
        const ctx = contextOf(request);
        await startWatch(socket, deps, live, {
          principal,
          source: ctx.source,
          requestId: ctx.requestId,
          via: null,
        });
      },
    );

    // Another node passes a watch on here: the ticket names the watcher it let in.
    scope.get(
      '/v1/sessions/:id/watch-relay',
      {
        websocket: true,
        config: { action: 'session.watch.relay' },
        schema: { params: sessionParams, hide: true },
      },
      async (socket, request) => {
        const id = (request.params as { id: string }).id;
        const header = request.headers[WATCH_TICKET_HEADER];
        const ticket = typeof header === 'string' ? header : '';
        const { watchTickets } = deps.gateway;
        // Nothing about the session is told, nor the ticket spent, before the ticket is shown.
        const forNode = ticketNode(ticket, 'watch');
        const use = { purpose: 'watch', node: forNode ?? '' } as const;
        if (forNode === null || !(await watchTickets.valid(ticket, id, use))) {
          socket.close(WATCH_SIGNED_OUT, 'the watch ticket is not valid');
          return;
        }
        const live = liveSessions.get(id);
        if (live === undefined || forNode !== deps.nodeId) {
          await refuseRelay(socket, deps, id, forNode);
          return;
        }
        const holder = await watchTickets.redeem(ticket, id, use);
        if (holder === null) {
          socket.close(WATCH_SIGNED_OUT, 'the watch ticket is not valid');
          return;
        }
        const { viaNode, source, requestId, ...principal } = holder;
        // Allowed again here, as of now: the sign-in still holds and its role may still watch.
        if (!(await deps.tokens.isLive(principal.tokenId))) {
          socket.close(WATCH_SIGNED_OUT, 'your sign-in ended');
          return;
        }
        const allowed = await deps.access.require(principal, 'session.watch').then(
          () => true,
          () => false,
        );
        if (!allowed) {
          socket.close(WATCH_FORBIDDEN, 'not allowed: session.watch');
          return;
        }
        await startWatch(socket, deps, live, { principal, source, requestId, via: viaNode });
      },
    );
  };
  app.register(watchRoutes);
}

/** Who watches, and through which node when another node passed the watch on. */
interface Watcher {
  readonly principal: Principal;
  readonly source: string | null;
  readonly requestId: string | null;
  readonly via: string | null;
}

/** Audits the watch, then streams the session until it ends or the watcher's sign-in does. */
async function startWatch(
  socket: WatchSocket,
  deps: SessionRouteDeps,
  live: LiveSession,
  watcher: Watcher,
): Promise<void> {
  const { principal } = watcher;
  if (socket.readyState !== SOCKET_OPEN) return;
  try {
    await deps.audit.record({
      action: 'session.watch',
      outcome: 'success',
      actor: { id: principal.userId, name: principal.name },
      object: {
        type: 'session',
        id: live.info.id,
        name: `${live.info.target}/${live.info.account}`,
      },
      source: watcher.source,
      requestId: watcher.requestId,
      details: {
        watcher: principal.name,
        ...(watcher.via === null ? {} : { via: watcher.via }),
      },
    });
  } catch {
    socket.close(1011, 'the audit trail cannot be written');
    return;
  }
  // The watcher may have left, or the session ended, while the audit event was written.
  if (socket.readyState !== SOCKET_OPEN) return;
  if (deps.gateway.liveSessions.get(live.info.id) !== live) {
    socket.close(WATCH_NOT_LIVE, NOT_LIVE);
    return;
  }
  const stopChecking = checkWatcher(socket, deps, principal.tokenId);
  socket.on('close', stopChecking);
  if (watcher.via !== null) {
    // The relaying node tells a hung node from a quiet session by this.
    const alive = setInterval(
      () => socket.send(ALIVE_MESSAGE),
      deps.relayAliveMs ?? RELAY_ALIVE_MS,
    );
    alive.unref();
    socket.on('close', () => clearInterval(alive));
  }
  watch(socket, live);
}

/**
 * Sends the watcher the session as the user sees it: its size and the screen so far, then every
 * output and resize as they happen. Whatever the watcher sends is ignored: a watcher cannot type.
 */
function watch(socket: WatchSocket, live: LiveSession): void {
  const sendJson = (value: unknown) => socket.send(JSON.stringify(value));
  const { cols, rows } = live.size();
  sendJson({ type: 'hello', session: live.info.id, user: live.info.user, cols, rows });
  socket.send(live.screen(), { binary: true });
  const stop = live.watch({
    output(data) {
      if (socket.bufferedAmount > MAX_WATCHER_BACKLOG) {
        stop();
        socket.close(1013, 'watcher too slow');
        return;
      }
      socket.send(data, { binary: true });
    },
    resize: (c, r) => sendJson({ type: 'resize', cols: c, rows: r }),
    end(why) {
      sendJson({ type: 'end', reason: why });
      socket.close(1000, 'session ended');
    },
  });
  socket.on('close', stop);
}

/**
 * Closes the watch once the watcher's token no longer holds (signed out, revoked, user
 * disabled): a sign-in that ended must not keep seeing the session. Answers the stop.
 */
function checkWatcher(
  socket: WatchSocket,
  deps: Pick<SessionRouteDeps, 'tokens'>,
  tokenId: string,
): () => void {
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    deps.tokens
      .isLive(tokenId)
      .then(
        (live) => {
          if (live) return;
          clearInterval(timer);
          socket.close(WATCH_SIGNED_OUT, 'your sign-in ended');
        },
        // Deny unless allowed: a sign-in that cannot be checked streams nothing more.
        () => {
          clearInterval(timer);
          socket.close(1011, 'your sign-in could not be checked');
        },
      )
      .finally(() => {
        checking = false;
      });
  }, WATCHER_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A session this node does not run: passed on to the node that runs it (by its row), which
 * streams it here for this node to forward; else the watcher is told why not.
 */
async function watchElsewhere(
  socket: WatchSocket,
  request: FastifyRequest,
  deps: SessionRouteDeps,
  id: string,
): Promise<void> {
  const { sessions, nodes, watchTickets } = deps.gateway;
  // Any other failure reaches the WebSocket plugin, which logs it and drops the socket.
  const found = await sessions.get(id).catch((error: unknown) => {
    if (error instanceof TesseraError && error.code === 'NOT_FOUND') return null;
    throw error;
  });
  // Live by its row but not here: it ran on this node until the node stopped, and is ending.
  if (found === null || found.state !== 'live' || found.nodeId === deps.nodeId) {
    socket.close(WATCH_NOT_LIVE, NOT_LIVE);
    return;
  }
  const apiUrl = await nodes.apiUrlOf(found.nodeId);
  if (apiUrl === null) {
    socket.close(
      WATCH_ELSEWHERE,
      `the session runs on node ${found.nodeId}, which other nodes cannot reach: watch it there`,
    );
    return;
  }
  // Left while the session was looked up: no ticket is made for nobody.
  if (socket.readyState !== SOCKET_OPEN) return;
  const principal = principalOf(request);
  const ctx = contextOf(request);
  const use = { purpose: 'watch', node: found.nodeId } as const;
  const ticket = await watchTickets.issue(
    id,
    { ...principal, source: ctx.source, requestId: ctx.requestId, viaNode: deps.nodeId },
    use,
  );
  const spend = () => void watchTickets.spend(ticket).catch(() => undefined);
  // Left while the ticket was made: it is never used.
  if (socket.readyState !== SOCKET_OPEN) return spend();
  relayWatch(
    socket,
    {
      url: `${apiUrl.replace(/^http/, 'ws')}/v1/sessions/${id}/watch-relay`,
      ticket,
      node: found.nodeId,
    },
    {
      maxBacklog: MAX_WATCHER_BACKLOG,
      log: request.log,
      ...(deps.relayAliveMs === undefined ? {} : { aliveMs: deps.relayAliveMs }),
      // A ticket the other node refused or never saw is spent here, not left for 30 s.
      ended: spend,
    },
  );
}

/**
 * A relay for a session this node does not run: it ended (its row says it ran here), or the
 * relaying node took another node's address for this one's (the ticket is for another node, or
 * the row names one). The ticket is left unspent.
 */
async function refuseRelay(
  socket: WatchSocket,
  deps: SessionRouteDeps,
  id: string,
  forNode: string,
) {
  const found = await deps.gateway.sessions.get(id).catch((error: unknown) => {
    if (error instanceof TesseraError && error.code === 'NOT_FOUND') return null;
    throw error;
  });
  const elsewhere = found !== null && found.state === 'live' && found.nodeId !== deps.nodeId;
  if (forNode !== deps.nodeId || elsewhere) {
    socket.close(WATCH_MISDIRECTED, 'the session does not run on this node');
  } else {
    socket.close(WATCH_NOT_LIVE, NOT_LIVE);
  }
}

/** The nodes among these sessions' whose watches this node can pass on. */
async function reachableNodes(
  deps: SessionRouteDeps,
  found: readonly SessionRecord[],
): Promise<ReadonlySet<string>> {
  const elsewhere = new Set<string>();
  for (const s of found)
    if (s.state === 'live' && s.nodeId !== deps.nodeId) elsewhere.add(s.nodeId);
  const reachable = new Set<string>();
  for (const node of elsewhere) {
    if ((await deps.gateway.nodes.apiUrlOf(node)) !== null) reachable.add(node);
  }
  return reachable;
}
