import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AccessDecision } from '../../access/access-decision.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RequestContext } from '../../audit/event.ts';
import { ERROR_STATUS, type ErrorCode, notFound, TesseraError } from '../../errors.ts';
import type { GatewayServices } from '../../gateway/gateway.ts';
import type { SessionRecord } from '../../gateway/session-store.ts';
import type { TokenService } from '../../identity/tokens.ts';
import { exportAsciicast } from '../../sessions/recording-reader.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { responses, uuid } from '../schemas.ts';

/** The header that carries a recording's ticket between nodes: never the URL. */
export const RECORDING_TICKET_HEADER = 'x-tessera-recording-ticket';
/** How long the node that keeps a recording gets to send it: a stalled node is given up on. */
const RELAY_TIMEOUT_MS = 5 * 60_000;
/** A refusal's message from the other node is shown as it is, up to this length. */
const MAX_MESSAGE_CHARS = 500;
const sessionParams = z.object({ id: uuid });

export interface RecordingRouteDeps {
  readonly gateway: GatewayServices;
  readonly audit: AuditLog;
  /** The sign-in a ticket names must still hold on the node that redeems it. */
  readonly tokens: Pick<TokenService, 'isLive'>;
  readonly access: Pick<AccessDecision, 'require'>;
  /** This node: a recording of a session another node ran is in that node's folder. */
  readonly nodeId: string;
}

/**
 * A session's recording as asciicast v2. Each node keeps the recordings of the sessions it ran;
 * asked for one another node keeps, a node fetches it from that node with a one-time ticket
 * (gateway/watch-tickets.ts, purpose `recording`), as it passes watches on, so behind a load
 * balancer any node answers. The node that keeps the file exports it, checks it against the
 * digest pinned at the session's end and audits the export, naming the node it went through.
 */
export function recordingRoutes(app: App, deps: RecordingRouteDeps): void {
  app.get(
    '/v1/sessions/:id/recording',
    {
      config: { action: 'session.recording' },
      schema: {
        summary: 'The session recording as asciicast v2 (plays in asciinema)',
        params: sessionParams,
        response: responses({ 200: z.string().describe('asciicast v2 text') }),
      },
    },
    async (request, reply) => {
      const found = await deps.gateway.sessions.get(request.params.id);
      if (found.recordingPath === null || found.wrappedKey === null) throw notFound('recording');
      const cast = await exportHere(deps, found, contextOf(request), null).catch(
        (error: unknown) => {
          if (!isElsewhere(error)) throw error;
          return exportElsewhere(deps, request, found, error);
        },
      );
      return sendCast(reply, cast);
    },
  );

  // Another node passes an export on here: the ticket names the user it let in.
  app.get(
    '/v1/sessions/:id/recording-relay',
    {
      config: { action: 'session.recording.relay' },
      schema: { params: sessionParams, hide: true },
    },
    async (request, reply) => {
      const header = request.headers[RECORDING_TICKET_HEADER];
      const ticket = typeof header === 'string' ? header : '';
      // Nothing about the session is told before the ticket is shown, and spent.
      const holder = await deps.gateway.watchTickets.redeem(ticket, request.params.id, 'recording');
      if (holder === null) {
        throw new TesseraError('UNAUTHENTICATED', 'the recording ticket is not valid');
      }
      const { viaNode, source, requestId, ...principal } = holder;
      // Allowed again here, as of now: the sign-in still holds and its role may still export.
      if (!(await deps.tokens.isLive(principal.tokenId))) {
        throw new TesseraError('UNAUTHENTICATED', 'your sign-in ended');
      }
      await deps.access.require(principal, 'session.recording');
      const found = await deps.gateway.sessions.get(request.params.id);
      if (found.recordingPath === null || found.wrappedKey === null) throw notFound('recording');
      const ctx = { actor: { id: principal.userId, name: principal.name }, source, requestId };
      return sendCast(reply, await exportHere(deps, found, ctx, viaNode));
    },
  );
}

/**
 * Exports the recording from this node's folder, checks it against the pinned digest and audits
 * the export, with `via` naming the node that passed the request on. A file this node does not
 * hold is RECORDING_ELSEWHERE when another node ran the session, INTEGRITY_FAILURE when this one
 * did (removed behind Tessera's back).
 */
