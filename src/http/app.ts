import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { AccessDecision } from '../access/access-decision.ts';
import { ACCESS_RULES, type AccessRule, type Action } from '../access/rules.ts';
import type { RequestContext } from '../audit/event.ts';
import { type Clock, systemClock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { TokenService } from '../identity/tokens.ts';
import { createAnonymousLimits } from './anonymous-limits.ts';
import { authenticateCookie, type CsrfTokens } from './browser-session.ts';
import {
  clientErrorHandler,
  errorHandler,
  frameworkErrorHandler,
  notFoundHandler,
} from './error-boundary.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The action this route performs, as the access decision point knows it. */
    action?: Action;
    /**
     * `safe`: the decision needs the safe of the object, so the service asks the decision
     * point once it has found the object. Everything else is decided before the handler runs.
     */
    scope?: 'global' | 'safe';
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

const BODY_LIMIT_BYTES = 64 * 1024;
/**
 * The largest message a WebSocket route takes from a client: a terminal's keystrokes and pastes
 * (a control message is a few dozen bytes).
 */
const WEBSOCKET_MAX_MESSAGE_BYTES = 64 * 1024;

/**
 * RFC 7235: the scheme is case-insensitive and one or more spaces separate it from the token;
 * the token itself keeps to the characters Tessera issues.
 */
const BEARER = /^bearer +([A-Za-z0-9_\-.~+/=]{1,256})$/i;

export async function createHttpApp(deps: {
  logger: Logger;
  tokens: TokenService;
  access: AccessDecision;
  /** The web console's CSRF tokens, shared with the routes that open its sessions. */
  csrf: CsrfTokens;
  trustProxy?: boolean;
  /** Drives the per-source limits of the anonymous routes; the system clock by default. */
  clock?: Clock;
}): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const limits = createAnonymousLimits();
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    trustProxy: deps.trustProxy ?? false,
    routerOptions: { maxParamLength: 300 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();

  app.addHook('preClose', unusedConnectionsCloser(app.server));
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.decorateRequest('principal', null);
  // An upgrade request answered with a plain response (refused before the WebSocket route's own
  // hooks ran: no login, another site's page) keeps a socket Node has already handed over, and
  // nothing else would close it. An accepted upgrade never gets here: its reply is hijacked.
  app.addHook('onResponse', async (request) => {
    if (request.headers.upgrade !== undefined) request.raw.socket.destroy();
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Tessera API', version: '1' },
      components: {
        securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ token: [] }],
    },
    transform: jsonSchemaTransform,
  });
  // Parses cookies in its own onRequest hook, which runs before the authentication below.
  await app.register(cookie);
  // One WebSocket server for every route that upgrades (terminal, watch, relay): each
  // registration listens for upgrades of its own, and all but the first failed on the socket
  // the first had taken, with a warning in the log for every WebSocket. The watch routes ignore
  // what they are sent.
  await app.register(websocket, { options: { maxPayload: WEBSOCKET_MAX_MESSAGE_BYTES } });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    const { action } = request.routeOptions.config;
    limits.take(action, request.ip, clock.now());
    request.principal = await authenticate(deps, request, isAnonymous(action));
    // The request's own logger (shared with its reply) names the actor from here on.
    if (request.principal !== null) {
      (request.log as Logger).setBindings({ actor: request.principal.name });
    }
  });

  // Default deny: a route that does not name its action answers 403 to everyone. The decision
  // comes before validation, so a caller without rights learns nothing from validation errors.
  app.addHook('preValidation', async (request) => {
    if (request.is404) return;
    const { action, scope } = request.routeOptions.config;
    if (action === undefined || !(action in ACCESS_RULES)) {
      throw new TesseraError('FORBIDDEN', 'this route has no access rule');
    }
    if (scope === 'safe') {
      if (request.principal === null) throw new TesseraError('UNAUTHENTICATED', 'log in first');
      return;
    }
    await deps.access.require(request.principal, action);
  });

  app.get('/v1/openapi.json', { config: { action: 'system.health' }, schema: { hide: true } }, () =>
    app.swagger(),
  );

  return app as unknown as App;
}

/**
 * The caller behind the bearer token, else behind the console's session cookie, or null without
 * either. On a route anyone may call, a bad or expired token makes the caller anonymous instead
 * of failing: a stale TESSERA_TOKEN must not break a health check, a login or an unseal.
 */
async function authenticate(
  deps: { tokens: TokenService; csrf: CsrfTokens },
  request: FastifyRequest,
  anonymousRoute: boolean,
): Promise<Principal | null> {
  const { tokens } = deps;
  const header = request.headers.authorization;
  if (header === undefined) return authenticateCookie(deps, request, anonymousRoute);
  const token = BEARER.exec(header)?.[1];
  if (token === undefined) {
    if (anonymousRoute) return null;
    throw new TesseraError('UNAUTHENTICATED', 'malformed authorization header');
  }
  const principal = await tokens.authenticate(token);
  if (principal === null && !anonymousRoute) {
    throw new TesseraError('UNAUTHENTICATED', 'invalid or expired token');
  }
  return principal;
}

function isAnonymous(action: Action | undefined): boolean {
  if (action === undefined) return false;
  const rule: AccessRule | undefined = ACCESS_RULES[action];
  return rule?.anonymous === true;
}

/**
 * Node counts a connection that has not sent a byte yet as busy, so a graceful close would wait
 * for it until the headers timeout (a minute), though it has nothing in flight; HTTP clients
 * open such spare connections. They are closed with the idle ones; a request already under way
 * is still let finish.
 */
function unusedConnectionsCloser(server: Server): () => Promise<void> {
  const open = new Set<Socket>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return async () => {
    closing = true;
    for (const socket of open) if (socket.bytesRead === 0) socket.destroy();
  };
}

/** Who is asking, from where, under which request id: passed to every service call. */
export function contextOf(request: FastifyRequest): RequestContext {
  const principal = request.principal;
  return {
    actor:
      principal === null
        ? { id: null, name: null }
        : { id: principal.userId, name: principal.name },
    source: request.ip,
    requestId: request.id,
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new TesseraError('UNAUTHENTICATED', 'log in first');
  return request.principal;
}
