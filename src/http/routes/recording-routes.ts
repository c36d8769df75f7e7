import { pipeline, Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AccessDecision } from '../../access/access-decision.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RequestContext } from '../../audit/event.ts';
import { bounded } from '../../bounded-stream.ts';
import { ERROR_STATUS, type ErrorCode, notFound, TesseraError } from '../../errors.ts';
import { fetchAnswered } from '../../fetch-answered.ts';
import type { GatewayServices } from '../../gateway/gateway.ts';
import type { SessionRecord } from '../../gateway/session-store.ts';
import { ticketNode } from '../../gateway/watch-tickets.ts';
import type { TokenService } from '../../identity/tokens.ts';
import { exportAsciicast } from '../../sessions/recording-reader.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { responses, uuid } from '../schemas.ts';

/** The header that carries a recording's ticket between nodes: never the URL. */
export const RECORDING_TICKET_HEADER = 'x-tessera-recording-ticket';
/**
 * How long the node that keeps a recording gets to answer (it decrypts the whole recording
 * first): less than the CLI waits (60 s), so that its user reads this node's
 * RECORDING_UNAVAILABLE rather than a timeout of their own.
 */
const RELAY_ANSWER_MS = 45_000;
/**
 * Once it answered, how long it may then send nothing while this node's reader waits for more:
 * a long download that flows is not cut, nor one whose reader is slow.
 */
const RELAY_STALL_MS = 45_000;
/** A refusal's message from the other node is shown as it is, up to this length. */
const MAX_MESSAGE_CHARS = 500;
const MAX_REFUSAL_BYTES = 64 * 1024;
/**
 * V8 holds a text of at most 2^29 UTF-16 units, so no node exports a longer recording itself;
 * in UTF-8 that is at most three times as many bytes.
 */
const MAX_RELAYED_BYTES = 3 * 2 ** 29;
const CAST_TYPE = 'application/x-asciicast';
/** Names the session whose recording an answer carries. */
const SESSION_HEADER = 'x-tessera-recording-session';
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
        (error: unknown): Promise<Readable> => {
          if (!isElsewhere(error)) throw error;
          return exportElsewhere(deps, request, found, error);
        },
      );
      return sendCast(reply, found.id, cast);
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
      const id = request.params.id;
      const header = request.headers[RECORDING_TICKET_HEADER];
      const ticket = typeof header === 'string' ? header : '';
      const forNode = ticketNode(ticket, 'recording');
      const { watchTickets } = deps.gateway;
      // Nothing about the session is told before the ticket is shown, and spent.
      if (forNode !== null && forNode !== deps.nodeId) {
        // Left unspent: the relaying node took another node's address for this one's.
        if (await watchTickets.valid(ticket, id, { purpose: 'recording', node: forNode })) {
          throw new TesseraError(
            'RECORDING_UNAVAILABLE',
            `the address node ${forNode} gave leads to another node: check its --node-url`,
          );
        }
      }
      const holder = await watchTickets.redeem(ticket, id, {
        purpose: 'recording',
        node: deps.nodeId,
      });
      if (holder === null) {
        throw new TesseraError('UNAUTHENTICATED', 'the recording ticket is not valid', {
          ticket: 'refused',
        });
      }
      const { viaNode, source, requestId, ...principal } = holder;
      // Allowed again here, as of now: the sign-in still holds and its role may still export.
      if (!(await deps.tokens.isLive(principal.tokenId))) {
        throw new TesseraError('UNAUTHENTICATED', 'your sign-in ended');
      }
      await deps.access.require(principal, 'session.recording');
      const found = await deps.gateway.sessions.get(id);
      if (found.recordingPath === null || found.wrappedKey === null) throw notFound('recording');
      const ctx = { actor: { id: principal.userId, name: principal.name }, source, requestId };
      return sendCast(reply, found.id, await exportHere(deps, found, ctx, viaNode));
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
 * the user as it was. A node that said no address for itself is left as `elsewhere` says. The
 * text is passed on as it comes, never held whole: only an answer that says it is this session's
 * recording, up to the size any node exports itself.
 */