async function exportHere(
  deps: RecordingRouteDeps,
  found: SessionRecord,
  ctx: RequestContext,
  via: string | null,
): Promise<string> {
  const { recordings } = deps.gateway;
  const exported = await exportAsciicast({
    path: recordings.file(found.recordingPath ?? ''),
    sessionId: found.id,
    dataKey: recordings.dataKey(found.id, found.wrappedKey ?? Buffer.alloc(0)),
  }).catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? missingRecording(found, deps.nodeId)
      : error;
  });
  const pinned = found.recordingSha256;
  const intact = pinned === null || pinned === exported.sha256;
  await deps.audit.record({
    action: 'session.recording.export',
    outcome: intact ? 'success' : 'failure',
    actor: ctx.actor,
    object: { type: 'session', id: found.id, name: `${found.target}/${found.account}` },
    source: ctx.source,
    requestId: ctx.requestId,
    details: {
      sha256: exported.sha256,
      truncated: exported.truncated,
      ...(via === null ? {} : { via }),
    },
  });
  if (!intact) {
    throw new TesseraError('INTEGRITY_FAILURE', 'the recording differs from the one recorded');
  }
  return exported.cast;
}

function missingRecording(found: SessionRecord, nodeId: string): TesseraError {
  if (found.nodeId !== nodeId) {
    return new TesseraError(
      'RECORDING_ELSEWHERE',
      `the recording is kept by node ${found.nodeId}, which ran the session, and that node ` +
        'cannot be reached from here: ask it directly',
      { node: found.nodeId },
    );
  }
  return new TesseraError('INTEGRITY_FAILURE', 'the recording file is missing');
}

function isElsewhere(error: unknown): error is TesseraError {
  return error instanceof TesseraError && error.code === 'RECORDING_ELSEWHERE';
}

/**
 * Fetches the recording from the node that ran the session, for the user this node let in; that
 * node's refusal (the sign-in ended, the role may no longer export, the file is damaged) reaches
 * the user as it was. A node that said no address for itself is left as `elsewhere` says.
 */
async function exportElsewhere(
  deps: RecordingRouteDeps,
  request: FastifyRequest,
  found: SessionRecord,
  elsewhere: TesseraError,
): Promise<string> {
  const apiUrl = await deps.gateway.nodes.apiUrlOf(found.nodeId);
  if (apiUrl === null) throw elsewhere;
  const { userId, tokenId } = principalOf(request);
  const { source, requestId } = contextOf(request);
  const ticket = await deps.gateway.watchTickets.issue(
    found.id,
    { userId, tokenId, source, requestId, viaNode: deps.nodeId },
    'recording',
  );
  const url = `${apiUrl}/v1/sessions/${found.id}/recording-relay`;
  return fetchRecording(url, ticket, found.nodeId, request.log);
}

async function fetchRecording(
  url: string,
  ticket: string,
  node: string,
  log: Pick<Logger, 'warn'>,
): Promise<string> {
  const unreachable = () =>
    new TesseraError(
      'RECORDING_UNAVAILABLE',
      `node ${node}, which keeps the recording, cannot be reached`,
      { node },
    );
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { [RECORDING_TICKET_HEADER]: ticket },
      redirect: 'error',
      signal: AbortSignal.timeout(RELAY_TIMEOUT_MS),
    });
    if (response.ok) return await response.text();
  } catch (error) {
    // The log has the address too (the ticket is in a header, never there).
    log.warn({ node, url, err: error }, 'recording relay: the node cannot be reached');
    throw unreachable();
  }
  const refusal = await response.json().catch(() => null);
  const passed = refusalOf(refusal);
  if (passed !== null) throw passed;
  log.warn({ node, url, status: response.status }, 'recording relay: an unexpected answer');
  throw unreachable();
}

/** The other node's error, with its stable code and message; null for anything else. */
function refusalOf(body: unknown): TesseraError | null {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = error?.code;
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_STATUS, code)) return null;
  const message = typeof error?.message === 'string' ? error.message : code;
  return new TesseraError(code as ErrorCode, message.slice(0, MAX_MESSAGE_CHARS));
}

function sendCast(reply: FastifyReply, cast: string) {
  reply.header('content-type', 'application/x-asciicast; charset=utf-8');
  reply.header('cache-control', 'no-store');
  // The text as recorded, not a JSON string: players read it line by line.
  return reply.serializer((text: unknown) => String(text)).send(cast);
}