async function exportElsewhere(
  deps: RecordingRouteDeps,
  request: FastifyRequest,
  found: SessionRecord,
  elsewhere: TesseraError,
): Promise<Readable> {
  const apiUrl = await deps.gateway.nodes.apiUrlOf(found.nodeId);
  if (apiUrl === null || !/^https?:\/\//.test(apiUrl)) throw elsewhere;
  const { userId, tokenId } = principalOf(request);
  const { source, requestId } = contextOf(request);
  const use = { purpose: 'recording', node: found.nodeId } as const;
  const { watchTickets } = deps.gateway;
  const ticket = await watchTickets.issue(
    found.id,
    { userId, tokenId, source, requestId, viaNode: deps.nodeId },
    use,
  );
  const url = `${apiUrl}/v1/sessions/${found.id}/recording-relay`;
  // A ticket that went nowhere, or to something that is not that node, is spent here.
  const spend = () => watchTickets.spend(ticket).catch(() => false);
  const fetched = await fetchRecording(url, ticket, found, request.log).catch(
    async (error: unknown) => {
      await spend();
      throw error;
    },
  );
  // That node spent the ticket, through the store both share, before it answered: an answer
  // whose ticket still holds came from something else at its address.
  if (await spend()) {
    fetched.destroy();
    request.log.warn({ node: found.nodeId, url }, 'recording relay: not answered by that node');
    throw unreachableError(found.nodeId);
  }
  return pipeline(fetched, bounded(MAX_RELAYED_BYTES, RELAY_STALL_MS), (error) => {
    if (error) request.log.warn({ node: found.nodeId, url, err: error }, 'recording relay cut');
  });
}

function unreachableError(node: string): TesseraError {
  return new TesseraError(
    'RECORDING_UNAVAILABLE',
    `node ${node}, which keeps the recording, cannot be reached`,
    { node },
  );
}

async function fetchRecording(
  url: string,
  ticket: string,
  found: SessionRecord,
  log: Pick<Logger, 'warn'>,
): Promise<Readable> {
  const node = found.nodeId;
  const unreachable = () => unreachableError(node);
  let response: Response;
  try {
    const headers = { [RECORDING_TICKET_HEADER]: ticket };
    response = await fetchAnswered(url, { headers, redirect: 'error' }, RELAY_ANSWER_MS);
  } catch (error) {
    // The log has the address too (the ticket is in a header, never there).
    log.warn({ node, url, err: error }, 'recording relay: the node cannot be reached');
    throw unreachable();
  }
  const isCast = response.headers.get('content-type')?.startsWith(CAST_TYPE) === true;
  const body = response.body;
  if (response.ok && isCast && response.headers.get(SESSION_HEADER) === found.id && body) {
    return Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]);
  }
  const passed = response.ok ? null : refusalOf(await cappedJson(response), node);
  if (passed !== null) throw passed;
  await response.body?.cancel().catch(() => undefined);
  log.warn({ node, url, status: response.status }, 'recording relay: an unexpected answer');
  throw unreachable();
}

/**
 * The body of a refusal, read up to MAX_REFUSAL_BYTES and for at most RELAY_STALL_MS; null past
 * either, or when it is not JSON.
 */
async function cappedJson(response: Response): Promise<unknown> {
  const reader = response.body?.getReader();
  if (reader === undefined) return null;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const late = delay(RELAY_STALL_MS, 'late' as const, { ref: false });
  for (;;) {
    const read = await Promise.race([reader.read().catch(() => 'failed' as const), late]);
    if (read === 'late' || read === 'failed') {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    const { done, value } = read;
    if (done) break;
    size += value.length;
    if (size > MAX_REFUSAL_BYTES) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null;
  }
}

/**
 * The other node's error, with its stable code and its message as plain text (no terminal
 * controls reach the user's screen), saying which node said it; null for anything else.
 */
function refusalOf(body: unknown, node: string): TesseraError | null {
  type Refusal = { code?: unknown; message?: unknown; details?: { ticket?: unknown } };
  const error = (body as { error?: Refusal } | null)?.error;
  const code = error?.code;
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_STATUS, code)) return null;
  // The user's own sign-in holds here: the other node refused this node's ticket, not them.
  if (error?.details?.ticket === 'refused') {
    return new TesseraError(
      'RECORDING_UNAVAILABLE',
      `node ${node} did not take this node's ticket: are the nodes' clocks over 30 s apart?`,
      { node },
    );
  }
  const message = typeof error?.message === 'string' ? error.message : code;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the aim
  const plain = message.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, MAX_MESSAGE_CHARS);
  return new TesseraError(code as ErrorCode, `node ${node}: ${plain}`, { node });
}

function sendCast(reply: FastifyReply, sessionId: string, cast: string | Readable) {
  reply.header('content-type', `${CAST_TYPE}; charset=utf-8`);
  reply.header('cache-control', 'no-store');
  // Says whose recording this is, for a node passing it on.
  reply.header(SESSION_HEADER, sessionId);
  if (typeof cast !== 'string') return reply.send(cast);
  // The text as recorded, not a JSON string: players read it line by line.
  return reply.serializer((text: unknown) => String(text)).send(cast);
}
